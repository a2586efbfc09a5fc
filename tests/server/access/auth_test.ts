/**
 * End-to-end tests of who may join, over real TLS on loopback: the room
 * password, accounts, look-alikes, `--accounts-only`, brute-force limits,
 * client certificates (mutual TLS, node engine) and moderation.
 */

import assert from "node:assert/strict";
import {
  generateCa,
  issueClientCertificate,
} from "../../../lib/cert_authority.ts";
import { parseAddressRange } from "../../../lib/address.ts";
import {
  ENGINES,
  runCommand,
  startServer,
  testCertificates,
  TestClient,
  withTempDir,
} from "../../_helpers.ts";

/**
 * Sends `lines` to a test server over `ncat --ssl` from the loopback
 * address `from` (127.0.0.x: another address to the server); returns what
 * the server sent.
 */
async function ncatFrom(
  port: number,
  caFile: string,
  from: string,
  lines: string[],
): Promise<string[]> {
  const { out } = await runCommand(
    "ncat",
    ["--ssl", "--ssl-verify", "--ssl-trustfile", caFile, "-4", "-s", from]
      .concat(["localhost", String(port)]),
    lines.map((line) => `${line}\n`).join(""),
  );
  return out.split("\n");
}

for (const engine of ENGINES) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test(`[${engine}] ${name}`, fn);

  test("a room password lets in those who give it, and never reaches the log", async () => {
    await using s = await startServer(engine, [], {
      roomPassword: "correct horse battery",
    });
    using amy = await TestClient.join(s.port, "amy", {
      password: "correct horse battery",
    });
    using mallory = await TestClient.connect(s.port);
    assert.match(
      await mallory.readLine() ?? "",
      /auth=room,caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]+ /,
    );
    await mallory.send("mallory");
    assert.match(await mallory.readLine() ?? "", /^PASSWORD room /);
    await mallory.send("/pass wrong guess one");
    assert.equal(
      await mallory.readLine(),
      "ERR password-wrong Wrong room password: one more try",
    );
    assert.match(await mallory.readLine() ?? "", /^PASSWORD room /);
    await mallory.send("/pass wrong guess two");
    assert.deepEqual(await mallory.readToEnd(), [
      "BYE auth-failed Wrong room password",
    ]);
    await s.logs.waitFor(/WARN auth-failed addr=127\.0\.0\.1:\d+ kind=room/, {
      count: 2,
    });
    await amy.send("still here");
    assert.equal(await amy.expect(/^MSG /), "MSG amy still here");
    assert.doesNotMatch(s.logs.toString(), /correct horse|wrong guess/);
  });

  test("accounts: login, alias protection, look-alikes and /nick", async () => {
    await using s = await startServer(engine);
    const { accounts } = s.server.gate;
    await accounts.add("alice", "alice's password");
    using alice = await TestClient.join(s.port, "alice", {
      password: "alice's password",
    });
    await s.logs.waitFor(/INFO login alias=alice addr=/);
    // Away or not, nobody takes a registered alias without its password.
    using eve = await TestClient.connect(s.port);
    await eve.expect(/^HELLO /);
    await eve.send("Alice");
    assert.match(
      await eve.readLine() ?? "",
      /^PASSWORD account "Alice" is a registered alias/,
    );
    await eve.send("/pass guess");
    assert.equal(
      await eve.readLine(),
      "ERR login-failed Wrong alias or password",
    );
    for (const lookalike of ["AIice", "alice_", "_alice", "al-ice."]) {
      await eve.send(lookalike);
      assert.equal(
        await eve.readLine(),
        `ERR alias-taken Alias "${lookalike}" looks like "alice", a registered alias`,
      );
    }
    await eve.send("eve");
    assert.match(await eve.readLine() ?? "", /^WELCOME eve 2 /);
    await eve.send("/nick alice");
    assert.match(await eve.readLine() ?? "", /^PASSWORD account "alice"/);
    await eve.send("/pass another guess");
    assert.equal(
      await eve.readLine(),
      "ERR login-failed Wrong alias or password",
    );
    await s.logs.waitFor(/WARN login-failed alias=alice addr=127\.0\.0\.1:\d+/);
    assert.doesNotMatch(s.logs.toString(), /guess|alice's password/);
    await alice.send("/who");
    assert.equal(await alice.expect(/^WHO /), "WHO 2 alice eve");
  });

  test("--accounts-only turns guests away", async () => {
    await using s = await startServer(engine, ["--accounts-only"]);
    await s.server.gate.accounts.add("member", "member password");
    using guest = await TestClient.connect(s.port);
    assert.match(
      await guest.readLine() ?? "",
      /auth=accounts,caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]+ /,
    );
    await guest.send("guest");
    assert.match(await guest.readLine() ?? "", /^PASSWORD account /);
    await guest.send("/pass anything");
    assert.equal(
      await guest.readLine(),
      "ERR login-failed Wrong alias or password",
    );
    using member = await TestClient.join(s.port, "member", {
      password: "member password",
    });
    await member.send("in");
    assert.equal(await member.expect(/^MSG /), "MSG member in");
  });

  test("failed logins are limited per address", async () => {
    await using s = await startServer(engine, ["--login-attempts", "2"]);
    await s.server.gate.accounts.add("bob", "bob's password");
    using guesser = await TestClient.connect(s.port);
    await guesser.expect(/^HELLO /);
    for (const guess of ["one", "two"]) {
      await guesser.send("bob");
      await guesser.expect(/^PASSWORD /);
      await guesser.send(`/pass ${guess}`);
      assert.match(await guesser.readLine() ?? "", /^ERR login-failed /);
    }
    await guesser.send("bob");
    await guesser.expect(/^PASSWORD /);
    await guesser.send("/pass bob's password"); // right, but too late
    // Said, and the connection closed: nothing else could be tried on it
    // before its alias deadline.
    const rest = await guesser.readToEnd();
    assert.equal(rest.length, 1, rest.join("\n"));
    assert.match(
      rest[0]!,
      /^BYE too-many-attempts Too many failed logins: try again in \d+ s$/,
    );
  });

  test("room password guesses from six addresses are slowed server-wide, and a new guest still gets in", async () => {
    await using s = await startServer(engine, [], {
      roomPassword: "correct horse battery",
    });
    await withTempDir(async (dir) => {
      const caFile = `${dir}/ca.pem`;
      await Deno.writeTextFile(caFile, (await testCertificates()).ca.cert);
      // Six addresses, three connections each, two guesses a connection:
      // 30 checked guesses before, when only addresses were counted.
      const answers = await Promise.all(
        [2, 3, 4, 5, 6, 7].map(async (i) => {
          const lines: string[] = [];
          for (let connection = 0; connection < 3; connection++) {
            lines.push(
              ...await ncatFrom(s.port, caFile, `127.0.0.${i}`, [
                "/pass guess one",
                "/pass guess two",
              ]),
            );
          }
          return lines;
        }),
      );
      // Checked: answered wrong (held back: BYE too-many-attempts ...).
      const checked = answers.flat().filter((line) =>
        /^(ERR password-wrong|BYE auth-failed Wrong room password$)/.test(line)
      ).length;
      // 20 (--account-attempts) fill the server-wide count; then only an
      // address that has not failed yet has a try (at most two of them).
      assert.ok(checked >= 20 && checked <= 22, `${checked} checked`);
      const guest = await ncatFrom(s.port, caFile, "127.0.0.8", [
        "/pass correct horse battery",
      ]);
      assert.ok(
        guest.includes("INFO Room password accepted: send your alias"),
        guest.join("\n"),
      );
    });
  });

  test("a ban placed after HELLO refuses /pass: right or wrong, the same BYE", async () => {
    await using s = await startServer(engine);
    const { accounts, moderation } = s.server.gate;
    await accounts.add("bob", "bob's password");
    using first = await TestClient.connect(s.port);
    using second = await TestClient.connect(s.port);
    for (const client of [first, second]) {
      await client.expect(/^HELLO /);
      await client.send("bob");
      await client.expect(/^PASSWORD account /);
    }
    moderation.add("ban", { range: parseAddressRange("127.0.0.1")! }, {
      durationMs: null,
      by: "admin",
      reason: "",
    });
    await first.send("/pass bob's password");
    await second.send("/pass wrong");
    for (const client of [first, second]) {
      assert.deepEqual(await client.readToEnd(), [
        "BYE banned Banned by admin until lifted",
      ]);
    }
    assert.doesNotMatch(s.logs.toString(), /login-failed|INFO login /);
  });

  test("a banned account gets BYE banned for any password, and nothing is counted", async () => {
    await using s = await startServer(engine, ["--login-attempts", "1"]);
    const { accounts, moderation } = s.server.gate;
    await accounts.add("bob", "bob's password");
    moderation.add("ban", { account: "bob" }, {
      durationMs: null,
      by: "admin",
      reason: "",
    });
    for (const password of ["wrong", "bob's password", "wrong again"]) {
      using client = await TestClient.connect(s.port);
      await client.expect(/^HELLO /);
      await client.send("bob");
      await client.expect(/^PASSWORD account /);
      await client.send(`/pass ${password}`);
      assert.deepEqual(await client.readToEnd(), [
        "BYE banned Banned by admin until lifted",
      ]);
    }
    // Lifted: the right password logs in at once (no failure was counted).
    moderation.remove("ban", "bob");
    using bob = await TestClient.join(s.port, "bob", {
      password: "bob's password",
    });
    await bob.send("back");
    assert.equal(await bob.expect(/^MSG /), "MSG bob back");
  });

  test("operators kick, ban, mute and set the topic; others may not", async () => {
    await using s = await startServer(engine);
    const { accounts } = s.server.gate;
    await accounts.add("op", "op password");
    accounts.setOperator("op", true);
    using op = await TestClient.join(s.port, "op", { password: "op password" });
    using guest = await TestClient.join(s.port, "guest");
    await op.expect(/^JOIN guest/);
    await guest.send("/kick op");
    assert.equal(
      await guest.readLine(),
      "ERR not-operator /kick is for operators only",
    );
    await op.send("/topic Be kind");
    assert.equal(await guest.expect(/^TOPIC /), "TOPIC op Be kind");
    await op.send("/who");
    assert.equal(await op.expect(/^WHO /), "WHO 2 guest @op");
    await op.send("/mute guest");
    assert.match(
      await guest.expect(/^MOD /),
      /^MOD mute guest op by op until lifted$/,
    );
    await guest.send("hey");
    assert.match(
      await guest.readLine() ?? "",
      /^ERR muted You are muted by op until lifted/,
    );
    // The guest's address (127.0.0.1) is the operator's too: not muted.
    await op.send("still heard");
    assert.equal(await op.expect(/^MSG /), "MSG op still heard");
    await op.send("/ban guest 1h bye");
    assert.match(
      await guest.expect(/^BYE /),
      /^BYE banned Banned by op until \S+Z: bye$/,
    );
    assert.match(await op.expect(/^LEAVE /), /^LEAVE guest 1 banned$/);
    // Banned by address: a guest from it is refused before HELLO.
    using again = await TestClient.connect(s.port);
    const [bye, ...rest] = await again.readToEnd();
    assert.match(bye ?? "", /^BYE banned Banned by op until \S+Z: bye$/);
    assert.deepEqual(rest, []);
  });

  test("a banned address gets BYE banned before HELLO, so it cannot try a password", async () => {
    await using s = await startServer(engine, [], {
      roomPassword: "room secret",
    });
    const { accounts, moderation } = s.server.gate;
    await accounts.add("op", "op password");
    accounts.setOperator("op", true);
    moderation.add("ban", { range: parseAddressRange("127.0.0.0/8")! }, {
      durationMs: null,
      by: "admin",
      reason: "spam",
    });
    // Whoever it claims to be (an operator, a guest with the room
    // password), it hears nothing but the ban.
    for (const lines of [["op", "/pass op password"], ["/pass room secret"]]) {
      using banned = await TestClient.connect(s.port);
      for (const line of lines) await banned.send(line).catch(() => {});
      assert.deepEqual(await banned.readToEnd(), [
        "BYE banned Banned by admin until lifted: spam",
      ]);
    }
    await s.logs.waitFor(/INFO refused addr=127\.0\.0\.1:\d+ reason=banned/);
    assert.doesNotMatch(s.logs.toString(), /INFO login /);
  });
}

