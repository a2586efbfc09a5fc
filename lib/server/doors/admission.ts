/**
 * Who may hold a connection, decided in one place for every door: at most
 * `maxClients` connections at once, and at most `maxPerIp` from one address
 * group (an IPv4 address, or an IPv6 /64, which one subscriber usually
 * holds), counted from the TCP accept, before TLS or anything else, so that
 * connections that never finish a handshake count too. A door asks at the
 * accept and frees the place when the socket closes; a trusted proxy's
 * connection counts in the total at once and under its client's group once
 * the proxy has said who the client is. A refused connection is told why
 * (`BYE server-full`, `BYE ip-limit`) by its door, but at most
 * `maxRefusals` at once: beyond that it is closed without a word, so that
 * refusing never costs more than serving. Pure: no sockets, no timers.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import { type ByeReason, encodeServerLine } from "../../server_lines.ts";
import { groupKey } from "../../address.ts";
import type { Refusals } from "../metrics/server_metrics.ts";

/** The limits of {@linkcode Admission}, as the config names them. */
export interface AdmissionLimits {
  /** Most connections at once, every door together. */
  readonly maxClients: number;
  /** Most connections at once from one address group; 0: no cap. */
  readonly maxPerIp: number;
  /** Refused connections told why at once; more are closed at once. */
  readonly maxRefusals: number;
}

/** Why a connection is refused: its `BYE` reason and text. */
export interface Refusal {
  readonly reason: Extract<ByeReason, "server-full" | "ip-limit" | "banned">;
  readonly text: string;
}

/** One accepted connection's place, from the accept until it closes. */
export interface Entry {
  /** Why it is refused (its door tells it, then closes it); null: admitted. */
  readonly refusal: Refusal | null;
  /** Refused beyond `maxRefusals`: close it at once, without a word. */
  readonly dropped: boolean;
  /**
   * The client behind a trusted proxy became known: counts the connection
   * under the client's group, or refuses it (see `refusal`, `dropped`).
   */
  locate(host: string, address: string): void;
  /**
   * Refuses an admitted entry for a reason of its door's (a ban known
   * before the handshake): frees its place, told why or dropped as any
   * refusal. Does nothing to an entry refused already.
   */
  refuse(refusal: Refusal, address: string): void;
  /** The connection closed: frees its place. Idempotent. */
  leave(): void;
}

/** Counters for the logs. */
export interface AdmissionStats {
  accepted: number;
  refused: number;
}

/**
 * Counts connections on every door and refuses those over a cap.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Admission } from "./admission.ts";
 *
 * const log = { debug() {}, info() {}, warn() {}, error() {} };
 * const admission = new Admission(
 *   { maxClients: 10, maxPerIp: 1, maxRefusals: 5 },
 *   log,
 * );
 * const first = admission.enter("2001:db8::1", "[2001:db8::1]:50000");
 * assert.equal(first.refusal, null);
 * // Another address of the same /64 is the same subscriber.
 * const second = admission.enter("2001:db8::2", "[2001:db8::2]:50001");
 * assert.equal(second.refusal?.reason, "ip-limit");
 * first.leave();
 * assert.equal(admission.enter("2001:db8::2", "[2001:db8::2]:50002").refusal, null);
 * ```
 */
