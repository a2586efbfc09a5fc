/**
 * The cluster's heartbeat on a fake clock against a fake Redis link: after
 * a break (its start, or an outage that failed its beats), a server judges
 * the others lost only once the last of them had time to reconnect to
 * Redis (the reconnect backoff's cap) and beat, even with a `--lost-after`
 * shorter than that; and it asks the `beat` script for the same grace.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import type { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { graceMs, Heartbeat } from "../../../lib/server/cluster/heartbeat.ts";
import { FakeClock } from "../../_fakes.ts";

/** A link whose `beat` reports server `s1` lost, or fails while `down`. */
function fakeLink() {
  const calls: { script: string; args: string[] }[] = [];
  const state = { down: false };
  const link = {
    run(script: string, args: string[]): Promise<unknown> {
      calls.push({ script, args });
      if (state.down) return Promise.reject(new Error("Redis is away"));
      return Promise.resolve(script === "beat" ? [0, 1, "s1"] : 1);
    },
  };
  return { link: link as unknown as RedisLink, calls, state };
}

const OPTIONS = {
  heartbeatMs: 200,
  lostAfterMs: 1_000,
  redisReconnectMaxMs: 2_000,
};

Deno.test("graceMs() is --lost-after, or the reconnect cap and a heartbeat when that is longer", () => {
  assert.equal(graceMs({ ...OPTIONS } as never), 2_200);
  assert.equal(graceMs({ ...OPTIONS, lostAfterMs: 5_000 } as never), 5_000);
});

Deno.test("Heartbeat judges others lost only after beating for the reconnect cap and a heartbeat since a break, not --lost-after alone", async () => {
  const clock = new FakeClock();
  const { link, calls, state } = fakeLink();
  const heartbeat = new Heartbeat(link, "s0", {
    ...OPTIONS,
    clock,
    log: createLogger("error", () => {}),
    after: () => Promise.resolve(),
  });
  const evictions = () => calls.filter((call) => call.script === "evict");
  try {
    await heartbeat.start();
    // The beat script is asked for the same grace (its calm after an outage).
    assert.deepEqual(calls[0], {
      script: "beat",
      args: ["s0", "1000", "400", "2200"],
    });
    await clock.advance(2_000); // past --lost-after, within the grace
    assert.equal(evictions().length, 0);
    await clock.advance(200); // the beat at 2.2 s
    assert.equal(evictions().length, 1);
    assert.equal(evictions()[0]!.args[0], "s1");
    // An outage: beats fail, then succeed again; the grace starts over.
    state.down = true;
    await clock.advance(1_000);
    state.down = false;
    const back = evictions().length;
    await clock.advance(200); // the first beat that gets through again
    await clock.advance(2_000);
    assert.equal(evictions().length, back);
    await clock.advance(200);
    assert.equal(evictions().length, back + 1);
  } finally {
    heartbeat.stop();
  }
});
