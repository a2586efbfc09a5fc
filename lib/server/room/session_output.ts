/**
 * What a session sends of its own, as one more of its base classes (no
 * object per member): its replies, and everything it is sent while a
 * catch-up is read, held behind that catch-up's slot (`held_lines.ts`).
 * A queue too full to take a reply means a client that does not read: it
 * ends with `BYE slow`.
 *
 * @module
 */

import { describeError } from "../../log.ts";
import { encodeServerLine, type ServerLine } from "../../server_lines.ts";
import {
  type Connection,
  isDisconnect,
  type SendOptions,
} from "./connection.ts";
import { HeldLines } from "./held_lines.ts";
import { SLOW_TEXT } from "./member.ts";
import type { Moderated } from "./moderator.ts";
import { SessionDeadlines } from "./session_deadlines.ts";

/** A session's output: its replies, and lines held behind a slot. */
export abstract class SessionOutput<M extends Moderated>
  extends SessionDeadlines<M> {
  /** Lines held while a catch-up is read (null: none, nearly always). */
  #held: HeldLines | null = null;

  /** The door of its connection (what it says is counted by). */
  get door(): Connection["info"]["door"] {
    return this.conn.info.door;
  }

  /** Logs a connection's error: a peer that went, at debug level only. */
  protected logError(error: unknown): void {
    const fields = { addr: this.address, error: describeError(error) };
    if (isDisconnect(error)) this.context.log.debug("disconnect", fields);
    else this.context.log.error("connection-error", fields);
  }

  /** Queues a line it is sent; false: its queue is full. */
  protected queue(line: Uint8Array, options?: SendOptions): boolean {
    if (this.#held !== null) return this.#held.add(line);
    return this.conn.send(line, options);
  }

  /**
   * Holds what it is sent from now on behind a slot (bounded by its queue
   * limit); filling the slot sends it, then what was held.
   */
  reserve(): (lines: readonly Uint8Array[]) => void {
    const held = this.#held ??= new HeldLines(this.context.config.queueBytes);
    const fill = held.slot();
    return (lines) => {
      fill(lines);
      for (const bytes of held.ready()) {
        if (!this.conn.send(bytes)) return this.close("slow", SLOW_TEXT);
      }
      if (held.empty && this.#held === held) this.#held = null;
    };
  }

  /** Sends the client one line of its own. */
  protected override answer(line: ServerLine): void {
    this.reply(encodeServerLine(line));
  }

  /** Queues a reply of its own; a queue too full: `BYE slow`. */
  protected override reply(bytes: Uint8Array): void {
    if (!(this.#held?.add(bytes) ?? this.conn.send(bytes))) {
      this.close("slow", SLOW_TEXT);
    }
  }
}
