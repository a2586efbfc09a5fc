/**
 * `/search` on a cluster server that was killed and started again finds
 * what was said while it was down: at start it catches its index up from
 * the shared stream, from the last line it had indexed.
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
