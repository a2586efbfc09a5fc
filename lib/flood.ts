/**
 * Flood control: a token bucket per client. It holds at most `burst` tokens
 * and refills at `ratePerSecond`; each line takes one. It only computes how
 * long a line must wait; the session does the waiting and decides when a
 * client has been over the rate for too long. Time comes from a `now`
 * function so tests need no clock.
 *
 * @module
 */

/** Token bucket that answers "how long must this line wait?". */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #updatedMs: number;
  #now: () => number;

  /**
   * Creates a full bucket. A rate of 0 disables it: {@linkcode take} always
   * returns 0.
   */
  constructor(ratePerSecond: number, burst: number, now: () => number) {
    this.ratePerSecond = ratePerSecond;
    this.burst = Math.max(1, burst);
    this.#tokens = this.burst;
    this.#now = now;
    this.#updatedMs = now();
  }

  /**
   * Takes one token and returns how many milliseconds the caller must wait
   * before using it: 0 when a token was available. Tokens owed by waiting
   * callers are reserved, so successive waits are spaced at the rate.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TokenBucket } from "./flood.ts";
   *
   * let now = 0;
   * const bucket = new TokenBucket(2, 2, () => now);
   * assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 500]);
   * now = 1500;
   * assert.equal(bucket.take(), 0);
   * ```
   */
  take(): number {
    if (this.ratePerSecond <= 0) return 0;
    const now = this.#now();
    const refill = (now - this.#updatedMs) / 1000 * this.ratePerSecond;
    this.#tokens = Math.min(this.burst, this.#tokens + refill);
    this.#updatedMs = now;
    this.#tokens -= 1;
    return this.#tokens >= 0
      ? 0
      : Math.ceil(-this.#tokens / this.ratePerSecond * 1000);
  }
}
