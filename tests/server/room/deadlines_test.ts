/**
 * Tests of {@linkcode Deadlines}: many deadlines on one clock timer, run in
 * order of time (then of setting), cleared ones let go of at once.
 */

import assert from "node:assert/strict";
import { Deadlines } from "../../../lib/server/room/deadlines.ts";
import { FakeClock } from "../../_fakes.ts";

Deno.test("Deadlines run in order of time, then of setting, on one clock timer", async () => {
  const clock = new FakeClock();
  const deadlines = new Deadlines(clock);
  const ran: string[] = [];
  const at = (name: string) => () => ran.push(`${name}@${clock.now() % 10000}`);
  const start = clock.now() % 10000;
  deadlines.set(at("c"), 300);
  deadlines.set(at("a"), 100);
  deadlines.set(at("b1"), 200);
  deadlines.set(at("b2"), 200);
  assert.equal(clock.pending, 1, "one clock timer for all");
  assert.equal(deadlines.size, 4);
  await clock.advance(250);
  assert.deepEqual(ran, [
    `a@${start + 100}`,
    `b1@${start + 200}`,
    `b2@${start + 200}`,
  ]);
  // One set while others run, due before the last one.
  deadlines.set(() => {
    ran.push("d");
    deadlines.set(at("e"), 10);
  }, 20);
  await clock.advance(100);
  assert.deepEqual(ran.slice(3), ["d", `e@${start + 280}`, `c@${start + 300}`]);
  assert.equal(deadlines.size, 0);
  assert.equal(clock.pending, 0, "no timer once none is left");
});

Deno.test("Deadlines: a cleared one never runs, and the last one cleared stops the clock timer", async () => {
  const clock = new FakeClock();
  const deadlines = new Deadlines(clock);
  const ran: string[] = [];
  const first = deadlines.set(() => ran.push("first"), 100);
  const second = deadlines.set(() => ran.push("second"), 200);
  deadlines.clear(first);
  deadlines.clear(first); // twice: no effect
  assert.equal(deadlines.size, 1);
  await clock.advance(150);
  assert.equal(ran.length, 0);
  deadlines.clear(second);
  assert.equal(clock.pending, 0);
  await clock.advance(100);
  assert.equal(ran.length, 0);
  deadlines.clear(undefined);
  // Set again after all were cleared.
  deadlines.set(() => ran.push("again"), 10);
  await clock.advance(10);
  assert.deepEqual(ran, ["again"]);
});

Deno.test("Deadlines: once the last live one has run, no clock timer is left for the cleared ones", async () => {
  // A member's idle deadline (cleared when it dropped) behind its resume
  // grace: when the grace ran, a timer was armed for the cleared one, and
  // the server lived on after shutdown until it fired (minutes).
  const clock = new FakeClock();
  const deadlines = new Deadlines(clock);
  const ran: string[] = [];
  const idle = deadlines.set(() => ran.push("idle"), 150_000);
  deadlines.set(() => ran.push("grace"), 2_000);
  deadlines.clear(idle);
  await clock.advance(2_000);
  assert.deepEqual(ran, ["grace"]);
  assert.equal(deadlines.size, 0);
  assert.equal(clock.pending, 0, "no timer once none is left");
});
