/**
 * End-to-end tests of history over real TLS: history on join and
 * `/history` (in-process servers), and with real `server.ts` processes and
 * a real data directory: restarts, SIGKILL at any moment, retention, the
 * `history` export task, a second server on the same directory, and a
 * damaged database.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openStore } from "../../../lib/server/storage/store.ts";
import {
  denoRun,
  loopbackArgs,
  runCommand,
  serverPermissions,
  ServerProcess,
  startServer,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";

/** A `HIST` line's fields after its number and time. */
const HIST = /^HIST (\d+) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (.*)$/;

/** Reads history lines up to `HISTEND`; returns "KIND ALIAS TEXT" of each. */
async function readHistory(client: TestClient) {
  const said: string[] = [];
  const seqs: number[] = [];
  while (true) {
    const line = (await client.readLine()) ?? "";
    if (line.startsWith("HISTEND ")) return { said, seqs, end: line };
    const match = HIST.exec(line);
    assert.ok(match, `expected a HIST line, got: ${line}`);
    seqs.push(Number(match[1]));
    said.push(match[3]!);
  }
}

/** Runs `history.ts` on `dir/data` with read permission only. */
function history(dir: string, ...args: string[]) {
  return runCommand(
    "deno",
    denoRun("history.ts", [`--allow-read=${dir}`], [
      ...args,
      "--data-dir",
      `${dir}/data`,
    ]),
  );
}

/** The stored events, as `history export` prints them (JSON Lines). */
async function exported(dir: string): Promise<Record<string, unknown>[]> {
  const result = await history(dir, "export");
  assert.equal(result.code, 0, result.out);
  return result.out.split("\n").filter((l) => l !== "").map((l) =>
    JSON.parse(l)
  );
}

Deno.test("history on join: the last N messages and actions, in order, marked, then live", async () => {
  await using s = await startServer("node", ["--history", "3"]);
  using amy = await TestClient.join(s.port, "amy");
  using _cat = await TestClient.join(s.port, "cat");
  for (const text of ["one", "two", "three"]) await amy.send(text);
  await amy.send("/me waves");
  await amy.send("/msg cat a secret");
  await amy.expect(/^SENT cat a secret$/);
  using bob = await TestClient.join(s.port, "bob");
  const { said, seqs, end } = await readHistory(bob);
  // Joins and private messages are not history; order is the room's.
  assert.deepEqual(said, ["MSG amy two", "MSG amy three", "ME amy waves"]);
  assert.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, String(seqs));
  assert.equal(end, "HISTEND 3 End of history: 3 messages");
  await amy.send("now");
  assert.equal(await bob.readLine(), "MSG amy now");
  // More on request, up to what the room keeps.
  await bob.send("/history 10");
  assert.deepEqual((await readHistory(bob)).said, [
    "MSG amy one",
    "MSG amy two",
    "MSG amy three",
    "ME amy waves",
    "MSG amy now",
  ]);
  await bob.send("/history 1");
  assert.deepEqual((await readHistory(bob)).said, ["MSG amy now"]);
  await bob.send("/history 0");
  assert.match(await bob.readLine() ?? "", /^ERR usage Usage: \/history \[N\]/);
});

Deno.test("--history 0: no history on join, /history refused, nothing stored", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    await using s = await startServer("node", ["--history", "0"], { store });
    using amy = await TestClient.join(s.port, "amy");
    await amy.send("gone with the wind");
    await amy.expect(/^MSG amy gone/);
    using bob = await TestClient.join(s.port, "bob");
    await amy.send("live only");
    assert.equal(await bob.readLine(), "MSG amy live only");
    await bob.send("/history");
    assert.equal(
      await bob.readLine(),
      "ERR no-history This room keeps no history",
    );
    const { n } = store.db.prepare("SELECT COUNT(*) AS n FROM events")
      .get() as {
        n: number;
      };
    assert.equal(n, 0);
  });
});

