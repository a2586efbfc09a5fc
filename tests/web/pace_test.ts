/**
 * Tests of the page's pace (web/pace.js) against the terminal client's
 * (`pacingBucket` in lib/flood.ts): the same cases give the same waits;
 * the pacer's lines, on a fake clock, never make the server's own bucket
 * wait; the greeting's limits read as the terminal client reads them; and
 * the reducer asks for the pace and for holding back. No sockets, no
 * sleeps.
 */

import assert from "node:assert/strict";
import { pacingBucket, TokenBucket } from "../../lib/flood.ts";
import { parseHelloParams } from "../../lib/server_lines.ts";
import {
  holdBack,
  type Pace,
  Pacer,
  pacing,
  take,
  UNPACED,
} from "../../web/pace.js";
import { floodLimits } from "../../web/protocol.js";
import { FakePage } from "./_fake_page.ts";

/**
 * A case: a server's limits, then lines taken at these times (ms), each
 * with the wait both pacers must give it.
 */
interface PaceCase {
  name: string;
  rate: number;
  burst: number;
  takes: readonly (readonly [at: number, waitMs: number])[];
}

const CASES: readonly PaceCase[] = [
  {
    // 90% of 5 a second, 2 of 3 tokens: then one every 223 ms (ceil).
    name: "a burst with a token spare, then 90% of the rate",
    rate: 5,
    burst: 3,
    takes: [[0, 0], [0, 0], [0, 223], [0, 445], [445, 222]],
  },
  {
    name: "a long pause refills the burst, not beyond",
    rate: 10,
    burst: 3,
    takes: [[0, 0], [0, 0], [100_000, 0], [100_000, 0], [100_000, 112]],
  },
  {
    name: "a burst of 1 keeps one token",
    rate: 20,
    burst: 1,
    takes: [[0, 0], [0, 56], [56, 56], [200, 0]],
  },
  {
    name: "no flood control: never a wait",
    rate: 0,
    burst: 10,
    takes: [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]],
  },
];

for (const { name, rate, burst, takes } of CASES) {
  Deno.test(`take() waits as pacingBucket() does: ${name}`, () => {
    let now = 0;
    const bucket = rate > 0 ? pacingBucket(rate, burst, () => now) : null;
    let pace = pacing({ rate, burst }, 0);
    for (const [at, waitMs] of takes) {
      now = at;
      const taken = take(pace, at);
      pace = taken.pace;
      assert.equal(bucket?.take() ?? 0, waitMs, `terminal at ${at}`);
      assert.equal(taken.waitMs, waitMs, `page at ${at}`);
    }
  });
}

Deno.test("pacing() keeps the terminal client's margin: 90% of the rate, one token of the burst spare", () => {
  for (const [rate, burst] of [[10, 5], [5, 10], [20, 1], [7, 0], [3, 1.5]]) {
    const bucket = pacingBucket(rate!, burst!, () => 0);
    const pace = pacing({ rate: rate!, burst: burst! }, 0);
    assert.deepEqual([pace.rate, pace.burst], [
      bucket.ratePerSecond,
      bucket.burst,
    ]);
  }
  assert.equal(pacing({ rate: 0, burst: 10 }, 5), UNPACED);
  assert.equal(pacing({ rate: NaN, burst: 10 }, 5), UNPACED);
});

Deno.test("holdBack() holds the next line for a burst's time, as the terminal client's backOff() does", () => {
  let pace: Pace = pacing({ rate: 10, burst: 5 }, 0);
  pace = holdBack(pace, 1000); // 4 tokens at 9 a second: 445 ms (ceil)
  assert.equal(pace.holdUntil, 1445);
  const { waitMs, pace: after } = take(pace, 1000);
  assert.equal(waitMs, 445);
  // Its bucket full: the line after it goes with it.
  assert.equal(take(after, pace.holdUntil).waitMs, 0);
  assert.equal(holdBack(UNPACED, 1000), UNPACED);
});

/** A clock whose timers run when the test moves it on. */
class FakeClock {
  now = 0;
  #timers: { at: number; run: () => void; id: number }[] = [];
  #ids = 0;

  setTimer = (run: () => void, ms: number) => {
    const id = ++this.#ids;
    this.#timers.push({ at: this.now + ms, run, id });
    return id;
  };

  clearTimer = (id: unknown) => {
    this.#timers = this.#timers.filter((timer) => timer.id !== id);
  };

  get pending(): number {
    return this.#timers.length;
  }

  /** Runs every timer due by `until`, in time order, the clock at each. */
  runUntil(until: number): void {
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next === undefined || next.at > until) break;
      this.#timers.shift();
      this.now = next.at;
      next.run();
    }
    this.now = until;
  }
}

