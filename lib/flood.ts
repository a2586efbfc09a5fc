/**
 * Flood control: a token bucket per client. It holds at most `burst` tokens
 * and refills at `ratePerSecond`; each line takes one. It only computes how
 * long a line must wait; the session does the waiting and decides when a
 * client has been over the rate for too long. Time a client was kept
 * waiting by others (a busy room) is excused: what it sent meanwhile at the
 * rate is not held against it. Time comes from a `now` function so tests
 * need no clock.
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
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0
      ? 0
      : Math.ceil(-this.#tokens / this.ratePerSecond * 1000);
  }

  /**
   * Excuses `ms` milliseconds the client was kept waiting by the server (a
   * busy room, or the server's event loop standing still): it may send
   * what the rate allows in that time on top of its burst, so lines that
   * piled up meanwhile are not counted as a flood. Excuses never add up:
   * what an earlier one left unused holds if it is more, else this one
   * replaces it, so waits the client keeps causing itself gain nothing;
   * and what is left unused lapses at the rate, so that a wait is not
   * saved up for a flood later.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TokenBucket } from "./flood.ts";
   *
   * let now = 0;
   * const bucket = new TokenBucket(2, 2, () => now);
   * now = 3000; // kept waiting 3 s: six lines piled up, then come at once
   * bucket.excuse(3000);
   * bucket.excuse(1000); // a shorter one after it: still 2 + 6
   * const waits = Array.from({ length: 9 }, () => bucket.take());
   * assert.deepEqual(waits, [0, 0, 0, 0, 0, 0, 0, 0, 500]);
   * ```
   */
  excuse(ms: number): void {
    if (this.ratePerSecond <= 0 || ms <= 0) return;
    this.#refill();
    const excused = ms / 1000 * this.ratePerSecond;
    // On top of one burst, never on top of what earlier excuses left.
    this.#tokens = Math.max(
      this.#tokens,
      Math.min(this.#tokens, this.burst) + excused,
    );
  }

  /**
   * Adds the tokens refilled since the last update, up to the burst; what
   * an excuse left over the burst lapses as fast (down to the burst): it
   * is for lines that piled up meanwhile, read at once after, not for
   * later.
   */
  #refill(): void {
    const now = this.#now();
    const refill = (now - this.#updatedMs) / 1000 * this.ratePerSecond;
    this.#tokens = this.#tokens > this.burst
      ? Math.max(this.burst, this.#tokens - refill)
      : Math.min(this.burst, this.#tokens + refill);
    this.#updatedMs = now;
  }
}

/**
 * The bucket a sender paces itself with to stay under a server's `rate`
 * and `burst` (the terminal client, the IRC door for its clients): a tenth
 * of the rate and one token of the burst spare, for delays that differ
 * between two lines on their way (the server takes its tokens later).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pacingBucket } from "./flood.ts";
 *
 * const bucket = pacingBucket(10, 5, () => 0);
 * assert.equal(bucket.ratePerSecond, 9);
 * assert.equal(bucket.burst, 4);
 * ```
 */
export function pacingBucket(
  rate: number,
  burst: number,
  now: () => number,
): TokenBucket {
  return new TokenBucket(rate * 0.9, Math.max(1, burst - 1), now);
}
