/**
 * One room across several servers, with a real Redis (`redis-server`
 * started here on a free loopback port, with its data in a temporary
 * directory) and real `server.ts` processes: one order for everyone,
 * aliases unique across servers (races included), `/who` and `/msg` across
 * servers, history from the stream, a server killed with SIGKILL, and
 * Redis restarted while messages flow.
 */

import assert from "node:assert/strict";
import {
  denoRun,
  loopbackArgs,
  PipeClient,
  runCommand,
  ServerProcess,
  testCertificates,
  TestClient,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";
import { freePort } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";
import { addAccount, FAST, withCluster } from "./_cluster.ts";

async function join(server: ServerProcess, alias: string) {
  const { ca } = await testCertificates();
  return await TestClient.join(server.port, alias, { ca: ca.cert });
}

/** The next `count` lines matching `pattern`. */
async function collect(client: TestClient, pattern: RegExp, count: number) {
  const got: string[] = [];
  while (got.length < count) got.push(await client.expect(pattern));
  return got;
}

Deno.test("three servers are one room: one order, /who, aliases, /msg, history", async () => {
  await withCluster(3, async ([s0, s1, s2]) => {
    using alice = await join(s0!, "alice");
    using bob = await join(s1!, "bob");
    using carol = await join(s2!, "carol");
    await alice.expect(/^JOIN carol 3$/);
    // Everyone sends at once; everyone sees one order.
    for (let i = 0; i < 5; i++) {
      await Promise.all([
        alice.send(`a${i}`),
        bob.send(`b${i}`),
        carol.send(`c${i}`),
      ]);
    }
    const seen = await Promise.all(
      [alice, bob, carol].map((c) => collect(c, /^MSG /, 15)),
    );
    assert.deepEqual(seen[1], seen[0]);
    assert.deepEqual(seen[2], seen[0]);
    await carol.send("/who");
    assert.equal(await carol.expect(/^WHO /), "WHO 3 alice bob carol");
    // An alias held on one server is taken on the others, in any case.
    using copy = await TestClient.connect(
      s1!.port,
      "127.0.0.1",
      (await testCertificates()).ca.cert,
    );
    await copy.expect(/^HELLO /);
    await copy.send("ALICE");
    assert.match(
      await copy.readLine() ?? "",
      /^ERR alias-taken .*"ALICE" is taken/,
    );
    await copy.send("a1ice"); // looks like alice
    assert.match(
      await copy.readLine() ?? "",
      /^ERR alias-taken .*looks like "alice"/,
    );
    // Private messages cross servers.
    await alice.send("/msg CAROL over there");
    assert.equal(await alice.expect(/^SENT /), "SENT carol over there");
    assert.equal(await carol.expect(/^PRIV /), "PRIV alice over there");
    // History on join comes from the shared stream.
    using dave = await join(s2!, "dave");
    const history: string[] = [];
    while (true) {
      const line = (await dave.readLine())!;
      if (line.startsWith("HISTEND")) break;
      history.push(line.replace(/^HIST \d+ \S+ MSG (\S+) /, "MSG $1 "));
    }
    assert.deepEqual(history, seen[0]);
  });
});

Deno.test("an operator on one server mutes, kicks, bans and sets the topic on all", async () => {
  const { ca } = await testCertificates();
  await withCluster(3, async ([s0, s1, s2]) => {
    using op = await TestClient.join(s0!.port, "op", {
      ca: ca.cert,
      password: "op's password",
    });
    using troll = await join(s1!, "troll");
    using mallory = await TestClient.join(s2!.port, "mallory", {
      ca: ca.cert,
      password: "mallory's password",
    });
    using carol = await join(s2!, "carol");
    await op.expect(/^JOIN carol 4$/);
    await op.send("/mute mallory");
    await mallory.expect(/^MOD mute mallory op by op until lifted$/);
    await mallory.send("hey");
    await mallory.expect(/^ERR muted You are muted by op until lifted/);
    await op.send("/topic Be kind");
    assert.equal(await carol.expect(/^TOPIC /), "TOPIC op Be kind");
    await op.send("/kick troll enough");
    assert.match(await troll.expect(/^BYE /), /^BYE kicked /);
    await carol.expect(/^MOD kick troll op enough$/);
    await carol.expect(/^LEAVE troll 3 kicked/);
    using _imp = await join(s0!, "imp");
    await op.expect(/^JOIN imp 4$/);
    await op.send("/ban mallory 1h bye");
    assert.match(
      await mallory.expect(/^BYE /),
      /^BYE banned Banned by op until \S+Z: bye$/,
    );
    // imp, a guest from that address on op's own server, goes too: after
    // the MOD line of the ban, as on one server (its LEAVE came first).
    const told: string[] = [];
    const left = (alias: string) =>
      told.some((line) => line.startsWith(`LEAVE ${alias} `));
    while (!left("mallory") || !left("imp")) told.push((await op.readLine())!);
    const ban = told.findIndex((line) => line.startsWith("MOD ban mallory "));
    const impLeft = told.findIndex((line) => line.startsWith("LEAVE imp "));
    assert.ok(ban !== -1 && ban < impLeft, told.join("\n"));
    // A ban names the account and the address group: carol, a guest from
    // the same address on mallory's server, goes too.
    assert.match(
      await carol.expect(/^BYE /),
      /^BYE banned Banned by op until \S+Z: bye$/,
    );
    // The address is banned on every server: a connection from it to
    // another one is refused before HELLO, whoever it would log in as.
    using again = await TestClient.connect(s1!.port, "127.0.0.1", ca.cert);
    await again.send("mallory").catch(() => {});
    assert.deepEqual(
      (await again.readToEnd()).map((line) => line.replace(/\S+Z/, "T")),
      ["BYE banned Banned by op until T: bye"],
    );
  }, {
    before: async (dir) => {
      await addAccount(dir, "s0", "op", true);
      for (const s of ["s1", "s2"]) await addAccount(dir, s, "mallory");
    },
  });
});

Deno.test("two operators on two servers at the same instant: every server ends with what the log says last", async () => {
  const { ca } = await testCertificates();
  await withCluster(2, async ([s0, s1]) => {
    const op = (server: ServerProcess, alias: string) =>
      TestClient.join(server.port, alias, {
        ca: ca.cert,
        password: `${alias}'s password`,
      });
    using op0 = await op(s0!, "op0");
    using op1 = await op(s1!, "op1");
    await op0.expect(/^JOIN op1 2$/);
    await Promise.all([
      op0.send("/ban 10.0.0.1 1h"),
      op1.send("/ban 10.0.0.2 1h"),
      op0.send("/topic from s0"),
      op1.send("/topic from s1"),
    ]);
    for (const client of [op0, op1]) await collect(client, /^TOPIC /, 2);
    // Both saw the same lines in the same order; now each server's state.
    const bans = async (client: TestClient) => {
      await client.send("/bans");
      const listed: string[] = [];
      for (;;) {
        const line = await client.expect(/^(BAN|INFO) /);
        if (line.startsWith("INFO")) return listed;
        listed.push(line.split(" ")[2]!);
      }
    };
    assert.deepEqual(await bans(op0), await bans(op1));
    using guest0 = await join(s0!, "guest0");
    using guest1 = await join(s1!, "guest1");
    const lastTopic = op0.received.filter((l) => l.startsWith("TOPIC ")).at(-1);
    assert.equal(await guest0.expect(/^TOPIC /), lastTopic);
    assert.equal(await guest1.expect(/^TOPIC /), lastTopic);
  }, {
    before: async (dir) => {
      await addAccount(dir, "s0", "op0", true);
      await addAccount(dir, "s1", "op1", true);
    },
  });
});

Deno.test("two joins for one alias at the same instant on two servers: one wins", async () => {
  await withCluster(2, async ([s0, s1]) => {
    const { ca } = await testCertificates();
    for (let round = 0; round < 5; round++) {
      const alias = `zed${round}`;
      using one = await TestClient.connect(s0!.port, "127.0.0.1", ca.cert);
      using two = await TestClient.connect(s1!.port, "127.0.0.1", ca.cert);
      await Promise.all([one.expect(/^HELLO /), two.expect(/^HELLO /)]);
      await Promise.all([one.send(alias), two.send(alias)]);
      const answers = [await one.readLine(), await two.readLine()];
      const welcomed = answers.filter((a) => a?.startsWith("WELCOME "));
      const refused = answers.filter((a) => a?.startsWith("ERR alias-taken "));
      assert.equal(welcomed.length, 1, answers.join(" | "));
      assert.equal(refused.length, 1, answers.join(" | "));
    }
  });
});

Deno.test("a server killed with SIGKILL: its members leave (server-lost) for the others", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using alice = await join(s0!, "alice");
    const bob = await join(s1!, "bob");
    await alice.expect(/^JOIN bob 2$/);
    const killed = Date.now();
    s1!.child.kill("SIGKILL");
    await s1!.exited();
    bob[Symbol.dispose]();
    // Documented: within 6 s (heartbeat every second, lost after 5 s).
    assert.equal(
      await alice.expect(/^LEAVE /, 10_000),
      "LEAVE bob 1 server-lost",
    );
    assert.ok(Date.now() - killed < 8_000, `${Date.now() - killed} ms`);
    await alice.send("still here");
    assert.equal(await alice.expect(/^MSG /), "MSG alice still here");
    // The alias is free again.
    using bob2 = await join(s0!, "bob");
    await alice.expect(/^JOIN bob 2$/);
    bob2.conn.close();
  });
});