export class Admission {
  readonly stats: AdmissionStats = { accepted: 0, refused: 0 };
  /** Refusals by reason (the server's metrics). */
  readonly refusals: Refusals;
  #limits: AdmissionLimits;
  #log: Logger;
  #open = 0;
  #refusing = 0;
  #perGroup = new Map<string, number>();
  /** What entries call back (one object for all of them). */
  #counts: Counts = {
    locate: (entry, host, address) => this.#locate(entry, host, address),
    refuse: (entry, refusal, address) => {
      if (!entry.admitted) return;
      this.#leave(entry);
      this.#refuse(entry, address, refusal);
    },
    leave: (entry) => this.#leave(entry),
  };

  /** Creates the counts, all zero (refusals counted in `refusals`). */
  constructor(limits: AdmissionLimits, log: Logger, refusals?: Refusals) {
    this.#limits = limits;
    this.#log = log;
    this.refusals = refusals ??
      { "server-full": 0, "ip-limit": 0, banned: 0 };
  }

  /** Connections admitted and still open, every door together. */
  get connections(): number {
    return this.#open;
  }

  /**
   * A connection was accepted from `host` (null: a trusted proxy's, whose
   * client is not known yet); `address` (`host:port`) names it in logs.
   */
  enter(host: string | null, address: string): Entry {
    this.stats.accepted++;
    const entry = new Place(this.#counts);
    const { maxClients } = this.#limits;
    if (this.#open >= maxClients) {
      this.#refuse(entry, address, {
        reason: "server-full",
        text: `Server is full: ${maxClients} connections`,
      });
      return entry;
    }
    this.#open++;
    entry.admitted = true;
    if (host !== null) this.#locate(entry, host, address);
    return entry;
  }

  /** Counts an admitted entry under `host`'s group, or refuses it. */
  #locate(entry: Place, host: string, address: string): void {
    if (!entry.admitted || entry.group !== null) return;
    const group = groupKey(host);
    const count = this.#perGroup.get(group) ?? 0;
    const { maxPerIp } = this.#limits;
    if (maxPerIp > 0 && count >= maxPerIp) {
      this.#open--;
      entry.admitted = false;
      this.#refuse(entry, address, {
        reason: "ip-limit",
        text: `Too many connections from ${group}: at most ${maxPerIp}`,
      });
      return;
    }
    this.#perGroup.set(group, count + 1);
    entry.group = group;
  }

  /** Refuses an entry: told why under `maxRefusals`, dropped beyond. */
  #refuse(entry: Place, address: string, refusal: Refusal): void {
    this.stats.refused++;
    this.refusals[refusal.reason]++;
    this.#log.info("refused", { addr: address, reason: refusal.reason });
    entry.refusal = refusal;
    if (this.#refusing >= this.#limits.maxRefusals) {
      entry.dropped = true;
      return;
    }
    this.#refusing++;
    entry.telling = true;
  }

  /** Frees what an entry holds. */
  #leave(entry: Place): void {
    if (entry.admitted) {
      entry.admitted = false;
      this.#open--;
      const group = entry.group;
      if (group !== null) {
        const left = (this.#perGroup.get(group) ?? 1) - 1;
        if (left === 0) this.#perGroup.delete(group);
        else this.#perGroup.set(group, left);
      }
    } else if (entry.telling) {
      entry.telling = false;
      this.#refusing--;
    }
  }
}

/** How an entry reaches the counts of its {@linkcode Admission}. */
interface Counts {
  locate(entry: Place, host: string, address: string): void;
  refuse(entry: Place, refusal: Refusal, address: string): void;
  leave(entry: Place): void;
}

/** An {@linkcode Entry}; its counts are kept by its {@linkcode Admission}. */
class Place implements Entry {
  refusal: Refusal | null = null;
  dropped = false;
  /** Counted in the total (and, once `group` is set, in its group). */
  admitted = false;
  group: string | null = null;
  /** Refused and holding one of the `maxRefusals` places. */
  telling = false;
  #counts: Counts;

  constructor(counts: Counts) {
    this.#counts = counts;
  }

  locate(host: string, address: string): void {
    this.#counts.locate(this, host, address);
  }

  refuse(refusal: Refusal, address: string): void {
    this.#counts.refuse(this, refusal, address);
  }

  leave(): void {
    this.#counts.leave(this);
  }
}

/** The `BYE` line that tells a refused connection why. */
export function goodbye(refusal: Refusal): Uint8Array {
  return encodeServerLine({ type: "BYE", ...refusal });
}