Deno.test("--durability memory keeps history on join but writes none of it", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    await using s = await startServer("node", ["--durability", "memory"], {
      store,
    });
    using amy = await TestClient.join(s.port, "amy");
    await amy.send("fleeting");
    await amy.expect(/^MSG amy fleeting/);
    using bob = await TestClient.join(s.port, "bob");
    assert.deepEqual((await readHistory(bob)).said, ["MSG amy fleeting"]);
    const { n } = store.db.prepare("SELECT COUNT(*) AS n FROM events")
      .get() as {
        n: number;
      };
    assert.equal(n, 0);
  });
});

Deno.test("server.ts keeps history and its order across a restart", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    let before: number[] = [];
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        using amy = await TestClient.join(server.port, "amy", { ca: ca.cert });
        for (let i = 1; i <= 5; i++) await amy.send(`before ${i}`);
        await amy.expect(/^MSG amy before 5$/);
        using bob = await TestClient.join(server.port, "bob", { ca: ca.cert });
        before = (await readHistory(bob)).seqs;
        server.child.kill("SIGTERM");
        assert.equal((await server.exited()).code, 0);
      },
    );
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        using cat = await TestClient.join(server.port, "cat", { ca: ca.cert });
        const { said, seqs } = await readHistory(cat);
        assert.deepEqual(
          said,
          [1, 2, 3, 4, 5].map((i) => `MSG amy before ${i}`),
        );
        assert.deepEqual(seqs, before);
        await cat.send("after");
        await cat.expect(/^MSG cat after$/);
        await cat.send("/history 1");
        const [next] = (await readHistory(cat)).seqs;
        // Numbers go on from where they were (joins and leaves have some).
        assert.ok(next! > before.at(-1)!, `${next} after ${before}`);
      },
    );
  });
});

Deno.test("server.ts loses no echoed message when killed with SIGKILL, again and again", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    const echoed: string[] = [];
    for (let round = 0; round < 5; round++) {
      const alias = `k${round}`;
      const server = await ServerProcess.start(
        serverPermissions(dir),
        loopbackArgs(dir, "--flood-rate", "500", "--flood-burst", "50"),
      );
      try {
        using client = await TestClient.join(server.port, alias, {
          ca: ca.cert,
        });
        // As fast as the flood limit allows.
        client.server.paceTo({ rate: 500, burst: 50 });
        let sent = 0;
        const sending = (async () => {
          while (true) await client.send(`round ${round} line ${sent++}`);
        })().catch(() => {});
        const own = `MSG ${alias} `;
        const killAfter = 20 + 37 * round;
        let count = 0;
        while (count < killAfter) {
          const line = await client.readLine() ?? "";
          if (line.startsWith(own)) {
            echoed.push(line.slice(own.length));
            count++;
          }
        }
        server.child.kill("SIGKILL");
        // Echoes already on their way were echoed too.
        for (const line of await client.readToEnd()) {
          if (line.startsWith(own)) echoed.push(line.slice(own.length));
        }
        await sending;
        assert.equal((await server.exited()).signal, "SIGKILL");
      } catch (e) {
        throw server.annotate(e);
      } finally {
        await server[Symbol.asyncDispose]();
      }
    }
    const stored = (await exported(dir))
      .filter((e) => e.type === "MSG")
      .map((e) => e.text as string);
    const missing = echoed.filter((text) => !stored.includes(text));
    assert.deepEqual(missing, [], `${echoed.length} echoed`);
    // And in the order they were echoed.
    const positions = echoed.map((text) => stored.indexOf(text));
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    assert.ok(echoed.length >= 5 * 20);
  });
});

Deno.test("server.ts killed with lines in its journal, not yet in the database: the next start has them, once each", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    // The database would take the lines only after an hour.
    const args = loopbackArgs(dir, "--history-flush", "3600");
    const said = ["first", "second", "third"];
    {
      await using server = await ServerProcess.start(
        serverPermissions(dir),
        args,
      );
      using amy = await TestClient.join(server.port, "amy", { ca: ca.cert });
      for (const text of said) {
        await amy.send(text);
        await amy.expect(new RegExp(`^MSG amy ${text}$`));
      }
      server.child.kill("SIGKILL");
      assert.equal((await server.exited()).signal, "SIGKILL");
    }
    const inDatabase = () => {
      using db = new DatabaseSync(`${dir}/data/chat.db`, { readOnly: true });
      return db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'MSG'")
        .get()!.n;
    };
    assert.equal(inDatabase(), 0, "only in the journal");
    // The history tool reads the journal too.
    const beforeStart = (await exported(dir)).filter((e) => e.type === "MSG");
    assert.deepEqual(beforeStart.map((e) => e.text), said);
    await withServerProcess(serverPermissions(dir), args, async (server) => {
      assert.equal(inDatabase(), 3, "inserted at start");
      assert.match(
        `${server.output}`,
        / history-recovered lines=4 droppedBytes=0/,
      );
      using bob = await TestClient.join(server.port, "bob", { ca: ca.cert });
      const { said: history } = await readHistory(bob);
      assert.deepEqual(history, said.map((text) => `MSG amy ${text}`));
    });
    const after = (await exported(dir)).filter((e) => e.type === "MSG");
    assert.deepEqual(after.map((e) => e.text), said, "once each");
  });
});

