/**
 * `RedisLink.command` on a real Redis (`redis-server` on a free loopback
 * port): a command whose connection went before node-redis wrote it
 * surely did not run (an append is refused at once, not held in doubt for
 * `--redis-retry`). One written before its connection broke may have run:
 * the cluster tests (`cluster_test.ts`) hold it in doubt.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import {
  RedisLink,
  surelyNotRun,
  UnwrittenError,
} from "../../../lib/server/cluster/redis.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";

/** The server's defaults, for the link's limits. */
const DEFAULTS = parseServerArgs([]);
const quiet = createLogger("error", () => {});

/** Runs `body` with `open`, which opens links on a fresh Redis. */
async function withRedis(
  body: (open: () => Promise<RedisLink>) => Promise<void>,
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
        return link;
      });
    } finally {
      for (const link of links) await link.close();
    }
  });
}

Deno.test("a command whose connection went before it was written surely did not run", async () => {
  await withRedis(async (open) => {
    const link = await open();
    // Taken while the connection looked ready; dropped before the write
    // (as when its close is seen in between): the same error as a command
    // written and lost (was: in doubt, an append held for --redis-retry).
    const answer = link.command(["INCR", "t:count"]);
    link.commands.destroy();
    const error = await answer.then(() => null, (e) => e);
    assert.ok(error instanceof UnwrittenError, String(error));
    assert.equal(surelyNotRun(error), true);
    const other = await open();
    assert.equal(await other.command(["GET", "t:count"]), null);
  });
});