Deno.test("Redis restarted while messages flow: members stay, every line is delivered once or its sender told, one order", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using alice = await join(s0!, "alice");
    using bob = await join(s1!, "bob");
    using carol = await join(s1!, "carol");
    await alice.expect(/^JOIN carol 3$/);
    using dave = await TestClient.connect(s0!.port);
    await dave.expect(/^HELLO /);
    let sending = true;
    const sent: Record<string, string[]> = { a: [], b: [] };
    const send = async (client: TestClient, name: string) => {
      for (let i = 0; sending; i++) {
        const text = `${name}${i}`;
        sent[name]!.push(text);
        await client.send(text);
        await new Promise((r) => setTimeout(r, 20)); // a steady pace
      }
    };
    const senders = Promise.all([send(alice, "a"), send(bob, "b")]);
    try {
      await outage();
    } finally {
      sending = false;
      await senders;
    }
    async function outage() {
      await alice.expect(/^MSG bob b5$/);
      await redis.stop();
      for (const server of [s0!, s1!]) {
        await server.output.waitFor(/ERROR redis-unavailable/);
      }
      // What needs the other servers is refused, and nobody is dropped;
      // /who answers from what the log said (the rooms' replica).
      await carol.send("/who");
      await carol.expect(/^WHO 3 alice bob carol$/);
      await carol.send("/msg alice hi");
      await carol.expect(/^ERR unavailable /);
      await dave.send("dave");
      await dave.expect(/^ERR unavailable Cannot join now/);
      await redis.start();
      for (const server of [s0!, s1!]) {
        await server.output.waitFor(/INFO redis-reconnected/);
      }
      // Flowing again: a line sent now comes back.
      await alice.expect(/^MSG alice a\d+$/);
      await bob.expect(/^MSG bob b\d+$/);
      // The one who could not join tries again, and is in.
      await dave.send("dave");
      await dave.expect(/^WELCOME dave /);
      // Once its server handed dave's JOIN on, /who there counts it.
      await carol.expect(/^JOIN dave 4$/);
      await carol.send("/who");
      await carol.expect(/^WHO 4 /);
    }
    // Each says it is done; once both have seen both, they have seen all.
    sent.a!.push("done-a");
    sent.b!.push("done-b");
    await alice.send("done-a");
    await bob.send("done-b");
    for (const client of [alice, bob]) {
      await collect(client, /^MSG (alice done-a|bob done-b)$/, 2);
    }
    // Everything each side received, in order, and what it was told.
    const seenBy = (client: TestClient) =>
      client.received.filter((l) => l.startsWith("MSG ")).map((l) =>
        l.split(" ")[2]!
      );
    const delivered = seenBy(alice);
    assert.deepEqual(seenBy(bob), delivered, "one order for both");
    assert.equal(new Set(delivered).size, delivered.length, "nothing twice");
    // Every line sent was delivered, or its sender was told; none told
    // "not sent" was delivered.
    for (
      const [client, alias, name] of [[alice, "alice", "a"], [
        bob,
        "bob",
        "b",
      ]] as const
    ) {
      const { notSent } = outcomes(client, alias, sent[name]!);
      for (const text of notSent) assert.ok(!delivered.includes(text), text);
    }
  });
});

