/**
 * Brute-force limits on passwords. Failures are counted per remote address
 * group (the address for IPv4, the /64 for IPv6) and per account; an
 * attempt counts as a failure the moment it starts and is refunded if it
 * succeeds, so parallel guesses cannot slip past a limit. While a limit
 * holds, attempts are refused before any password is checked.
 *
 * An address group may fail `burst` times; then each further attempt waits
 * for the refill time after its last failure, doubled for every failure past
 * the burst (up to 64 times). An account may fail `targetBurst` times from
 * addresses that never logged into it, then the same doubling waits apply
 * to all of those; an address that logged into it before (remembered by
 * {@linkcode KnownAddresses}: the database, in a server) is never held back
 * by them, so strangers cannot lock its holder out. Counts are forgotten
 * after a day (1,440 refill times) without a failure.
 *
 * Wrong room passwords are also counted server-wide, leaking one per refill
 * time: while `targetBurst` came lately (a distributed guesser; the count is
 * full), an address that failed lately gets one try at a time (burst 1),
 * while an address with no failure always gets its try, and one that gave
 * the room password before is held back by nothing but its own count. They
 * are counted per IPv6 /48 as well (one holder often has a /48: 65,536
 * /64s), which may fail `targetBurst` times before the same doubling waits
 * apply to all its addresses that never gave the room password; so are
 * account logins from addresses the account does not know, whatever the
 * account (invented names cost a full password check too). Wrong room
 * keys (`/join #room KEY`) count against the address group and its /48
 * like the rest, nothing server-wide: a room's key is not the server's
 * door. No one can lock every guest out. Memory is bounded: at most
 * `maxTracked` counts of addresses and unregistered names are kept, the
 * oldest forgotten first; the counts of registered accounts are kept apart and never pushed
 * out by others (there is one at most per account), so that strangers
 * cannot reset an account's count by filling the table.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { aliasKey } from "../../protocol.ts";
import { groupKey, parseAddressRange } from "../../address.ts";

/**
 * Where the address groups that logged into an account are remembered, and
 * which accounts are registered.
 */
export interface KnownAddresses {
  /** Whether `account` (its key) is registered. */
  registered(account: string): boolean;
  /** Whether `group` logged into `account` (its key) lately. */
  knows(account: string, group: string, nowMs: number): boolean;
  /** `group` logged into `account` (its key) at `nowMs`. */
  remember(account: string, group: string, nowMs: number): void;
}

/**
 * What a password attempt is for: an account (its alias), the room
 * password (null), or a room's key (`{ room }`: counted against the
 * address group and its IPv6 /48 only, sharing their counts with logins,
 * so that one budget of guesses holds for every secret of the server).
 */
export type AttemptTarget = string | null | { readonly room: string };

/** Options of {@linkcode LoginLimiter}. */
export interface LoginLimiterOptions {
  /** Failures allowed per address group before waiting. */
  readonly burst: number;
  /**
   * Failures allowed per account from addresses that never logged into it,
   * and wrong room passwords lately in all, before stricter waits.
   * @default {4 * burst}
   */
  readonly targetBurst?: number;
  /** The first wait, in ms; it doubles with every failure after. */
  readonly refillMs: number;
  /**
   * Where logins are remembered.
   * @default {in memory}
   */
  readonly known?: KnownAddresses;
  /** @default {100000} */
  readonly maxTracked?: number;
}

/** The longest wait is the refill time doubled this many times (64×). */
const MAX_DOUBLINGS = 6;

/** Refill times without a failure after which a count is forgotten. */
const FORGET_AFTER_REFILLS = 1440;

interface Count {
  failures: number;
  /** When the last failure was counted. */
  lastMs: number;
}

/** Counts failed logins; says when more attempts must wait. */
export class LoginLimiter {
  #clock: Clock;
  #burst: number;
  #targetBurst: number;
  #refillMs: number;
  #maxTracked: number;
  #known: KnownAddresses;
  /**
   * Failures by `@address group` and `#name` (not registered), oldest
   * change first; at most `maxTracked`.
   */
  #counts = new Map<string, Count>();
  /** Failures by `#account` of registered accounts: never pushed out. */
  #accounts = new Map<string, Count>();
  /** Wrong room passwords lately, leaking one per refill time. */
  #room = { failures: 0, updatedMs: 0 };
  /** Address groups that gave the room password (oldest first). */
  #roomKnown = new Set<string>();

  /** Creates a limiter on `clock`. */
  constructor(clock: Clock, options: LoginLimiterOptions) {
    this.#clock = clock;
    this.#burst = options.burst;
    this.#targetBurst = options.targetBurst ?? 4 * options.burst;
    this.#refillMs = options.refillMs;
    this.#maxTracked = options.maxTracked ?? 100_000;
    this.#known = options.known ?? knownInMemory(this.#maxTracked);
  }