/** Connects with the `ids` capability on and joins as `alias`. */
async function joinWithIds(port: number, alias: string, ca: string) {
  const client = await TestClient.connect(port, "127.0.0.1", ca);
  assert.match(await client.expect(/^HELLO /), /[ ,]caps=ids[ ,+]/);
  await client.send("/cap ids");
  assert.equal(await client.readLine(), "CAP ids");
  await client.send(alias);
  await client.expect(new RegExp(`^WELCOME ${alias} `));
  return client;
}

Deno.test("server.ts stores a line sent again with its id once: its echo lost, on a new connection, after a SIGKILL too", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    const id = "Xq3_lost-echo-0123456";
    const start = () =>
      ServerProcess.start(serverPermissions(dir), loopbackArgs(dir));
    let server = await start();
    try {
      using amy = await TestClient.join(server.port, "amy", { ca: ca.cert });
      {
        using bob = await joinWithIds(server.port, "bob", ca.cert);
        await bob.send(`@id=${id} said once`);
        assert.equal(await bob.expect(/^@id=/), `@id=${id} MSG bob said once`);
      }
      // Its echo was lost with the connection, as far as bob knows: he
      // comes back and sends the line again, with its id.
      await amy.expect(/^LEAVE bob /);
      {
        using bob = await joinWithIds(server.port, "bob", ca.cert);
        await bob.send(`@id=${id} said once`);
        assert.equal(await bob.expect(/^@id=/), `@id=${id} MSG bob said once`);
        await bob.send("/quit");
        await bob.readToEnd();
      }
      await amy.expect(/^LEAVE bob /);
      server.child.kill("SIGKILL");
      await server.exited();
      // And once more after the server was killed and started again.
      server = await start();
      using bob = await joinWithIds(server.port, "bob", ca.cert);
      await bob.send(`@id=${id} said once`);
      assert.equal(await bob.expect(/^@id=/), `@id=${id} MSG bob said once`);
      await bob.send("@id=Xq3_new-after-kill-01 after");
      assert.equal(
        await bob.expect(/^@id=/),
        "@id=Xq3_new-after-kill-01 MSG bob after",
      );
      // The room heard it once: amy (before the kill), and history.
      assert.deepEqual(
        amy.received.filter((l) => l.startsWith("MSG ")),
        ["MSG bob said once"],
      );
      await bob.send("/history");
      assert.deepEqual(
        (await readHistory(bob)).said.filter((l) => l.startsWith("MSG bob")),
        ["MSG bob said once", "MSG bob after"],
      );
    } catch (e) {
      throw server.annotate(e);
    } finally {
      await server[Symbol.asyncDispose]();
    }
  });
});

