/**
 * End-to-end tests of `client.ts` reconnecting: real server and client
 * processes; the server is killed (SIGKILL) and started again on the same
 * port and data directory while two pipe clients talk, or one on a
 * terminal types, or a guest is in many rooms, one with a key.
 */

import assert from "node:assert/strict";
import { Accounts } from "../../lib/server/access/accounts.ts";
import { openStore } from "../../lib/server/storage/store.ts";
import {
  loopbackArgs,
  PipeClient,
  serverPermissions,
  ServerProcess,
  TerminalClient,
  testCertificates,
  TestClient,
  withTempDir,
  writeTestCertificates,
} from "../_helpers.ts";
import { Redis } from "../_redis.ts";

/** The chat lines a pipe client printed (`<alias> text`), in order. */
const chatLines = (client: PipeClient) =>
  client.output.lines.filter((line) => line.startsWith("<"));

Deno.test("client.ts in pipe mode reconnects by itself after the server is killed and restarted, and prints every line once", async () => {
  await withTempDir(async (dir) => {
    const permissions = serverPermissions(dir);
    const first = await ServerProcess.start(permissions, loopbackArgs(dir));
    const port = first.port;
    const member = (alias: string) =>
      new PipeClient([
        `--allow-net=127.0.0.1:${port}`,
        `--allow-read=${dir}/ca.pem`,
      ], [
        "--server",
        `127.0.0.1:${port}`,
        "--ca",
        `${dir}/ca.pem`,
        "--alias",
        alias,
      ]);
    await using amy = member("amy");
    await using bob = member("bob");
    await bob.output.waitFor(/^-!- Welcome, bob!/);
    await amy.output.waitFor(/^-!- Welcome, amy!/);
    for (let i = 1; i <= 5; i++) {
      await amy.send(`amy before ${i}`);
      await bob.send(`bob before ${i}`);
    }
    await amy.output.waitFor(/^<bob> bob before 5$/);
    await bob.output.waitFor(/^<amy> amy before 5$/);
    await first[Symbol.asyncDispose](); // SIGKILL
    // Typed while the server is down: sent once after reconnecting.
    await amy.send("amy while down");
    await using second = await ServerProcess.start(
      permissions,
      loopbackArgs(dir, "--port", String(port)),
    );
    try {
      await amy.output.waitFor(/^-!- Welcome, amy!/, {
        count: 2,
        timeoutMs: 10_000,
      });
      await bob.output.waitFor(/^-!- Welcome, bob!/, {
        count: 2,
        timeoutMs: 10_000,
      });
      await amy.output.waitFor(/^<amy> amy while down$/);
      for (let i = 1; i <= 5; i++) {
        await amy.send(`amy after ${i}`);
        await bob.send(`bob after ${i}`);
      }
      await amy.output.waitFor(/^<bob> bob after 5$/);
      await bob.output.waitFor(/^<amy> amy after 5$/);
      assert.equal(await amy.finish(), 0);
      assert.equal(await bob.finish(), 0);
    } catch (e) {
      throw second.annotate(e);
    }
    for (const client of [amy, bob]) {
      const said = chatLines(client);
      assert.equal(new Set(said).size, said.length, said.join("\n"));
      for (const who of ["amy", "bob"]) {
        for (const when of ["before", "after"]) {
          for (let i = 1; i <= 5; i++) {
            assert.ok(said.includes(`<${who}> ${who} ${when} ${i}`));
          }
        }
      }
    }
    // With a server that resumes (it says RESUMED), nothing said while one
    // was away is missed either: both print the same lines in one order.
    const resumed = [amy, bob].every((client) =>
      client.output.lines.some((line) => line.startsWith("-!- Resumed:"))
    );
    if (resumed) assert.deepEqual(chatLines(amy), chatLines(bob));
  });
});

