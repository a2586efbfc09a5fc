/**
 * Time as a dependency: a {@linkcode Clock} gives the current time and
 * one-shot timers, so that code with deadlines (sessions, flood control,
 * goodbyes) can be driven by a fake clock in tests, instantly and
 * deterministically. {@linkcode systemClock} is the real one. Timers left
 * behind are the caller's to clear; {@linkcode sleep} clears its own.
 *
 * @module
 */

/** Handle of a timer started by a {@linkcode Clock}. */
export type TimerId = number;

/** The current time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; ignores `undefined` and timers that already ran. */
  clearTimeout(id: TimerId | undefined): void;
}

/** The real clock: `Date.now` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  // Deno's timers are numbers (node typings, when loaded, say otherwise).
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerId,
  clearTimeout: (id) => clearTimeout(id),
};

/**
 * Waits `ms` milliseconds on `clock`. Resolves to true when the time passed,
 * or to false as soon as `signal` aborts (at once if it already has). Leaves
 * no timer behind once settled.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep, systemClock } from "./clock.ts";
 *
 * assert.equal(await sleep(systemClock, 1), true);
 * assert.equal(await sleep(systemClock, 60_000, AbortSignal.abort()), false);
 * ```
 */
export function sleep(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      resolve(false);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Resolves when `promise` does or `signal` aborts, whichever is first (as
 * {@linkcode sleep} for a wait on something else); leaves no listener.
 */
export function untilAborted(
  promise: Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    promise.then(done, done);
  });
}

/** How long the event loop has stood still, in milliseconds. */
export interface StallMeter {
  /** In all so far, a stall under way included. */
  readonly ms: number;
  /**
   * The last stall: the longer of the one under way and the last one
   * counted (a member read late after a stall may be read in the next).
   */
  readonly latestMs: number;
}

/**
 * The most one tick of {@linkcode Stalls} counts: a longer gap is more
 * likely the wall clock stepping (a VM resumed, NTP) than the loop held.
 */
const LONGEST_STALL_MS = 60_000;

/**
 * Measures how long the event loop stood still (a long collection, a
 * slow disk, the process descheduled): a timer set every `periodMs` that
 * fires later than another period adds what it was late beyond that (a
 * timer's usual lateness never adds up), and one overdue now counts as
 * far as it is, so that {@linkcode Stalls.ms} never goes back and
 * includes a stall that has just ended, whichever callback runs first
 * after it. A stall counts from a period to two periods short.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Stalls, systemClock } from "./clock.ts";
 *
 * using stalls = new Stalls(systemClock, 10);
 * const start = Date.now();
 * while (Date.now() - start < 200) {} // the loop held for 200 ms
 * assert.ok(stalls.ms >= 150);
 * ```
 */
export class Stalls implements StallMeter, Disposable {
  #clock: Clock;
  #periodMs: number;
  #expected: number;
  #total = 0;
  #latest = 0;
  #timer: TimerId;

  /** Starts measuring on `clock`; dispose of it to stop. */
  constructor(clock: Clock, periodMs = 50) {
    this.#clock = clock;
    this.#periodMs = periodMs;
    this.#expected = clock.now() + periodMs;
    this.#timer = clock.setTimeout(this.#tick, periodMs);
  }

  /** Milliseconds the loop stood still since the start, a stall under way included. */
  get ms(): number {
    return this.#total + this.#late(this.#clock.now());
  }

  /** The longer of the stall under way and the last one counted. */
  get latestMs(): number {
    return Math.max(this.#late(this.#clock.now()), this.#latest);
  }

  /** What the timer due at `#expected` is late at `now`, as counted. */
  #late(now: number): number {
    const late = now - this.#expected - this.#periodMs;
    return Math.min(LONGEST_STALL_MS, Math.max(0, late));
  }

  #tick = (): void => {
    const now = this.#clock.now();
    const late = this.#late(now);
    this.#total += late;
    if (late > 0) this.#latest = late;
    this.#expected = now + this.#periodMs;
    this.#timer = this.#clock.setTimeout(this.#tick, this.#periodMs);
  };

  /** Stops measuring. */
  [Symbol.dispose](): void {
    this.#clock.clearTimeout(this.#timer);
  }
}