Deno.test("server.ts applies --history-keep-rows, and history export prints what is kept", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        using amy = await TestClient.join(server.port, "amy", { ca: ca.cert });
        using _bob = await TestClient.join(server.port, "bob", { ca: ca.cert });
        for (let i = 1; i <= 6; i++) await amy.send(`line ${i}`);
        await amy.send("/me waves");
        await amy.send("שלום עולם!");
        await amy.send("/msg bob never stored");
        await amy.expect(/^SENT bob/);
        // The export reads the database while the server runs.
        const all = await exported(dir);
        assert.deepEqual(
          all.map((e) => `${e.type} ${e.alias} ${e.text ?? ""}`.trim()),
          [
            "JOIN amy",
            "JOIN bob",
            ...[1, 2, 3, 4, 5, 6].map((i) => `MSG amy line ${i}`),
            "ME amy waves",
            "MSG amy שלום עולם!",
          ],
        );
        assert.deepEqual(all.map((e) => e.seq), [
          1,
          2,
          3,
          4,
          5,
          6,
          7,
          8,
          9,
          10,
        ]);
        assert.ok(all.every((e) => /^\d{4}-.*Z$/.test(e.time as string)));
        const text = await history(dir, "export", "--format", "text");
        assert.equal(text.code, 0, text.out);
        assert.match(
          text.out,
          /^\d{4}-\d\d-\d\dT[\d:.]+Z seq=8 <amy> line 6\n\S+ seq=9 \* amy waves$/m,
        );
        // To a pipe, as sent: no bidi isolates (FSI…PDI) a file would keep;
        // on a terminal (util-linux `script`), isolated as the client does.
        assert.match(text.out, /^\S+ seq=10 <amy> שלום עולם!$/m);
        const exportCommand = [
          "deno",
          ...denoRun("history.ts", [
            `--allow-read=${dir}`,
          ], ["export", "--format", "text", "--data-dir", `${dir}/data`]),
        ]
          .map((word) => `'${word}'`).join(" ");
        const terminal = await runCommand("script", [
          "-qfec",
          exportCommand,
          "/dev/null",
        ]);
        assert.equal(terminal.code, 0, terminal.out);
        assert.match(terminal.out, /seq=10 <amy> \u2068שלום עולם!\u2069\r?$/m);
        assert.doesNotMatch(text.out, /never stored/);
        const future = await history(dir, "export", "--since", "2999-01-01");
        assert.equal(future.out, "");
        const bad = await history(dir, "export", "--since", "last week");
        assert.equal(bad.code, 2);
        assert.match(bad.out, /Cannot use --since "last week"/);
        const nowhere = await runCommand(
          "deno",
          denoRun("history.ts", [`--allow-read=${dir}`], [
            "export",
            "--data-dir",
            `${dir}/nowhere`,
          ]),
        );
        assert.equal(nowhere.code, 1);
        assert.match(nowhere.out, /nowhere\/chat\.db.*Does it exist\?/);
        // Not allowed to read it: the data directory is the flag to add (it
        // named its journal, then, once added, the database, and so on).
        const denied = await runCommand(
          "deno",
          denoRun("history.ts", [], ["export", "--data-dir", `${dir}/data`]),
        );
        assert.equal(denied.code, 1);
        assert.match(
          denied.out,
          new RegExp(`Run with --allow-read=${dir}/data$`, "m"),
        );
        server.child.kill("SIGTERM");
        await server.exited();
      },
    );
    // Retention runs at start (then every minute), in the background.
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir, "--history-keep-rows", "3", "--history", "3"),
      async (server) => {
        using cat = await TestClient.join(server.port, "cat", { ca: ca.cert });
        const { said } = await readHistory(cat);
        assert.deepEqual(said, [
          "MSG amy line 6",
          "ME amy waves",
          "MSG amy שלום עולם!",
        ]);
        // The newest 3 of 8 messages were kept, and apart from them the
        // 2 joins (a shutdown announces no leaves); cat's join came after.
        const kept = (await exported(dir)).map((e) => e.seq);
        assert.deepEqual(kept, [1, 2, 8, 9, 10, 11]);
      },
    );
  });
});

Deno.test("server.ts refuses a second server on the same data directory", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (first) => {
        const second = await runCommand(
          "deno",
          denoRun("server.ts", serverPermissions(dir), loopbackArgs(dir)),
        );
        assert.equal(second.code, 1);
        assert.match(
          second.out,
          new RegExp(
            `Cannot start: Cannot use the data directory ".*data": another tlschat server \\(pid ${first.child.pid}\\) is using it`,
          ),
        );
      },
    );
  });
});

