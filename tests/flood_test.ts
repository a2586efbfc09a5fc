/** Tests of the token bucket, with a fake clock. */

import assert from "node:assert/strict";
import { TokenBucket } from "../lib/flood.ts";

Deno.test("TokenBucket.take() allows a burst, then spaces lines at the rate", () => {
  let now = 0;
  const bucket = new TokenBucket(5, 3, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 0]);
  assert.equal(bucket.take(), 200);
  assert.equal(bucket.take(), 400); // the previous line reserved its token
  now = 400;
  assert.equal(bucket.take(), 200);
});

Deno.test("TokenBucket.take() refills at the rate up to the burst, not beyond", () => {
  let now = 0;
  const bucket = new TokenBucket(10, 2, () => now);
  bucket.take();
  bucket.take();
  now = 100_000; // a long pause refills only 2 tokens
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 100]);
});

Deno.test("TokenBucket.take() never waits when the rate is 0", () => {
  const bucket = new TokenBucket(0, 1, () => 0);
  for (let i = 0; i < 1000; i++) assert.equal(bucket.take(), 0);
});

Deno.test("TokenBucket.excuse() lets what one wait excused lapse at the next: waits never add up", () => {
  let now = 0;
  const bucket = new TokenBucket(5, 10, () => now);
  // As a session under a room kept congested: each line waits 1.9 s for
  // the room, is excused, then taken.
  for (let i = 0; i < 100; i++) {
    now += 1_900;
    bucket.excuse(1_900);
    assert.equal(bucket.take(), 0);
  }
  let free = 0;
  while (bucket.take() === 0) free++;
  // One burst (10) and the last wait's 9.5 lines, less the line it took.
  assert.ok(free <= 19, `${free} lines at once, at most 19`);
});
