/**
 * Tests of the token bucket, with a fake clock, and of `Stalls`, the
 * measure of the event loop standing still that the bucket excuses.
 */

import assert from "node:assert/strict";
import { Stalls } from "../lib/clock.ts";
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

Deno.test("TokenBucket.excuse(): what waits excused never adds up", () => {
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

/** A clock whose time the test sets, and whose one timer it fires. */
function handClock() {
  const clock = {
    t: 0,
    due: null as (() => void) | null,
    now: () => clock.t,
    setTimeout(fn: () => void) {
      clock.due = fn;
      return 1;
    },
    clearTimeout() {
      clock.due = null;
    },
    /** Moves time on by `ms`, then fires the timer (late, if `ms` > 50). */
    tick(ms: number) {
      clock.t += ms;
      clock.due!();
    },
  };
  return clock;
}

Deno.test("Stalls counts the loop standing still, not a timer's usual lateness; never goes back; one tick counts a minute at most", () => {
  const clock = handClock();
  const stalls = new Stalls(clock, 50);
  for (let i = 0; i < 10; i++) clock.tick(50);
  assert.equal(stalls.ms, 0);
  // Every timer 30 ms late, a hundred times: a busy loop, not a stall.
  for (let i = 0; i < 100; i++) clock.tick(80);
  assert.equal(stalls.ms, 0);
  // The loop held for a second: counted as soon as it is over, before the
  // timer runs (a socket's read may come first), and the same after.
  clock.t += 1_050;
  assert.equal(stalls.ms, 950);
  clock.due!();
  assert.equal(stalls.ms, 950);
  clock.tick(50);
  assert.equal(stalls.ms, 950);
  // The wall clock stepped ten hours: a minute at most.
  clock.tick(36_000_000);
  assert.equal(stalls.ms, 60_950);
  stalls[Symbol.dispose]();
  assert.equal(clock.due, null);
});

Deno.test("Stalls.latestMs is the longer of the stall under way and the last one counted, however many came before", () => {
  const clock = handClock();
  const stalls = new Stalls(clock, 50);
  assert.equal(stalls.latestMs, 0);
  clock.tick(1_050); // held for a second
  clock.tick(50);
  clock.tick(400); // held for 300 ms
  clock.tick(50);
  assert.equal(stalls.ms, 1_250);
  assert.equal(stalls.latestMs, 300);
  clock.t += 300; // held 200 ms so far, its timer not run yet
  assert.equal(stalls.latestMs, 300);
  clock.t += 200; // 400 ms so far
  assert.equal(stalls.latestMs, 400);
  clock.due!();
  clock.tick(50);
  assert.equal(stalls.latestMs, 400);
  assert.equal(stalls.ms, 1_650);
  stalls[Symbol.dispose]();
});

Deno.test("TokenBucket.excuse() never lowers what an earlier excuse left (a stall after a wait), and excuses do not add up", () => {
  let now = 0;
  const bucket = new TokenBucket(5, 10, () => now);
  now = 4_000;
  bucket.excuse(4_000); // a congestion wait: 10 + 20
  bucket.excuse(1_000); // a stall after it: still 30, not 10 + 5
  const free = Array.from({ length: 31 }, () => bucket.take());
  assert.equal(free.filter((ms) => ms === 0).length, 30);
  // A longer stall on a full bucket: its own excuse only.
  now += 60_000;
  bucket.excuse(2_000);
  bucket.excuse(2_000);
  const again = Array.from({ length: 21 }, () => bucket.take());
  assert.equal(again.filter((ms) => ms === 0).length, 20);
});

Deno.test("TokenBucket.excuse(): what an excuse left unused lapses at the rate, so a wait cannot be saved for a flood later", () => {
  let now = 0;
  const bucket = new TokenBucket(5, 10, () => now);
  now = 10_000;
  bucket.excuse(10_000); // kept waiting 10 s by a busy room, sending nothing
  // Five minutes later: a burst only, not the 50 lines the wait excused.
  now += 300_000;
  let free = 0;
  while (bucket.take() === 0) free++;
  assert.equal(free, 10);
  // Lines that piled up come at once after the wait: all of them excused,
  // and what is left lapses over as long as the wait lasted.
  now += 60_000;
  bucket.excuse(10_000);
  assert.equal(Array.from({ length: 30 }, () => bucket.take()).at(-1), 0);
  now += 4_000; // 20 lapsed (of 30 left), none refilled above the burst
  free = 0;
  while (bucket.take() === 0) free++;
  assert.equal(free, 10);
});