Deno.test("[node] client certificates: required, optional, wrong CA and expired", async () => {
  const { ca } = await testCertificates();
  const alice = await issueClientCertificate(ca, "alice");
  const expired = await issueClientCertificate(ca, "alice", -1);
  const stranger = await issueClientCertificate(
    await generateCa("another CA"),
    "alice",
  );
  for (const require of [true, false]) {
    await using s = await startServer("node", [], {
      clientCa: { ca: ca.cert, require },
    });
    await s.server.gate.accounts.add("alice", "alice's password");
    // A valid certificate naming an account logs in without a password.
    using certified = await TestClient.join(s.port, "alice", {
      identity: alice,
    });
    await certified.send("/quit");
    await certified.readToEnd();
    for (const bad of [expired, stranger, null]) {
      const connecting = TestClient.connect(
        s.port,
        "127.0.0.1",
        undefined,
        bad ?? undefined,
      );
      if (require) {
        // No valid certificate: no session (the handshake or the first
        // read fails).
        const outcome = await connecting.then(
          (client) => client.readLine().finally(() => client[Symbol.dispose]()),
          (error: Error) => error,
        );
        assert.ok(
          outcome === null || outcome instanceof Error,
          String(outcome),
        );
      } else {
        // Optional: the connection goes on, as a guest.
        using guest = await connecting;
        await guest.expect(/^HELLO /);
        await guest.send("alice");
        assert.match(await guest.readLine() ?? "", /^PASSWORD account /);
      }
    }
  }
});

Deno.test("[node] an operator's certificate passes an address ban; nobody else does", async () => {
  const { ca } = await testCertificates();
  await using s = await startServer("node", [], {
    clientCa: { ca: ca.cert, require: false },
  });
  const { accounts, moderation } = s.server.gate;
  await accounts.add("op", "op password");
  accounts.setOperator("op", true);
  await accounts.add("bob", "bob's password");
  moderation.add("ban", { range: parseAddressRange("127.0.0.1")! }, {
    durationMs: null,
    by: "admin",
    reason: "",
  });
  // The certificate proves who it is before anything is said: an operator
  // is let in, as address bans never apply to operators.
  using op = await TestClient.join(s.port, "op", {
    identity: await issueClientCertificate(ca, "op"),
  });
  await op.send("in");
  assert.equal(await op.expect(/^MSG /), "MSG op in");
  // A certificate of another account does not pass.
  using bob = await TestClient.connect(
    s.port,
    "127.0.0.1",
    undefined,
    await issueClientCertificate(ca, "bob"),
  );
  assert.deepEqual(await bob.readToEnd(), [
    "BYE banned Banned by admin until lifted",
  ]);
});
