/**
 * Lines for members of this server that arrive from elsewhere, at a pace
 * this server does not set (a cluster's private messages, sent by members
 * of other servers): sent in order, each only while the room is ready for
 * it (no member's queue above its watermark, `Flow.queuesClear`), so that
 * a burst (the server paused, or many senders at once) never takes a
 * member that keeps reading over its queue's limit. Whoever does not read
 * is dropped by the stall rule meanwhile, and its lines go with it.
 *
 * @module
 */

import type { ServerLine } from "../../server_lines.ts";

/** Options of {@linkcode PacedSends}. */
export interface PacedSendsOptions<M> {
  /** Undefined when the room takes a line now, else when it will. */
  readonly ready: () => Promise<void> | undefined;
  /** Sends one line to a member (counted toward its watermark). */
  readonly send: (member: M, line: ServerLine) => void;
  /** Whether the member is still here (a line for one gone is dropped). */
  readonly has: (member: M) => boolean;
}

/** A queue of lines for members, sent as the room is ready for them. */
export class PacedSends<M> {
  #options: PacedSendsOptions<M>;
  #queue: [M, ServerLine][] = [];
  #sending = false;

  constructor(options: PacedSendsOptions<M>) {
    this.#options = options;
  }

  /**
   * Sends `line` to `member` after the lines queued before it: at once
   * when nothing waits and the room is ready.
   */
  send(member: M, line: ServerLine): void {
    this.#queue.push([member, line]);
    if (!this.#sending) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#queue.length > 0) {
        const ready = this.#options.ready();
        if (ready !== undefined) await ready;
        const [member, line] = this.#queue.shift()!;
        if (this.#options.has(member)) this.#options.send(member, line);
      }
    } finally {
      this.#sending = false;
    }
  }
}
