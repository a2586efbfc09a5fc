/**
 * This server's heartbeat in a cluster: every `heartbeatMs` it tells
 * Redis it is alive (by Redis's clock, in the `beat` script), learns which
 * servers are not, and announces their members as left (`server-lost`,
 * the `evict` script). It judges others lost only once it has been
 * beating for as long as they may be silent and they may take to reach
 * Redis again ({@linkcode graceMs}), so that after an outage that stopped
 * every heartbeat, everyone gets time to beat again first. One
 * heartbeat runs at a time; one asked for meanwhile follows at once.
 *
 * @module
 */

import type { Clock, TimerId } from "../../clock.ts";
import { describeError, type Logger } from "../../log.ts";
import type { RedisLink } from "./redis.ts";

/** Options of {@linkcode Heartbeat}. */
export interface HeartbeatOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** How often this server says it is alive (`--heartbeat`). */
  readonly heartbeatMs: number;
  /**
   * Silence after which a server counts as lost and its members as gone
   * (`--lost-after`).
   */
  readonly lostAfterMs: number;
  /**
   * The longest wait between two attempts to reach Redis again: after a
   * break, the others are judged only once each had time to reconnect and
   * beat ({@linkcode graceMs}).
   */
  readonly redisReconnectMaxMs: number;
}

/**
 * How long a server beats without a break (since its start, or since an
 * outage that stopped every heartbeat) before it judges the others: as
 * long as they may be silent (`lostAfterMs`), and at least as long as the
 * last of them may take to reconnect to Redis and beat.
 */
export function graceMs(options: HeartbeatOptions): number {
  const { lostAfterMs, redisReconnectMaxMs, heartbeatMs } = options;
  return Math.max(lostAfterMs, redisReconnectMaxMs + heartbeatMs);
}

/** This server's heartbeat, and its watch over the others'. */
export class Heartbeat {
  #link: RedisLink;
  #server: string;
  #options: HeartbeatOptions;
  /** Done after every heartbeat (what could not be sent, sent again). */
  #after: () => Promise<void>;
  #timer: TimerId | undefined;
  #stopped = false;
  /**
   * Since when this server's heartbeats have reached Redis without a
   * break; null after a failure.
   */
  #beatingSince: number | null = null;
  /** It has beaten once (a later beat that finds it missing means lost). */
  #beaten = false;
  #onLost: () => void = () => {};
  /** A heartbeat is under way; another was asked for meanwhile. */
  #beating = false;
  #beatAgain = false;
  #live = 0;

  /**
   * Servers alive at its last beat, this one included (their time not run
   * out by Redis's clock); 0 before the first.
   */
  get live(): number {
    return this.#live;
  }

  /** The heartbeat of `server`, doing `after` after each beat. */
  constructor(
    link: RedisLink,
    server: string,
    options: HeartbeatOptions & { readonly after: () => Promise<void> },
  ) {
    this.#link = link;
    this.#server = server;
    this.#options = options;
    this.#after = options.after;
  }

  /**
   * Calls `listener` when this server finds it was counted lost by the
   * others (its members were announced as left, and their aliases freed).
   */
  onLost(listener: () => void): void {
    this.#onLost = listener;
  }

  /** Beats now, and from then on every `heartbeatMs`. */
  start(): Promise<void> {
    return this.#beat();
  }

  /** Beats at once, if it is running (the cluster's state was reset). */
  now(): void {
    if (this.#timer !== undefined && !this.#stopped) {
      this.#options.clock.clearTimeout(this.#timer);
      void this.#beat();
    }
  }

  /** Stops beating. */
  stop(): void {
    this.#stopped = true;
    this.#options.clock.clearTimeout(this.#timer);
  }

  /**
   * Says this server is alive, announces the members of servers that are
   * not, does what follows a beat, and comes back.
   */
  #beat = async (): Promise<void> => {
    if (this.#stopped) return;
    if (this.#beating) {
      this.#beatAgain = true; // one heartbeat at a time
      return;
    }
    this.#beating = true;
    const { clock, log, heartbeatMs } = this.#options;
    try {
      await this.#once();
      await this.#after();
    } catch (error) {
      this.#beatingSince = null;
      log.debug("redis-heartbeat-failed", { error: describeError(error) });
    }
    this.#beating = false;
    const soon = this.#beatAgain;
    this.#beatAgain = false;
    clock.clearTimeout(this.#timer);
    if (!this.#stopped) {
      this.#timer = clock.setTimeout(this.#beat, soon ? 0 : heartbeatMs);
    }
  };

  /** One heartbeat, and the evictions it calls for. */
  async #once(): Promise<void> {
    const { clock, log, heartbeatMs, lostAfterMs } = this.#options;
    const grace = graceMs(this.#options);
    const sent = clock.now();
    const [added, live, ...lost] = await this.#link.run("beat", [
      this.#server,
      String(lostAfterMs),
      String(2 * heartbeatMs),
      String(grace),
    ]) as [number, number, ...string[]];
    this.#live = Number(live);
    const now = clock.now();
    // Missing after its first beat: the others counted it lost while it
    // could not reach Redis (or was paused), and its members are gone from
    // the room. From this beat on, it is in the cluster again.
    if (Number(added) === 1 && this.#beaten) {
      this.#onLost();
      log.warn("counted-lost", {
        hint:
          "the other servers counted this one lost (silent for --lost-after); its members were asked to join again",
      });
    }
    this.#beaten = true;
    // A heartbeat that took longer than a beat is a break too (Redis
    // or this process paused): others may not have got through either.
    if (now - sent > heartbeatMs) this.#beatingSince = null;
    this.#beatingSince ??= now;
    if (now - this.#beatingSince >= grace) {
      for (const server of lost) await this.#evict(server, now);
    }
  }

  /** Announces the members of a lost server as left (`server-lost`). */
  async #evict(server: string, now: number): Promise<void> {
    const { log } = this.#options;
    try {
      const count = Number(
        await this.#link.run("evict", [
          server,
          "server-lost",
          String(now),
          "0",
          "Disconnected: your server lost touch with the room; join again",
        ]),
      );
      if (count >= 0) log.warn("server-lost", { server, members: count });
    } catch (error) {
      log.error("server-lost-failed", {
        server,
        error: describeError(error),
      });
    }
  }
}