/** A pacer on a fake clock, with each line sent and when. */
function pacedOn(clock: FakeClock) {
  const sent: [at: number, line: string][] = [];
  const pacer = new Pacer((line) => sent.push([clock.now, line]), {
    now: () => clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
  });
  return { pacer, sent };
}

Deno.test("Pacer sends a page's rejoin in many rooms in order, never making the server's bucket wait", () => {
  const clock = new FakeClock();
  const { pacer, sent } = pacedOn(clock);
  const server = new TokenBucket(20, 5, () => clock.now);
  pacer.paceTo({ rate: 20, burst: 5 });
  // As a page in 16 rooms past the grace: the greeting's, then at WELCOME
  // a /join each, then a /who each as the JOINs come.
  pacer.send(["/cap ids rooms seq resume", "/resume E #lobby=3", "rosa"]);
  const rooms = Array.from({ length: 16 }, (_, i) => `#r${i}`);
  pacer.send(rooms.map((room) => `/join ${room}`));
  pacer.send(rooms.map((room) => `${room} /who`));
  assert.equal(sent.length, 4, "the burst less one at once");
  clock.runUntil(60_000);
  assert.deepEqual(sent.map(([, line]) => line), [
    "/cap ids rooms seq resume",
    "/resume E #lobby=3",
    "rosa",
    ...rooms.map((room) => `/join ${room}`),
    ...rooms.map((room) => `${room} /who`),
  ]);
  for (const [at, line] of sent) {
    clock.now = at;
    assert.equal(server.take(), 0, `${line} at ${at} ms waited`);
  }
  // 35 lines: 4 at once, then 31 at 18 a second.
  assert.equal(sent.at(-1)![0], Math.ceil(31 / 18 * 1000));
  assert.equal(pacer.waiting, 0);
});

Deno.test("Pacer sends at once until paced (no flood control, or before the greeting)", () => {
  const clock = new FakeClock();
  const { pacer, sent } = pacedOn(clock);
  pacer.send(Array.from({ length: 50 }, (_, i) => `line ${i}`));
  assert.equal(sent.length, 50);
  pacer.paceTo({ rate: 0, burst: 10 });
  pacer.send(["more"]);
  assert.equal(sent.length, 51);
  assert.equal(clock.pending, 0);
});

Deno.test("Pacer.holdBack() delays lines not yet on their way; stop() drops what waits and returns it, for the page to tell", () => {
  const clock = new FakeClock();
  const { pacer, sent } = pacedOn(clock);
  pacer.paceTo({ rate: 10, burst: 2 }); // 9 a second, 1 token
  pacer.send(["a", "b"]);
  assert.deepEqual(sent, [[0, "a"]]);
  clock.runUntil(112);
  assert.deepEqual(sent, [[0, "a"], [112, "b"]]);
  pacer.holdBack(); // ERR flood: 1 token's time, 112 ms, from 112
  pacer.send(["c"]);
  clock.runUntil(223);
  assert.deepEqual(sent.at(-1), [112, "b"]);
  clock.runUntil(224);
  assert.deepEqual(sent.at(-1), [224, "c"]);
  pacer.send(["d", "e", "f"]);
  assert.equal(pacer.waiting, 3);
  assert.deepEqual(pacer.stop(), ["d", "e", "f"]);
  assert.equal(pacer.waiting, 0);
  assert.equal(clock.pending, 0);
  clock.runUntil(10_000);
  assert.deepEqual(sent.at(-1), [224, "c"]);
});

Deno.test("floodLimits() reads a greeting's rate and burst as parseHelloParams() does", () => {
  for (
    const params of [
      "rate=5,burst=10,line=4096",
      "rate=0,burst=10",
      "burst=3",
      "rate=2.5,caps=ids+rooms",
      "rate=x,burst=",
      "rate=7,rate=9,burst=-1",
      "",
    ]
  ) {
    const { rate = 0, burst = 1 } = parseHelloParams(params);
    assert.deepEqual(floodLimits(params), { rate, burst }, params);
  }
});

Deno.test("reduce() asks to pace to the greeting's limits, and to hold back on ERR flood", () => {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  const greeted = page.line("HELLO tlschat/1 lobby rate=5,burst=10 Hi");
  assert.deepEqual(greeted.effects.pace, { rate: 5, burst: 10 });
  page.step({ type: "join", alias: "ann", password: "" });
  assert.equal(page.state.effects.pace, null);
  page.line("WELCOME ann 1 Hi");
  const throttled = page.line("ERR flood Slow down: more than 5 lines");
  assert.equal(throttled.effects.holdBack, true);
  assert.match(page.shown().at(-1)!, /Slow down/);
  assert.equal(page.line("ERR usage No").effects.holdBack, false);
});
