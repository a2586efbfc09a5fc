/**
 * When and where the terminal client reconnects, as pure logic: the delay
 * before each attempt (0.5 s doubling to 30 s, each ±50% at random, back to
 * the start once a connection joined), the server to try next (the list
 * in turn: on a failed connection, a lost one or `BYE unavailable` it moves
 * on), and which endings are final. Randomness comes in as a function; no
 * timers, no sockets.
 *
 * @module
 */

import type { ServerAddress } from "./config.ts";

/** First delay before reconnecting, in milliseconds. */
export const FIRST_DELAY_MS = 500;

/** Longest delay before reconnecting, in milliseconds (before jitter). */
export const MAX_DELAY_MS = 30_000;

/**
 * `BYE` reasons after which the client does not reconnect: it was told to
 * go (`kicked`, `banned`), another connection of its account took over
 * (`replaced`), its password was refused (`auth-failed`), it asked to go
 * (`quit`), or the server judged what it sent (`flood`, `line-too-long`):
 * connecting again would only repeat it. After any other (`shutdown`,
 * `server-lost`, `timeout`, `slow`, `server-full`, `ip-limit`,
 * `unavailable`, `too-many-attempts`: a login the limits held back, its
 * password right perhaps, one the client does not know) or none, it
 * reconnects. (On its first connection, a login refused ends it: exit 1.)
 */
export const FINAL_BYE_REASONS: ReadonlySet<string> = new Set([
  "quit",
  "kicked",
  "banned",
  "replaced",
  "auth-failed",
  "flood",
  "line-too-long",
]);

/** Whether a connection that ended with `reason` (null: no `BYE`) is retried. */
export function reconnectsAfter(reason: string | null): boolean {
  return reason === null || !FINAL_BYE_REASONS.has(reason);
}

/** Options of {@linkcode Backoff}. */
export interface BackoffOptions {
  /** A number in [0, 1). @default {Math.random} */
  readonly random?: () => number;
  /** @default {FIRST_DELAY_MS} */
  readonly firstMs?: number;
  /** @default {MAX_DELAY_MS} */
  readonly maxMs?: number;
}

/**
 * Delays between reconnection attempts: 0.5 s, 1 s, 2 s ... up to 30 s,
 * each between half and one and a half times that, at random (so that
 * clients cut off together do not come back together).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Backoff } from "./reconnect.ts";
 *
 * const backoff = new Backoff({ random: () => 0.5 }); // no jitter
 * assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [
 *   500,
 *   1000,
 *   2000,
 * ]);
 * backoff.reset();
 * assert.equal(backoff.next(), 500);
 * ```
 */
export class Backoff {
  readonly #random: () => number;
  readonly #firstMs: number;
  readonly #maxMs: number;
  #attempts = 0;

  /** A backoff at its first delay. */
  constructor(options: BackoffOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.#firstMs = options.firstMs ?? FIRST_DELAY_MS;
    this.#maxMs = options.maxMs ?? MAX_DELAY_MS;
  }

  /** The delay before the next attempt, in milliseconds. */
  next(): number {
    const base = Math.min(
      this.#maxMs,
      this.#firstMs * 2 ** Math.min(this.#attempts, 30),
    );
    this.#attempts++;
    return Math.round(base * (0.5 + this.#random()));
  }

  /** A connection joined: the next delay is the first again. */
  reset(): void {
    this.#attempts = 0;
  }
}

/**
 * The servers to connect to, in turn: the current one, and the next one
 * after a failure (the first again after the last).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerRotation } from "./reconnect.ts";
 *
 * const servers = new ServerRotation([
 *   { hostname: "a", port: 1 },
 *   { hostname: "b", port: 2 },
 * ]);
 * assert.equal(servers.current.hostname, "a");
 * assert.equal(servers.next().hostname, "b");
 * assert.equal(servers.next().hostname, "a");
 * ```
 */
export class ServerRotation {
  readonly #servers: readonly ServerAddress[];
  #index = 0;

  /** Starts at the first of `servers` (at least one). */
  constructor(servers: readonly ServerAddress[]) {
    if (servers.length === 0) throw new TypeError("No server to connect to");
    this.#servers = servers;
  }

  /** How many servers there are. */
  get size(): number {
    return this.#servers.length;
  }

  /** The server to connect to now. */
  get current(): ServerAddress {
    return this.#servers[this.#index]!;
  }

  /** Moves on to the next server and returns it. */
  next(): ServerAddress {
    this.#index = (this.#index + 1) % this.#servers.length;
    return this.current;
  }
}

/** `host:port`, with brackets around an IPv6 address. */
export function formatServer({ hostname, port }: ServerAddress): string {
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}