/** Logs opal into its account with `rooms`, in its rooms (#lobby current). */
async function opal(port: number, ca: string): Promise<TestClient> {
  const client = await TestClient.connect(port, undefined, ca);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  await client.send("opal");
  await client.expect(/^PASSWORD /);
  await client.send("/pass opal-pass-1");
  await client.expect(/^WELCOME opal /);
  await client.expect(/^CURRENT #lobby$/);
  return client;
}

Deno.test("client.ts in pipe mode, a guest in many rooms, joins them again (one with its key) after the server is killed and restarted, paced under tight flood limits", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    {
      using store = openStore(`${dir}/data`);
      await new Accounts(store.db).add("opal", "opal-pass-1");
    }
    const permissions = serverPermissions(dir);
    // Guests create rooms; after the restart, limits that joining nine
    // rooms again at once would exceed: the client paces its rejoins.
    const guests = ["--room-create", "any", "--room-creations", "50"];
    const tight = ["--flood-rate", "10", "--flood-burst", "4"];
    const first = await ServerProcess.start(
      permissions,
      loopbackArgs(dir, ...guests),
    );
    const port = first.port;
    const others = ["#r1", "#r2", "#r3", "#r4", "#r5", "#r6", "#r7"];
    {
      // A registered room with a key: both outlive the restart.
      using op = await opal(port, ca.cert);
      for (const line of ["/join #ops", "#ops /register", "#ops /key s3cret"]) {
        await op.send(line);
      }
      await op.expect(/^#ops MOD key /);
    }
    await using amy = new PipeClient([
      `--allow-net=127.0.0.1:${port}`,
      `--allow-read=${dir}/ca.pem`,
    ], [
      "--server",
      `127.0.0.1:${port}`,
      "--ca",
      `${dir}/ca.pem`,
      "--alias",
      "amy",
    ]);
    await amy.output.waitFor(/^-!- Welcome, amy!/);
    for (const room of others) await amy.send(`/join ${room}`);
    await amy.send("/join #ops s3cret");
    await amy.send("in #ops before");
    await amy.output.waitFor(/^#ops <amy> in #ops before$/);
    await first[Symbol.asyncDispose](); // SIGKILL
    await using second = await ServerProcess.start(
      permissions,
      loopbackArgs(dir, "--port", String(port), ...guests, ...tight),
    );
    try {
      await amy.output.waitFor(/^-!- Welcome, amy!/, {
        count: 2,
        timeoutMs: 10_000,
      });
      // Every room joined again, in order, each notice labelled (the first
      // one's was not: its JOIN was taken for a line of its catch-up).
      for (const room of [...others, "#ops"]) {
        await amy.output.waitFor(new RegExp(`^${room} -!- amy joined `), {
          count: 2,
        });
      }
      // The default room's, as on the first connection: the welcome's.
      assert.deepEqual(
        amy.output.lines.filter((line) => /^-!- amy joined/.test(line)),
        [],
      );
      using op = await opal(port, ca.cert); // in #ops again (its account's)
      await amy.send("in #ops after");
      await op.expect(/^#ops MSG amy in #ops after$/);
      assert.equal(await amy.finish(), 0);
      assert.deepEqual(
        second.output.lines.filter((line) => /flood/.test(line)),
        [],
      );
    } catch (e) {
      throw second.annotate(new Error(`${e}\n--- amy ---\n${amy.output}`));
    }
    assert.doesNotMatch(amy.output.toString(), /room-key|key/i);
    assert.doesNotMatch(amy.output.toString(), /flood|Slow down/i);
  });
});

Deno.test("client.ts on a terminal shows reconnecting… while the server is away and keeps the half-typed line", async () => {
  await withTempDir(async (dir) => {
    const permissions = serverPermissions(dir);
    const first = await ServerProcess.start(permissions, loopbackArgs(dir));
    const port = first.port;
    await using term = new TerminalClient([
      `--allow-net=127.0.0.1:${port}`,
      `--allow-read=${dir}/ca.pem`,
    ], [
      "--server",
      `127.0.0.1:${port}`,
      "--ca",
      `${dir}/ca.pem`,
      "--alias",
      "amy",
    ]);
    let at = await term.waitFor(/Welcome, amy!/);
    await term.type("half typ");
    await first[Symbol.asyncDispose](); // SIGKILL
    at = await term.waitFor(/amy #lobby \(reconnecting…\)> half typ/, at);
    await using second = await ServerProcess.start(
      permissions,
      loopbackArgs(dir, "--port", String(port)),
    );
    try {
      at = await term.waitFor(/Welcome, amy!/, at, 10_000);
      await term.type("ed\r");
      await term.waitFor(/<amy> half typed/, at);
      await term.type("\x04"); // Ctrl-D
      assert.equal(await term.exited(), 0);
    } catch (e) {
      throw second.annotate(e);
    }
  });
});

Deno.test("client.ts with a --server list moves to the other server of a cluster when its own is killed", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    await using redis = new Redis(dir);
    await redis.start();
    const permissions = [
      ...serverPermissions(dir),
      "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
    ];
    const cluster = (data: string) =>
      ServerProcess.start(
        permissions,
        loopbackArgs(dir, "--redis", redis.url(), "--data-dir", data),
      );
    const one = await cluster(`${dir}/one`);
    await using two = await cluster(`${dir}/two`);
    const client = (alias: string, ...ports: number[]) =>
      new PipeClient([
        `--allow-net=${ports.map((port) => `127.0.0.1:${port}`).join(",")}`,
        `--allow-read=${dir}/ca.pem`,
      ], [
        "--server",
        ports.map((port) => `127.0.0.1:${port}`).join(","),
        "--ca",
        `${dir}/ca.pem`,
        "--alias",
        alias,
      ]);
    await using carl = client("carl", one.port, two.port);
    await using amy = client("amy", two.port);
    await carl.output.waitFor(/^-!- Welcome, carl!/);
    await amy.output.waitFor(/^-!- Welcome, amy!/);
    await amy.send("before");
    await carl.output.waitFor(/^<amy> before$/);
    await one[Symbol.asyncDispose](); // SIGKILL
    await amy.send("while carl moves");
    try {
      // Its alias is free once the cluster counts the server lost (~6 s).
      await carl.output.waitFor(/^-!- Welcome, carl!/, {
        count: 2,
        timeoutMs: 20_000,
      });
      await amy.send("after");
      await carl.output.waitFor(/^<amy> after$/);
      await carl.send("carl is back");
      await amy.output.waitFor(/^<carl> carl is back$/);
      assert.equal(await carl.finish(), 0);
      assert.equal(await amy.finish(), 0);
    } catch (e) {
      throw two.annotate(new Error(`${e}\n--- carl ---\n${carl.output}`));
    }
    const said = chatLines(carl);
    assert.equal(new Set(said).size, said.length, said.join("\n"));
    if (carl.output.lines.some((line) => line.startsWith("-!- Resumed:"))) {
      assert.ok(said.includes("<amy> while carl moves"), said.join("\n"));
    }
  });
});
