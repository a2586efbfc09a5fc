/**
 * Brute-force limits on passwords: failed attempts are counted per remote
 * address and per account in leaky buckets (`burst` failures, then one more
 * every `refillMs`). While either bucket is empty, attempts are refused
 * before any password is checked, so guessing costs the guesser time and the
 * server nothing. Memory is bounded: a bucket that has refilled is
 * forgotten, and at most `maxTracked` are kept.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { aliasKey } from "../protocol.ts";

/** Options of {@linkcode LoginLimiter}. */
export interface LoginLimiterOptions {
  /** Failures allowed at once, per address and per account. */
  readonly burst: number;
  /** Time for one more allowed failure, in ms. */
  readonly refillMs: number;
  /** @default {100000} */
  readonly maxTracked?: number;
}

interface Bucket {
  failures: number;
  updatedMs: number;
}

/** Counts failed logins; says when more attempts must wait. */
export class LoginLimiter {
  #clock: Clock;
  #burst: number;
  #refillMs: number;
  #maxTracked: number;
  #buckets = new Map<string, Bucket>();

  /** Creates a limiter on `clock`. */
  constructor(clock: Clock, options: LoginLimiterOptions) {
    this.#clock = clock;
    this.#burst = options.burst;
    this.#refillMs = options.refillMs;
    this.#maxTracked = options.maxTracked ?? 100_000;
  }

  /**
   * Whether a password attempt from `host` for `account` may be checked
   * now; when not, how long until it may (ms).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LoginLimiter } from "./login_limiter.ts";
   *
   * let now = 0;
   * const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
   * const limiter = new LoginLimiter(clock, { burst: 2, refillMs: 60_000 });
   * limiter.failed("10.0.0.1", "bob");
   * limiter.failed("10.0.0.1", "bob");
   * assert.equal(limiter.waitMs("10.0.0.1", "bob"), 60_000);
   * assert.equal(limiter.waitMs("10.0.0.2", "amy"), 0);
   * now = 60_000;
   * assert.equal(limiter.waitMs("10.0.0.1", "bob"), 0);
   * ```
   */
  waitMs(host: string, account: string | null): number {
    return Math.max(
      this.#wait(`@${host}`),
      account === null ? 0 : this.#wait(`#${aliasKey(account)}`),
    );
  }

  /** Counts a failed attempt against the address and the account. */
  failed(host: string, account: string | null): void {
    this.#fail(`@${host}`);
    if (account !== null) this.#fail(`#${aliasKey(account)}`);
  }

  /** Failures still counted for a key, after leaking since the last one. */
  #current(key: string): number {
    const bucket = this.#buckets.get(key);
    if (!bucket) return 0;
    const leaked = (this.#clock.now() - bucket.updatedMs) / this.#refillMs;
    const failures = Math.max(0, bucket.failures - leaked);
    if (failures === 0) this.#buckets.delete(key);
    return failures;
  }

  #wait(key: string): number {
    const excess = this.#current(key) - (this.#burst - 1);
    return excess > 0 ? Math.ceil(excess * this.#refillMs) : 0;
  }

  #fail(key: string): void {
    const failures = this.#current(key) + 1;
    this.#buckets.delete(key); // re-inserted last: the map stays oldest-first
    this.#buckets.set(key, { failures, updatedMs: this.#clock.now() });
    if (this.#buckets.size > this.#maxTracked) {
      const oldest = this.#buckets.keys().next().value!;
      this.#buckets.delete(oldest);
    }
  }
}