Deno.test("server.ts refuses a damaged or locked database with a clear error", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir, "--flood-rate", "0"),
      async (server) => {
        using amy = await TestClient.join(server.port, "amy", { ca: ca.cert });
        for (let i = 0; i < 60; i++) await amy.send(`${i} ${"x".repeat(200)}`);
        await amy.expect(/^MSG amy 59 /);
        server.child.kill("SIGTERM");
        await server.exited();
      },
    );
    const start = () =>
      runCommand(
        "deno",
        denoRun("server.ts", serverPermissions(dir), loopbackArgs(dir)),
      );
    const path = `${dir}/data/chat.db`;
    {
      using other = new DatabaseSync(path);
      other.exec("BEGIN IMMEDIATE");
      const locked = await start();
      assert.equal(locked.code, 1);
      assert.match(
        locked.out,
        /Cannot use the database ".*chat\.db": database is locked\. Another program is writing to it/,
      );
      other.exec("ROLLBACK");
    }
    const bytes = await Deno.readFile(path);
    bytes.fill(0x5a, 4096 * 2, 4096 * 4);
    await Deno.writeFile(path, bytes);
    const damaged = await start();
    assert.equal(damaged.code, 1);
    assert.match(
      damaged.out,
      /Cannot use the database ".*chat\.db": .*It is damaged or not a tlschat database; nothing was changed/,
    );
    // Nothing was changed.
    assert.deepEqual(await Deno.readFile(path), bytes);
  });
});

Deno.test("a full database: joins and renames are refused with ERR unavailable, a leave is announced once it can be stored, one log line per outage", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    await using s = await startServer("node", [], { store });
    using al = await TestClient.join(s.port, "al");
    using bob = await TestClient.join(s.port, "bob");
    using carol = await TestClient.join(s.port, "carol");
    await al.expect(/^JOIN carol 3$/);
    await bob.expect(/^JOIN carol 3$/);
    // No page more: tiny messages fill what room is left, until one fails
    // (every event below is bigger, so it fails too).
    const { page_count: pages } = store.db.prepare("PRAGMA page_count")
      .get() as { page_count: number };
    store.db.exec(`PRAGMA max_page_count = ${pages}`);
    for (let i = 0;; i++) {
      assert.ok(i < 5000, "the database never filled up");
      await al.send("x");
      const got = await al.expect(/^(MSG al x|ERR unavailable .*)$/);
      if (got.startsWith("ERR ")) break;
      await bob.expect(/^MSG al x$/);
    }
    // A join is refused, and the client may send its alias again later.
    using late = await TestClient.connect(s.port);
    await late.expect(/^HELLO /);
    await late.send("latecomer-with-a-long-alias");
    assert.match(
      (await late.readLine())!,
      /^ERR unavailable Cannot join room: the room cannot store events right now/,
    );
    // A rename is refused: the old alias stays.
    await bob.send("/nick bob-renamed-while-full");
    assert.equal(
      await bob.readLine(),
      'ERR unavailable Cannot change alias: the room cannot store events right now; you are still "bob"',
    );
    // A leave still ends the connection; the others do not hear of it yet.
    await carol.send("/quit see you after the outage");
    await carol.expect(/^BYE quit Goodbye$/);
    await bob.send("/who");
    assert.equal(await bob.readLine(), "WHO 2 al bob");
    // Storage is back: the leave is stored and announced first.
    store.db.exec("PRAGMA max_page_count = 1000000");
    await al.send("back");
    assert.equal(
      await al.expect(/^(LEAVE|MSG) /),
      "LEAVE carol 2 quit see you after the outage",
    );
    assert.equal(await al.readLine(), "MSG al back");
    assert.equal(
      await bob.expect(/^(LEAVE|MSG) /),
      "LEAVE carol 2 quit see you after the outage",
    );
    await late.send("latecomer-with-a-long-alias");
    await late.expect(/^WELCOME latecomer-with-a-long-alias 3 /);
    assert.equal(await al.readLine(), "JOIN latecomer-with-a-long-alias 3");
    await bob.send("/nick bob-renamed-while-full");
    assert.equal(
      await bob.expect(/^NICK /),
      "NICK bob bob-renamed-while-full 3",
    );
    const logged = s.logs.lines.filter((l) => / history-/.test(l));
    assert.equal(logged.length, 2, logged.join("\n"));
    assert.match(logged[0]!, /ERROR history-failed what=commit /);
    assert.match(logged[1]!, /INFO history-resumed/);
  });
});