Deno.test("an operator's change while Redis is away is done on its server only, and the operator is told", async () => {
  const { ca } = await testCertificates();
  await withCluster(1, async ([s0], redis) => {
    using op = await TestClient.join(s0!.port, "op", {
      ca: ca.cert,
      password: "op's password",
    });
    await redis.stop();
    await s0!.output.waitFor(/ERROR redis-unavailable/);
    // A command fails once the server's link has noticed: from then on
    // nothing is written, so nothing is in doubt (/who needs no writing:
    // it answers from what the log said).
    await op.send("/msg nobody hi");
    await op.expect(/^ERR unavailable /);
    await op.send("/who");
    await op.expect(/^WHO 1 @op$/);
    await op.send("/topic said during the outage");
    assert.equal(
      await op.expect(/^ERR /),
      "ERR unavailable Done on this server only: the other servers could not be told; do it again later",
    );
    await redis.start();
  }, { before: (dir) => addAccount(dir, "s0", "op", true) });
});

Deno.test("Redis down longer than a server may be silent: when it is back, nobody is counted lost", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using alice = await join(s0!, "alice");
    using bob = await join(s1!, "bob");
    await alice.expect(/^JOIN bob 2$/);
    await redis.stop();
    // Every heartbeat fails for longer than the 5 s after which a server
    // counts as lost. (A span of time is what is tested: nothing to await.)
    await new Promise((r) => setTimeout(r, 6500));
    await redis.start();
    for (const server of [s0!, s1!]) {
      await server.output.waitFor(/INFO redis-reconnected/, {
        timeoutMs: 10_000,
      });
    }
    await alice.send("/who");
    assert.equal(await alice.expect(/^(WHO|ERR) /), "WHO 2 alice bob");
    // Past the time a lost server would be announced in: still one room.
    await new Promise((r) => setTimeout(r, 6500));
    await bob.send("still here");
    await alice.expect(/^MSG bob still here$/);
    assert.ok(!alice.received.some((l) => l.startsWith("LEAVE")));
    assert.doesNotMatch(`${s0!.output}${s1!.output}`, /server-lost/);
  });
});

