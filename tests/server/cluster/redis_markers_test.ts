/**
 * `RedisReadMarkers` on a real Redis (`redis-server` on a free loopback
 * port): the ReadMarkers contract (a reopen is a new link, as a server
 * restarting), and what only a cluster does: a marker set on one server
 * is heard by the others' listeners, and by its own once.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { RedisReadMarkers } from "../../../lib/server/cluster/redis_markers.ts";
import type { ReadMark } from "../../../lib/server/room/read_markers.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";
import { MARKER_LIMITS, MARKERS_CASES } from "../room/read_markers_contract.ts";

/** The server's defaults, for the link's limits. */
const DEFAULTS = parseServerArgs([]);
const quiet = createLogger("error", () => {});

/** Runs `body` with a way to open servers' markers on a fresh Redis. */
async function withRedis(
  body: (open: () => Promise<RedisReadMarkers>) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const links: RedisLink[] = [];
    try {
      await body(async () => {
        const link = await RedisLink.open({
          ...DEFAULTS,
          url: redis.url(),
          cluster: "t",
          streamEntries: 100,
          log: quiet,
        });
        links.push(link);
        return await RedisReadMarkers.open(link, {
          ...MARKER_LIMITS,
          log: quiet,
        });
      });
    } finally {
      for (const link of links) await link.close();
    }
  });
}

for (const contract of MARKERS_CASES) {
  Deno.test(`RedisReadMarkers: ${contract.name}`, async () => {
    await withRedis(async (open) => {
      await contract.run({ markers: await open(), reopen: () => open() });
    });
  });
}

/** What a listener heard, and a wait for its `n`th line. */
function listen(markers: RedisReadMarkers) {
  const heard: string[] = [];
  const waiters: [number, () => void][] = [];
  markers.watch((account, m) => {
    heard.push(`${account} ${m.room} ${m.seq} ${m.by}`);
    for (const [n, wake] of waiters) if (heard.length >= n) wake();
  });
  return {
    heard,
    count: (n: number) =>
      new Promise<void>((resolve) => {
        if (heard.length >= n) resolve();
        else waiters.push([n, resolve]);
      }),
  };
}

Deno.test("RedisReadMarkers: a marker set on one server is heard on the others, and once on its own", async () => {
  await withRedis(async (open) => {
    const one = await open();
    const two = await open();
    const onOne = listen(one);
    const onTwo = listen(two);
    const mark = (seq: number, by: string): ReadMark => ({
      room: "#ops",
      epoch: "e1",
      seq,
      by,
    });
    assert.equal(await one.set("Alice", mark(5, "s1/1")), true);
    await onTwo.count(1);
    assert.deepEqual(onTwo.heard, ["alice #ops 5 s1/1"]);
    assert.equal(await two.set("alice", mark(4, "s2/1")), false);
    assert.equal(await two.set("alice", mark(8, "s2/1")), true);
    await onOne.count(2); // its own echo of 5 came before this
    assert.deepEqual(onOne.heard, ["alice #ops 5 s1/1", "alice #ops 8 s2/1"]);
    assert.deepEqual(onTwo.heard, ["alice #ops 5 s1/1", "alice #ops 8 s2/1"]);
  });
});
