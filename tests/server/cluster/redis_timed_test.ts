/**
 * Tests of `timed()` (cluster/redis.ts), without Redis: the deadline, and
 * that only answers are observed in the command histogram.
 */

import assert from "node:assert/strict";
import { timed } from "../../../lib/server/cluster/redis.ts";
import { Histogram } from "../../../lib/server/metrics/registry.ts";

Deno.test("timed() observes how long answers took, not failures nor timeouts", async () => {
  const took = new Histogram([0.001, 1]);
  assert.equal(await timed(Promise.resolve("PONG"), 1_000, took), "PONG");
  assert.equal(took.count, 1);
  await assert.rejects(
    timed(Promise.reject(new Error("ERR refused")), 1_000, took),
    /ERR refused/,
  );
  const never = new Promise<never>(() => {});
  await assert.rejects(
    timed(never, 10, took),
    /Redis did not answer within 10 ms/,
  );
  assert.equal(took.count, 1, "only the answer");
});
