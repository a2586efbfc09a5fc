/**
 * End-to-end tests of `client.ts` with rooms: real client processes (pipe
 * and pseudo-terminal) against a real TLS server that offers rooms, and
 * against a cluster's server (`--redis`), which offers them too.
 */

import assert from "node:assert/strict";
import {
  loopbackArgs,
  PipeClient,
  runClient,
  ServerProcess,
  startServer,
  TerminalClient,
  TestClient,
  withClientFlags,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";
import { Redis } from "../_redis.ts";

Deno.test("client.ts in different rooms: two members do not see each other's lines, a third in both sees both, labelled", async () => {
  await using s = await startServer("deno");
  await withClientFlags(s.port, async (permissions, flags) => {
    const member = (alias: string, ...rooms: string[]) =>
      new PipeClient(permissions, [
        ...flags,
        "--alias",
        alias,
        ...rooms.flatMap((room) => ["--room", room]),
      ]);
    await using carol = member("carol", "#ops", "#dev");
    await carol.output.waitFor(/^#dev -!- carol joined \(1 online\)$/);
    await using alice = member("alice", "#ops");
    await alice.output.waitFor(/^#ops -!- alice joined \(2 online\)$/);
    await using bob = member("bob", "#dev");
    await bob.output.waitFor(/^#dev -!- bob joined \(2 online\)$/);
    await alice.send("ops only");
    await bob.send("dev only");
    await carol.output.waitFor(/^#ops <alice> ops only$/);
    await carol.output.waitFor(/^#dev <bob> dev only$/);
    // Then each says something in the lobby, where all three are: what
    // came before it (one order) has come.
    await alice.send("/join #lobby");
    await alice.send("alice in the lobby");
    await bob.send("/join #lobby");
    await bob.send("bob in the lobby");
    await alice.output.waitFor(/^#lobby <bob> bob in the lobby$/);
    await bob.output.waitFor(/^#lobby <alice> alice in the lobby$/);
    assert.equal(await alice.finish(), 0);
    assert.equal(await bob.finish(), 0);
    assert.equal(await carol.finish(), 0);
    const said = (client: PipeClient) => client.output.lines.join("\n");
    assert.doesNotMatch(said(alice), /dev only/);
    assert.doesNotMatch(said(bob), /ops only/);
  });
});

Deno.test("client.ts: a piped line after /join is said in that room only", async () => {
  await using s = await startServer("node");
  // A member without rooms: the default room only, today's lines.
  using amy = await TestClient.join(s.port, "amy");
  await withClientFlags(s.port, async (permissions, flags) => {
    await using ops = new PipeClient(permissions, [
      ...flags,
      "--alias",
      "ops",
      "--room",
      "#OPS",
    ]);
    await ops.output.waitFor(/^#ops -!- ops joined \(1 online\)$/);
    const bot = await runClient(
      permissions,
      [...flags, "--alias", "bot"],
      "/join #ops\ndeploy done\n",
    );
    assert.equal(bot.code, 0, bot.stdout + bot.stderr);
    assert.deepEqual(bot.stdout.trim().split("\n"), [
      "-!- Connected to tlschat (tlschat/1)",
      "-!- Welcome, bot! 3 online. Type /help for commands",
      "#ops -!- bot joined (2 online)",
      "#ops <bot> deploy done",
      "-!- Disconnected: Goodbye",
    ]);
    await ops.output.waitFor(/^#ops <bot> deploy done$/);
    assert.equal(await ops.finish(), 0);
  });
  assert.equal(await amy.expect(/^LEAVE bot /), "LEAVE bot 2 quit");
  assert.ok(
    !amy.received.some((line) => line.includes("deploy done")),
    amy.received.join("\n"),
  );
});

Deno.test("client.ts: a piped line after /part goes to the room the server makes current", async () => {
  await using s = await startServer("deno");
  using amy = await TestClient.join(s.port, "amy");
  await withClientFlags(s.port, async (permissions, flags) => {
    const bot = await runClient(
      permissions,
      [...flags, "--alias", "bot"],
      "/join #ops\nin ops\n/part bye\nback in the lobby\n",
    );
    assert.equal(bot.code, 0, bot.stdout + bot.stderr);
    assert.deepEqual(bot.stdout.trim().split("\n"), [
      "-!- Connected to tlschat (tlschat/1)",
      "-!- Welcome, bot! 2 online. Type /help for commands",
      "#ops -!- bot joined (1 online)",
      "#ops <bot> in ops",
      "#ops -!- bot left (parted: bye, 0 online)",
      "<bot> back in the lobby",
      "-!- Disconnected: Goodbye",
    ]);
  });
  assert.equal(await amy.expect(/^MSG /), "MSG bot back in the lobby");
  assert.ok(!amy.received.includes("MSG bot in ops"), amy.received.join("\n"));
});

Deno.test("client.ts on a terminal: the prompt shows the room and the unread count of another", async () => {
  await using s = await startServer("deno");
  using amy = await TestClient.join(s.port, "amy");
  await withClientFlags(s.port, async (permissions, flags) => {
    await using term = new TerminalClient(permissions, [
      ...flags,
      "--alias",
      "tom",
      "--room",
      "#ops",
    ]);
    let at = await term.waitFor(/#ops -!- tom joined \(1 online\)\n/);
    at = await term.waitFor(/tom #ops> $/, at);
    await amy.send("one");
    await amy.send("/me two");
    at = await term.waitFor(/#lobby \* amy two\n/, at);
    at = await term.waitFor(/tom #ops \[#lobby 2\]> $/, at);
    await term.type("in ops\r");
    at = await term.waitFor(/#ops <tom> in ops\n/, at);
    await term.type("/join #lobby\r");
    at = await term.waitFor(/tom #lobby> $/, at);
    await term.type("in the lobby\r");
    await amy.expect(/^MSG tom in the lobby$/);
    await term.type("/quit\r");
    assert.equal(await term.exited(), 0);
  });
  assert.ok(!amy.received.includes("MSG tom in ops"), amy.received.join("\n"));
});

Deno.test("client.ts against a cluster's server: rooms as on one server, a piped line after /join said in that room only", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    await using redis = new Redis(dir);
    await redis.start();
    await using server = await ServerProcess.start(
      [
        "--allow-net=127.0.0.1",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
      ],
      loopbackArgs(dir, "--redis", redis.url(), "--flood-rate", "0"),
    );
    // A member without rooms: the default room only, today's lines.
    using amy = await TestClient.join(server.port, "amy");
    await withClientFlags(server.port, async (permissions, flags) => {
      const bot = await runClient(
        permissions,
        [...flags, "--alias", "bot"],
        "/join #ops\ndeploy done\n",
      );
      assert.equal(bot.code, 0, bot.stdout + bot.stderr);
      assert.equal(bot.stderr, "");
      assert.deepEqual(bot.stdout.trim().split("\n"), [
        "-!- Connected to tlschat (tlschat/1)",
        "-!- Welcome, bot! 2 online. Type /help for commands",
        "#ops -!- bot joined (1 online)",
        "#ops <bot> deploy done",
        "-!- Disconnected: Goodbye",
      ]);
    });
    await amy.expect(/^JOIN bot /);
    assert.equal(await amy.expect(/^LEAVE bot /), "LEAVE bot 1 quit");
    assert.ok(
      !amy.received.some((line) => line.includes("deploy done")),
      amy.received.join("\n"),
    );
  });
});

Deno.test("client.ts logged into an account sends no read mark for a room it left, so /part shows no error", async () => {
  await using s = await startServer("node");
  await s.server.gate.accounts.add("amy", "amy's own password");
  // Another device of the account (`seq`), told of each mark that grows.
  using laptop = await TestClient.connect(s.port);
  await laptop.expect(/^HELLO /);
  await laptop.send("/cap seq");
  await laptop.send("amy");
  await laptop.send("/pass amy's own password");
  await laptop.expect(/^WELCOME amy /);
  await laptop.send("/nick amy_laptop");
  await laptop.expect(/ NICK amy amy_laptop /);
  await withClientFlags(s.port, async ([net, read], flags) => {
    const passwordFile = `${flags.at(-1)}.password`; // beside the CA file
    await Deno.writeTextFile(passwordFile, "amy's own password\n");
    await using amy = new PipeClient(
      [net!, `${read},${passwordFile}`],
      [...flags, "--alias", "amy", "--password-file", passwordFile],
    );
    await amy.output.waitFor(/^-!- Welcome, amy! /);
    await amy.send("/join #ops");
    await amy.send("in ops");
    await amy.send("/part #ops");
    await amy.output.waitFor(/^#ops -!- amy left \(parted, 0 online\)$/);
    // Once a mark said after the /part reached the laptop, every /read
    // sent before it was answered; a line echoed after that came after.
    await laptop.send("seen after the part");
    const said = await laptop.expect(/MSG amy_laptop seen after the part$/);
    const seq = Number(/@seq=(\d+)/.exec(said)![1]);
    while (
      Number(/READ (\d+)$/.exec(await laptop.expect(/READ \d+$/))![1]) < seq
    );
    await amy.send("the last line");
    await amy.output.waitFor(/^<amy> the last line$/);
    assert.equal(await amy.finish(), 0);
    assert.doesNotMatch(amy.output.lines.join("\n"), /^! /m);
  });
});
