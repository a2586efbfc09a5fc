/**
 * Brute-force limits on passwords: attempts are counted per remote address
 * (its group: the address for IPv4, the /64 for IPv6) and per account, in
 * leaky buckets (`burst` failures, then one more every `refillMs`). An
 * attempt is counted as a failure the moment it starts and refunded if it
 * succeeds, so parallel guesses cannot slip past the limit. While either
 * bucket is full, attempts are refused before any password is checked. So
 * that strangers cannot lock an account holder out, the per-account limit
 * does not apply from an address that logged into that account before.
 * Memory is bounded: a bucket that has leaked empty is forgotten, and at
 * most `maxTracked` entries are kept.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { aliasKey } from "../protocol.ts";
import { addressGroup } from "./address.ts";

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
  /** `account|address group` pairs that logged in before. */
  #trusted = new Set<string>();

  /** Creates a limiter on `clock`. */
  constructor(clock: Clock, options: LoginLimiterOptions) {
    this.#clock = clock;
    this.#burst = options.burst;
    this.#refillMs = options.refillMs;
    this.#maxTracked = options.maxTracked ?? 100_000;
  }

  /**
   * Starts a password attempt from `host` (for `account`, or null for the
   * room password). Returns 0 and counts the attempt as a failure until
   * {@linkcode succeeded} says otherwise; or, when it must wait, how long
   * (ms), counting nothing.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LoginLimiter } from "./login_limiter.ts";
   *
   * let now = 0;
   * const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
   * const limiter = new LoginLimiter(clock, { burst: 2, refillMs: 60_000 });
   * assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
   * assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
   * assert.equal(limiter.begin("10.0.0.1", "bob"), 60_000);
   * assert.equal(limiter.begin("10.0.0.2", "amy"), 0);
   * now = 60_000;
   * assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
   * ```
   */
  begin(host: string, account: string | null): number {
    const keys = this.#keys(host, account);
    const waitMs = Math.max(...keys.map((key) => this.#wait(key)));
    if (waitMs > 0) return waitMs;
    for (const key of keys) this.#fail(key);
    return 0;
  }

  /**
   * The attempt begun from `host` succeeded: it is not a failure, and this
   * address may log into `account` even while strangers are locked out.
   */
  succeeded(host: string, account: string | null): void {
    for (const key of this.#keys(host, account)) this.#refund(key);
    if (account !== null) {
      this.#trusted.add(`${aliasKey(account)}|${group(host)}`);
      if (this.#trusted.size > this.#maxTracked) {
        this.#trusted.delete(this.#trusted.values().next().value!);
      }
    }
  }

  /** The buckets an attempt counts against. */
  #keys(host: string, account: string | null): string[] {
    const address = `@${group(host)}`;
    if (account === null) return [address];
    const trusted = this.#trusted.has(`${aliasKey(account)}|${group(host)}`);
    return trusted ? [address] : [address, `#${aliasKey(account)}`];
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
    this.#set(key, this.#current(key) + 1);
  }

  #refund(key: string): void {
    this.#set(key, Math.max(0, this.#current(key) - 1));
  }

  #set(key: string, failures: number): void {
    this.#buckets.delete(key); // re-inserted last: the map stays oldest-first
    if (failures === 0) return;
    this.#buckets.set(key, { failures, updatedMs: this.#clock.now() });
    if (this.#buckets.size > this.#maxTracked) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
  }
}

/** The key of a host's address group (IPv6 /64), or the host itself. */
function group(host: string): string {
  return addressGroup(host)?.text ?? host;
}
