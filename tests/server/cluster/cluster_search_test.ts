/**
 * `/search` in a cluster: each server indexes what it reads from the
 * stream; a server started later (a new `search.db`, or one deleted)
 * takes back what the stream still holds; a server killed and started
 * again catches its index up from the stream, from the last line it had
 * indexed.
 */

import assert from "node:assert/strict";
import {
  type ServerProcess,
  testCertificates,
  TestClient,
} from "../../_helpers.ts";
import { startServer, withCluster } from "./_cluster.ts";

async function join(server: ServerProcess, alias: string) {
  const { ca } = await testCertificates();
  return await TestClient.join(server.port, alias, { ca: ca.cert });
}

/** Searches and returns the answer without seq and time. */
async function search(client: TestClient, words: string): Promise<string[]> {
  await client.send(`/search ${words}`);
  const lines: string[] = [];
  for (;;) {
    const line = await client.expect(/^(FOUND|FOUNDEND|ERR) /);
    lines.push(line.replace(/^FOUND (\S+) \d+ \S+Z /, "FOUND $1 "));
    if (!line.startsWith("FOUND ")) return lines;
  }
}

Deno.test("/search in a cluster: every server finds what was said on another; a server started later finds what it read since and what the stream held before", async () => {
  await withCluster(2, async ([s0, s1], redis, dir) => {
    using alice = await join(s0!, "alice");
    using bob = await join(s1!, "bob");
    await alice.send("deploy before");
    await alice.expect(/^MSG alice deploy before$/);
    await bob.expect(/^MSG alice deploy before$/);
    assert.deepEqual(await search(bob, "deploy"), [
      "FOUND #lobby MSG alice deploy before",
      "FOUNDEND 1 End of search: 1 line",
    ]);
    await using s2 = await startServer(dir, "s2", redis);
    using carol = await join(s2, "carol");
    await alice.send("deploy after");
    await carol.expect(/^MSG alice deploy after$/);
    // Its new index took back what the stream held from before it started.
    await s2.output.waitFor(/INFO search-caught-up /);
    assert.deepEqual(await search(carol, "deploy"), [
      "FOUND #lobby MSG alice deploy after",
      "FOUND #lobby MSG alice deploy before",
      "FOUNDEND 2 End of search: 2 lines",
    ]);
    await bob.expect(/^MSG alice deploy after$/);
    assert.deepEqual(await search(bob, "deploy"), [
      "FOUND #lobby MSG alice deploy after",
      "FOUND #lobby MSG alice deploy before",
      "FOUNDEND 2 End of search: 2 lines",
    ]);
  });
});

Deno.test("/search on a cluster server killed and started again finds what was said while it was down", async () => {
  await withCluster(2, async ([s0, s1], redis, dir) => {
    using alice = await join(s0!, "alice");
    {
      using bob = await join(s1!, "bob");
      await alice.send("alpha before");
      await bob.expect(/^MSG alice alpha before$/);
      // Indexed on s1 (a search answers once what came before is written).
      assert.equal((await search(bob, "alpha")).length, 2);
    }
    s1!.child.kill("SIGKILL");
    await s1!.exited();
    await alice.send("bravo while down");
    await alice.expect(/^MSG alice bravo while down$/);

    await using again = await startServer(dir, "s1", redis);
    const caughtUp = again.output
      .waitFor(/INFO search-caught-up /, { timeoutMs: 10_000 })
      .then(() => true, () => false);
    using carol = await join(again, "carol");
    const told = await caughtUp;
    assert.deepEqual(await search(carol, "bravo"), [
      "FOUND #lobby MSG alice bravo while down",
      "FOUNDEND 1 End of search: 1 line",
    ]);
    assert.ok(told, "the restarted server logs its index caught up");
    assert.deepEqual(await search(carol, "alpha"), [
      "FOUND #lobby MSG alice alpha before",
      "FOUNDEND 1 End of search: 1 line",
    ]);
  });
});

Deno.test("/search on a cluster server whose search.db was deleted finds what the stream still holds, said before it started", async () => {
  await withCluster(2, async ([s0, s1], redis, dir) => {
    using alice = await join(s0!, "alice");
    {
      using bob = await join(s1!, "bob");
      await alice.send("charlie before");
      await bob.expect(/^MSG alice charlie before$/);
      assert.equal((await search(bob, "charlie")).length, 2);
    }
    await s1![Symbol.asyncDispose]();
    for (const end of ["", "-wal", "-shm"]) {
      await Deno.remove(`${dir}/s1/search.db${end}`).catch(() => {});
    }
    await alice.send("charlie while down");
    await alice.expect(/^MSG alice charlie while down$/);

    await using again = await startServer(dir, "s1", redis);
    await again.output.waitFor(/INFO search-caught-up /, { timeoutMs: 10_000 });
    using carol = await join(again, "carol");
    assert.deepEqual(await search(carol, "charlie"), [
      "FOUND #lobby MSG alice charlie while down",
      "FOUND #lobby MSG alice charlie before",
      "FOUNDEND 2 End of search: 2 lines",
    ]);
  });
});
