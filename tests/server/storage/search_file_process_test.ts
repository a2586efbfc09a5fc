/**
 * The search index of a real server process: its own file, `search.db`,
 * beside `chat.db` (which has no index table), written by its worker while
 * the server runs, kept over a restart, and made again from `chat.db` when
 * it is missing. A clean shutdown (SIGTERM) writes the last lines first.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  loopbackArgs,
  serverPermissions,
  ServerProcess,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";

/** Searches; the answer without numbers and times. */
async function search(client: TestClient, words: string): Promise<string[]> {
  await client.send(`/search ${words}`);
  const lines: string[] = [];
  for (;;) {
    const line = await client.expect(/^(FOUND|FOUNDEND|ERR) /);
    lines.push(line.replace(/^FOUND (\S+) \d+ \S+Z /, "FOUND $1 "));
    if (!line.startsWith("FOUND ")) return lines;
  }
}

/**
 * The nice value of each thread of process `pid`, its own (the event
 * loop's) first (Deno grants `/proc` to `-A` only: read by `bash`).
 */
async function threadNices(pid: number): Promise<number[]> {
  const { stdout } = await new Deno.Command("bash", {
    args: [
      "-c",
      `cd /proc/${pid}/task && for t in ${pid} *; do
      [ "$t" = "${pid}" ] && [ -n "$seen" ] && continue; seen=1
      sed 's/.*) //' "$t/stat" | cut -d' ' -f17; done`,
    ],
  }).output();
  return new TextDecoder().decode(stdout).trim().split("\n").map(Number);
}

/** The tables of the SQLite file at `path`. */
function tables(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all().map((row) => String(row.name));
  } finally {
    db.close();
  }
}

Deno.test("server.ts keeps its search index in data/search.db, written by its worker, kept over a restart and made again from chat.db when missing", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    const args = loopbackArgs(dir);
    const permissions = serverPermissions(dir);
    const join = (server: ServerProcess, alias: string) =>
      TestClient.join(server.port, alias, { ca: ca.cert });
    // A clean shutdown: the last lines are written before the exit.
    {
      const server = await ServerProcess.start(permissions, args);
      try {
        using amy = await join(server, "amy");
        await amy.send("deploy on friday");
        await amy.expect(/^MSG amy deploy on friday$/);
        server.child.kill("SIGTERM");
        assert.equal((await server.exited()).code, 0);
      } catch (e) {
        throw server.annotate(e);
      } finally {
        await server[Symbol.asyncDispose]();
      }
    }
    assert.ok(tables(`${dir}/data/search.db`).includes("search"));
    {
      const index = new DatabaseSync(`${dir}/data/search.db`);
      const rows = index.prepare("SELECT text FROM search").all();
      index.close();
      assert.deepEqual(rows.map((row) => row.text), ["deploy on friday"]);
    }
    assert.ok(!tables(`${dir}/data/chat.db`).includes("search"));
    const found = [
      "FOUND #lobby MSG amy deploy on friday",
      "FOUNDEND 1 End of search: 1 line",
    ];
    // May it set priorities, its index's worker runs in the background.
    const background = [...permissions, "--allow-sys=setPriority"];
    await withServerProcess(background, args, async (server) => {
      using bob = await join(server, "bob");
      assert.deepEqual(await search(bob, "depl"), found, "kept");
      const [own, ...others] = await threadNices(server.child.pid);
      assert.equal(own, 0, "the event loop keeps its priority");
      assert.deepEqual(others.filter((nice) => nice !== 0), [19]);
    });
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(`${dir}/data/search.db${suffix}`).catch(() => {});
    }
    await withServerProcess(permissions, args, async (server) => {
      using bob = await join(server, "bob");
      assert.deepEqual(await search(bob, "friday"), found, "made again");
      const nices = await threadNices(server.child.pid);
      assert.deepEqual(nices.filter((nice) => nice !== 0), [], "not allowed");
    });
  });
});