Deno.test("Redis restarted empty: members are asked to join again, and the room starts afresh", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using alice = await join(s0!, "alice");
    using bob = await join(s1!, "bob");
    await alice.expect(/^JOIN bob 2$/);
    await redis.stop();
    await redis.wipe();
    await redis.start();
    for (const client of [alice, bob]) {
      assert.equal(
        (await client.readToEnd()).find((l) => l.startsWith("BYE")),
        "BYE server-lost The room's shared state was lost: join again",
      );
    }
    // Joining again works, aliases are unique again, and lines flow.
    using alice2 = await join(s0!, "alice");
    using bob2 = await join(s1!, "bob");
    await alice2.expect(/^JOIN bob 2$/);
    using again = await TestClient.connect(s1!.port);
    await again.expect(/^HELLO /);
    await again.send("alice");
    await again.expect(/^ERR alias-taken /);
    await bob2.send("hello again");
    await alice2.expect(/^MSG bob hello again$/);
  });
});

Deno.test("Redis over TLS with a password: rediss:// works, a wrong password is a clear error", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    await using redis = new Redis(dir, { tls: true, password: "s3cret" });
    await redis.start();
    // The test CA signs Redis's certificate: Deno's --cert trusts it.
    const permissions = [
      `--cert=${dir}/ca.pem`,
      "--allow-net=127.0.0.1,localhost",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
    ];
    {
      await using server = await ServerProcess.start(
        permissions,
        loopbackArgs(dir, "--redis", redis.url()),
      );
      using alice = await join(server, "alice");
      await alice.send("over TLS");
      await alice.expect(/^MSG alice over TLS$/);
      assert.match(`${server.output}`, /cluster=tlschat@rediss:\/\/\*\*\*@/);
      assert.doesNotMatch(`${server.output}`, /s3cret/);
    }
    const wrong = await runCommand(
      "deno",
      denoRun(
        "server.ts",
        permissions,
        loopbackArgs(dir, "--redis", redis.url("guess")),
      ),
    );
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.out,
      /Cannot start: Cannot use Redis at rediss:\/\/\*\*\*@localhost:\d+\/0: WRONGPASS [^\n]*[^.]\. Is it running/,
    );
    assert.doesNotMatch(wrong.out, /guess/);
  });
});

Deno.test("a server whose Redis cannot be reached at start says so and exits, the password hidden", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    // A port nothing listens on: bound, read, released.
    const url = `redis://:hunter2@127.0.0.1:${freePort()}/0`;
    const result = await runCommand(
      "deno",
      denoRun(
        "server.ts",
        [
          "--allow-net=127.0.0.1",
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
        ],
        loopbackArgs(dir, "--redis", url),
      ),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.out,
      /Cannot start: Cannot use Redis at redis:\/\/\*\*\*@127\.0\.0\.1:\d+\/0: .*ECONNREFUSED.*Is it running/,
    );
    assert.doesNotMatch(result.out, /hunter2/);
    assert.doesNotMatch(result.out, / listening /);
  });
});