  /**
   * Starts a password attempt from `host` (for `account`, null for the
   * room password, or a room's key: see {@linkcode AttemptTarget}). Returns 0 and counts the attempt as a failure until
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
   * assert.equal(limiter.begin("10.0.0.2", "bob"), 0, "bob is not locked");
   * now = 60_000;
   * assert.equal(limiter.begin("10.0.0.1", "bob"), 0);
   * assert.equal(limiter.begin("10.0.0.1", "bob"), 120_000, "twice as long");
   * ```
   */
  begin(host: string, account: AttemptTarget): number {
    const group = groupKey(host);
    const address = `@${group}`;
    let waitMs: number;
    let target: string | null = null;
    let site: string | null = null;
    if (account === null) {
      const known = this.#roomKnown.has(group);
      // Within a refill time of the count being full.
      const attacked = !known &&
        this.#roomFailures() > this.#targetBurst - 1;
      waitMs = this.#wait(address, attacked ? 1 : this.#burst);
      if (!known) {
        target = ROOM;
        site = siteOf(host);
        if (site !== null) {
          waitMs = Math.max(waitMs, this.#wait(site, this.#targetBurst));
        }
      }
    } else if (typeof account === "object") {
      // A room's key: its address group's count, and its /48's.
      waitMs = this.#wait(address, this.#burst);
      site = siteOf(host);
      if (site !== null) {
        waitMs = Math.max(waitMs, this.#wait(site, this.#targetBurst));
      }
    } else {
      const key = aliasKey(account);
      waitMs = this.#wait(address, this.#burst);
      if (!this.#known.knows(key, group, this.#clock.now())) {
        target = `#${key}`;
        waitMs = Math.max(waitMs, this.#wait(target, this.#targetBurst));
        // Whatever the name: rotating /64s and invented names earn a /48
        // nothing past its count.
        site = siteOf(host);
        if (site !== null) {
          waitMs = Math.max(waitMs, this.#wait(site, this.#targetBurst));
        }
      }
    }
    if (waitMs > 0) return waitMs;
    this.#fail(address);
    if (site !== null) this.#fail(site);
    if (target === ROOM) this.#addRoom(1);
    else if (target !== null) this.#fail(target);
    return 0;
  }

  /** Whether `host`'s address group logged into `account` lately. */
  knows(host: string, account: string): boolean {
    return this.#known.knows(
      aliasKey(account),
      groupKey(host),
      this.#clock.now(),
    );
  }

  /**
   * The attempt begun from `host` succeeded: it is not a failure, and this
   * address group is known to `account` (or to the room) from now on.
   */
  succeeded(host: string, account: AttemptTarget): void {
    const group = groupKey(host);
    this.#refund(`@${group}`);
    if (account !== null && typeof account === "object") {
      const site = siteOf(host);
      if (site !== null) this.#refund(site);
      return;
    }
    if (account === null) {
      if (!this.#roomKnown.has(group)) {
        this.#addRoom(-1);
        const site = siteOf(host);
        if (site !== null) this.#refund(site);
      }
      this.#roomKnown.delete(group); // re-inserted last: oldest first
      this.#roomKnown.add(group);
      if (this.#roomKnown.size > this.#maxTracked) {
        this.#roomKnown.delete(this.#roomKnown.values().next().value!);
      }
      return;
    }
    const key = aliasKey(account);
    const now = this.#clock.now();
    if (!this.#known.knows(key, group, now)) {
      this.#refund(`#${key}`);
      const site = siteOf(host);
      if (site !== null) this.#refund(site);
    }
    try {
      this.#known.remember(key, group, now);
    } catch {
      // Best effort: a busy database (the users tool writing) must not
      // fail a login that succeeded; the address is remembered next time.
    }
  }

  /** The table that holds a key's count. */
  #table(key: string): Map<string, Count> {
    return key.startsWith("#") && this.#known.registered(key.slice(1))
      ? this.#accounts
      : this.#counts;
  }

  /** A key's count, or null when it has none (or forgot it). */
  #count(key: string, table = this.#table(key)): Count | null {
    const count = table.get(key);
    if (!count) return null;
    const quietMs = this.#clock.now() - count.lastMs;
    if (quietMs < FORGET_AFTER_REFILLS * this.#refillMs) return count;
    table.delete(key);
    return null;
  }

  /** How long a key allowed `burst` failures must wait now (ms). */
  #wait(key: string, burst: number): number {
    const count = this.#count(key);
    if (count === null || count.failures < burst) return 0;
    const doublings = Math.min(count.failures - burst, MAX_DOUBLINGS);
    const untilMs = count.lastMs + this.#refillMs * 2 ** doublings;
    return Math.max(0, untilMs - this.#clock.now());
  }

  #fail(key: string): void {
    const table = this.#table(key);
    const failures = (this.#count(key, table)?.failures ?? 0) + 1;
    table.delete(key); // re-inserted last: the map stays oldest-first
    table.set(key, { failures, lastMs: this.#clock.now() });
    if (table === this.#counts && table.size > this.#maxTracked) {
      table.delete(table.keys().next().value!);
    }
  }

  #refund(key: string): void {
    const table = this.#table(key);
    const count = this.#count(key, table);
    if (count === null) return;
    if (--count.failures <= 0) table.delete(key);
  }

  /** Wrong room passwords lately, leaked up to now. */
  #roomFailures(): number {
    const now = this.#clock.now();
    const leaked = (now - this.#room.updatedMs) / this.#refillMs;
    this.#room = {
      failures: Math.max(0, this.#room.failures - leaked),
      updatedMs: now,
    };
    return this.#room.failures;
  }

  /** Adds to the wrong room passwords lately; at most full. */
  #addRoom(failures: number): void {
    const total = this.#roomFailures() + failures;
    this.#room.failures = Math.max(0, Math.min(this.#targetBurst, total));
  }
}

/** Marks the room password as the attempt's target. */
const ROOM = "*room";

/**
 * Known addresses kept in memory, at most `max` (the oldest go first); no
 * account is registered (a server remembers them in its database).
 */
function knownInMemory(max: number): KnownAddresses {
  const known = new Set<string>();
  return {
    registered: () => false,
    knows: (account, group) => known.has(`${account}|${group}`),
    remember(account, group) {
      const entry = `${account}|${group}`;
      known.delete(entry);
      known.add(entry);
      if (known.size > max) known.delete(known.values().next().value!);
    },
  };
}

/**
 * The key of an IPv6 host's /48 (a site, which one holder can fill with
 * /64s), or null for any other host.
 */
function siteOf(host: string): string | null {
  const range = parseAddressRange(`${host}/48`);
  return range === null ? null : `@${range.text}`;
}
