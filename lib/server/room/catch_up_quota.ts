/**
 * How many lines of catch-up (`catch_up.ts`) one address group may be
 * read and sent over time (`--resume-rate`): a bucket of lines per group
 * (`groupKey`: an IPv4 address, an IPv6 /64, as `--max-per-ip` counts),
 * that holds a minute's worth and refills at the rate. A catch-up reads no
 * more than what is left (perhaps none: the rest is `MISSING`, for
 * `/history`) and spends what it read as the log reads it: a log that
 * reads at once (SQLite, memory) has spent it before any other catch-up
 * asks, so catch-ups started together never starve one another nor read
 * more than the group has; what reads under way at once (Redis) took over
 * it is owed, paid by the refill. So the catch-ups of one group, however
 * many connections it opens, never hold the event loop for more than the
 * rate's lines a minute. A bucket full again is forgotten: it holds no
 * memory.
 *
 * @module
 */

import { groupKey } from "../../address.ts";

/** Options of {@linkcode CatchUpQuota}. */
export interface CatchUpQuotaOptions {
  /** Lines a minute each address group may be caught up with; 0: no limit. */
  readonly linesPerMinute: number;
  /** Milliseconds since the epoch (a fake clock in tests). */
  readonly now: () => number;
}

/** A group's bucket: its lines as of `atMs`. */
interface Bucket {
  lines: number;
  atMs: number;
}

const MINUTE_MS = 60_000;

/**
 * Each address group's lines of catch-up (see the module).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CatchUpQuota } from "./catch_up_quota.ts";
 *
 * let now = 0;
 * const quota = new CatchUpQuota({ linesPerMinute: 600, now: () => now });
 * assert.equal(quota.left("2001:db8::1"), 600);
 * quota.spend("2001:db8::1", 500);
 * assert.equal(quota.left("2001:db8::2"), 100); // the same /64
 * assert.equal(quota.left("192.0.2.1"), 600); // another group
 * now = 1_000; // a second: 10 more lines
 * assert.equal(quota.left("2001:db8::1"), 110);
 * ```
 */
export class CatchUpQuota {
  readonly #linesPerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #groups = new Map<string, Bucket>();
  #sweptMs: number;

  /** Every group's bucket full. */
  constructor({ linesPerMinute, now }: CatchUpQuotaOptions) {
    this.#burst = linesPerMinute;
    this.#linesPerMs = linesPerMinute / MINUTE_MS;
    this.#now = now;
    this.#sweptMs = now();
  }

  /**
   * The whole lines `host`'s group may still be read now (0 when it has
   * none, or owes); Infinity without a limit or a host.
   */
  left(host: string | undefined): number {
    if (this.#burst <= 0 || host === undefined) return Infinity;
    return Math.max(0, Math.floor(this.#bucket(groupKey(host)).lines));
  }

  /**
   * Spends `lines` read for `host`'s group: what is over what it had
   * (reads under way at once) is owed, paid by the refill.
   */
  spend(host: string | undefined, lines: number): void {
    if (this.#burst <= 0 || host === undefined || lines <= 0) return;
    this.#bucket(groupKey(host)).lines -= lines;
  }

  /** The lines group `key` has now (refilled), kept while it is not full. */
  #bucket(key: string): Bucket {
    const now = this.#now();
    this.#sweep(now);
    let bucket = this.#groups.get(key);
    if (bucket === undefined) {
      this.#groups.set(key, bucket = { lines: this.#burst, atMs: now });
    }
    bucket.lines = Math.min(
      this.#burst,
      bucket.lines + (now - bucket.atMs) * this.#linesPerMs,
    );
    bucket.atMs = now;
    return bucket;
  }

  /** Forgets, once a minute at most, the groups whose bucket is full again. */
  #sweep(now: number): void {
    if (now - this.#sweptMs < MINUTE_MS) return;
    this.#sweptMs = now;
    for (const [key, { lines, atMs }] of this.#groups) {
      if (lines + (now - atMs) * this.#linesPerMs >= this.#burst) {
        this.#groups.delete(key);
      }
    }
  }

  /** How many groups it remembers (those whose bucket is not full). */
  get groups(): number {
    return this.#groups.size;
  }
}