Deno.test("a server without the permission to reach Redis names the flag to add", async () => {
  // It said "Requires net access ... Is it running, and is --redis right?"
  // after 3 s of tries: 'deno task server --redis ...' as the task stands.
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const port = freePort();
    const result = await runCommand(
      "deno",
      denoRun(
        "server.ts",
        [
          "--allow-net=127.0.0.1:0",
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
        ],
        loopbackArgs(dir, "--redis", `redis://:hunter2@127.0.0.1:${port}/0`),
      ),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.out,
      new RegExp(
        `Run with --allow-net=127\\.0\\.0\\.1:${port} \\(see README\\)`,
      ),
    );
    assert.doesNotMatch(result.out, /Is it running|hunter2| listening /);
  });
});

/**
 * What became of each line `alias` sent (`sent`, in order), read from what
 * its client received, in order: its echo, `ERR unavailable Not sent (N
 * lines)` or `ERR unknown ... (N lines)`, each covering the oldest lines
 * not yet answered. Only a line reported unknown may be echoed later (it
 * was stored after all), and after its report.
 */
function outcomes(client: TestClient, alias: string, sent: readonly string[]) {
  const echoed: string[] = [];
  const notSent: string[] = [];
  const unknown: string[] = [];
  let next = 0;
  for (const line of client.received) {
    const echo = new RegExp(`^MSG ${alias} (\\S+)$`).exec(line);
    const report = /^ERR (unavailable|unknown) [^(]*\((\d+) lines?\)/.exec(
      line,
    );
    if (echo !== null) {
      const text = echo[1]!;
      assert.ok(!echoed.includes(text), `${alias}: "${text}" echoed twice`);
      echoed.push(text);
      if (text === sent[next]) next++;
      else {
        assert.ok(
          unknown.includes(text),
          `${alias}: "${text}" echoed out of turn, or after "not sent"`,
        );
      }
    } else if (report !== null) {
      const lines = sent.slice(next, next + Number(report[2]));
      next += lines.length;
      (report[1] === "unknown" ? unknown : notSent).push(...lines);
    }
  }
  assert.equal(next, sent.length, `${alias}: every line answered`);
  return { echoed, notSent, unknown };
}

Deno.test("Redis paused (SIGSTOP): nothing reported not sent is delivered; every line is delivered once or reported; one order", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using alice = await join(s0!, "alice");
    using bob = await join(s1!, "bob");
    using carol = await join(s1!, "carol");
    await alice.expect(/^JOIN carol 3$/);
    const senders = [[alice, "alice"], [bob, "bob"]] as const;
    const sent: Record<string, string[]> = { alice: [], bob: [] };
    const say = async (round: string) => {
      for (const [client, alias] of senders) {
        sent[alias]!.push(`${alias}-${round}`);
        await client.send(`${alias}-${round}`);
      }
    };
    const pause = async (ms: number) => {
      // How long Redis hangs is what is tested: a span of time.
      await new Promise((resolve) => setTimeout(resolve, ms));
    };
    // Paused for less than an append in doubt is retried (1.5 s); then
    // until the first lines are given up on, with a line sent after them
    // (not written while Redis does not answer: surely not sent).
    for (const round of ["0", "1", "2"]) {
      redis.pause();
      try {
        await say(round);
        if (round === "1") {
          // Both servers gave their line up (one may lag behind the other):
          // only then is a line surely not sent while Redis hangs (its
          // server asks for a PING first); one that reaches a server not
          // yet there may go once Redis is back.
          for (const [client] of senders) {
            await client.expect(/^ERR (unknown|unavailable) /);
          }
          await say(`${round}-late`);
        }
        await pause(1000);
      } finally {
        redis.resume();
      }
      // Everything sent so far is answered before this line's echo.
      await say(`${round}-after`);
      for (const [client, alias] of senders) {
        await client.expect(
          new RegExp(`^MSG ${alias} ${alias}-${round}-after$`),
        );
      }
    }
    // Everyone reads up to both last lines.
    for (const client of [alice, bob, carol]) {
      const last = /^MSG (alice alice|bob bob)-2-after$/;
      while (client.received.filter((l) => last.test(l)).length < 2) {
        await client.expect(last);
      }
    }
    const results = senders.map(([client, alias]) =>
      outcomes(client, alias, sent[alias]!)
    );
    const messages = (client: TestClient) =>
      client.received.filter((l) => l.startsWith("MSG "));
    // One order everywhere, each line once.
    for (const client of [alice, bob]) {
      assert.deepEqual(messages(client), messages(carol));
    }
    const delivered = messages(carol).map((l) => l.split(" ")[2]!);
    assert.equal(new Set(delivered).size, delivered.length, "nothing twice");
    for (const { echoed, notSent, unknown } of results) {
      // Retried within the deadline: the short pauses cost nothing.
      for (const round of ["0", "2"]) {
        assert.ok(echoed.some((t) => t.endsWith(`-${round}`)), round);
      }
      assert.ok(unknown.length > 0, "the long pause left some in doubt");
      assert.ok(notSent.some((t) => t.endsWith("-1-late")), "refused unsent");
      for (const text of notSent) assert.ok(!delivered.includes(text), text);
      for (const text of echoed) assert.ok(delivered.includes(text), text);
    }
  }, { args: FAST });
});

