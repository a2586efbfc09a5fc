/**
 * The leaves of this server's members that could not reach Redis, sent
 * again (after every heartbeat) until Redis takes them, so that no alias
 * stays claimed by someone gone. At most one per member (by id); a new
 * claim for the member drops its own, and a reset of the cluster's state
 * all of them. Never throws: a leave Redis refuses stays pending.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { describeError, type Logger } from "../../log.ts";
import type { RedisLink } from "./redis.ts";

/** Options of {@linkcode PendingLeaves}. */
export interface PendingLeavesOptions {
  readonly clock: Clock;
  readonly log: Logger;
}

/** Leaves not yet taken by Redis: reason and text by member id. */
export class PendingLeaves {
  #link: RedisLink;
  /** This server's id: a leave no longer counts once another took it over. */
  #server: string;
  #options: PendingLeavesOptions;
  #pending = new Map<string, [string, string]>();

  /** None pending yet; leaves go on `link` for server `server`. */
  constructor(link: RedisLink, server: string, options: PendingLeavesOptions) {
    this.#link = link;
    this.#server = server;
    this.#options = options;
  }

  /** Keeps member `id`'s leave (`reason`, `text`) until Redis takes it. */
  keep(id: string, reason: string, text: string): void {
    this.#pending.set(id, [reason, text]);
  }

  /** Drops member `id`'s pending leave (a new claim adopts what it left). */
  drop(id: string): void {
    this.#pending.delete(id);
  }

  /** Drops every pending leave (the cluster's state in Redis was lost). */
  clear(): void {
    this.#pending.clear();
  }

  /** Sends member `id`'s pending leave, if any; kept when Redis fails. */
  async send(id: string): Promise<void> {
    const leave = this.#pending.get(id);
    if (leave === undefined) return;
    const [reason, text] = leave;
    try {
      // By id: whatever alias it holds by now (a rename may be landing).
      await this.#link.run("leave", [
        "",
        id,
        reason,
        text,
        "",
        String(this.#options.clock.now()),
        this.#server, // not once another server took it over
      ]);
      this.#pending.delete(id);
    } catch (error) {
      this.#options.log.debug("redis-leave-failed", {
        error: describeError(error),
      });
    }
  }

  /** Sends again every pending leave. */
  async resend(): Promise<void> {
    await Promise.all([...this.#pending.keys()].map((id) => this.send(id)));
  }
}