Deno.test("a paused server's member, counted lost, cannot speak after someone else took its alias", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using carol = await join(s0!, "carol");
    using alice = await join(s1!, "alice");
    await carol.expect(/^JOIN alice 2$/);
    s1!.child.kill("SIGSTOP");
    let impostor: TestClient;
    try {
      // Typed while its server is stopped: it waits in the kernel.
      await alice.send("please send the release key to me");
      assert.equal(
        await carol.expect(/^LEAVE /, 10_000),
        "LEAVE alice 1 server-lost",
      );
      impostor = await join(s0!, "alice");
      await carol.expect(/^JOIN alice 2$/);
    } finally {
      s1!.child.kill("SIGCONT");
    }
    using _second = impostor;
    // The first alice hears that she is out.
    assert.match(
      (await alice.readToEnd()).find((l) => l.startsWith("BYE")) ?? "",
      /^BYE server-lost /,
    );
    // The paused server works again once it is back in the cluster: her
    // LEAVE, read from the room's log, may close her before it beats again,
    // and until that beat (and what it does on finding itself counted lost)
    // a join there is refused. Its next line comes after whatever it did
    // with hers, which never reaches the room.
    await s1!.output.waitFor(/WARN counted-lost /);
    using eve = await join(s1!, "eve");
    await eve.send("marker");
    await carol.expect(/^MSG eve marker$/);
    assert.deepEqual(
      carol.received.filter((l) => l.startsWith("MSG alice")),
      [],
    );
  }, { args: FAST });
});

Deno.test("client.ts: a line left in doubt while Redis hangs (ERR unknown) is sent again with its id, and the room has it once", async () => {
  // Redis has 1 s to answer (time for the test to wake it while the line
  // is sent again), an append in doubt is tried again for 1.5 s.
  const args = ["--redis-timeout", "1", ...FAST.slice(2)];
  await withCluster(2, async ([s0, s1], redis, dir) => {
    using carol = await join(s1!, "carol");
    await using alice = new PipeClient(
      [`--allow-net=127.0.0.1:${s0!.port}`, `--allow-read=${dir}/ca.pem`],
      [
        ...["--host", "127.0.0.1", "--port", String(s0!.port)],
        ...["--ca", `${dir}/ca.pem`, "--alias", "alice"],
      ],
    );
    await alice.output.waitFor(/^-!- Welcome, alice!/);
    await carol.expect(/^JOIN alice 2$/);
    redis.pause();
    try {
      await alice.send("said while Redis hangs");
      // No answer within the retry time: ERR unknown, and the client sends
      // it again with the same id.
      await alice.output.waitFor(
        /^-!- No answer from the room's store for "said while Redis hangs": sending it again$/,
        { timeoutMs: 10_000 },
      );
    } finally {
      redis.resume();
    }
    // Awake, Redis runs what it was sent: the line is stored once, and the
    // client shows it once, whichever answer came first.
    await alice.output.waitFor(/^<alice> said while Redis hangs$/);
    assert.equal(await alice.finish(), 0, alice.output.lines.join("\n"));
    await carol.expect(/^LEAVE alice 1 quit$/);
    const said = (lines: readonly string[], line: string) =>
      lines.filter((l) => l === line).length;
    assert.equal(
      said(carol.received, "MSG alice said while Redis hangs"),
      1,
      carol.received.join("\n"),
    );
    assert.equal(
      said(alice.output.lines, "<alice> said while Redis hangs"),
      1,
      alice.output.lines.join("\n"),
    );
    // Stored, so never shown as surely not sent (had Redis woken only
    // after the second try was refused, it would say "Perhaps not sent").
    assert.deepEqual(
      alice.output.lines.filter((l) => l.startsWith("! Not sent")),
      [],
    );
  }, { args });
});
