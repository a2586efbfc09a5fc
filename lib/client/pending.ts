/**
 * The client's half of line ids (the `ids` capability): each message and
 * action it sends gets a new id (128 random bits, base64url), the lines
 * sent and not yet answered are kept (at most `limit`, the oldest
 * forgotten first), and each answer the server gives about an id says what
 * to show: an echo once (a second echo of a line sent again is hidden), a
 * line the server could not store as not sent, and a line whose fate the
 * server does not know (`ERR unknown`) sent once more under the same id,
 * which is safe. Pure: no sockets, no timers, no output. A reconnecting
 * client can send {@linkcode PendingLines.unanswered} again the same way.
 *
 * @module
 */

import { tagLine } from "../protocol.ts";
import { type ServerLine } from "../server_lines.ts";
import { isBlank, sanitizeText } from "../text.ts";
import { withRoom } from "./room_names.ts";

/** A line sent with an id, not answered yet. */
export interface PendingLine {
  readonly id: string;
  /** The line as given to {@linkcode PendingLines.tag}, without its id. */
  readonly text: string;
  /** The room it was sent to (its prefix); null: none. */
  readonly room: string | null;
  /** Sent once more after `ERR unknown`. */
  resent: boolean;
}

/** What to do with a server line about an id. */
export type Answer =
  /** Show the line as it is. */
  | { readonly kind: "show" }
  /** Show nothing: the echo of a line already shown. */
  | { readonly kind: "hide" }
  /** Send `line` (the same line, the same id) again. */
  | {
    readonly kind: "resend";
    readonly line: string;
    readonly pending: PendingLine;
  }
  /**
   * The line was not stored (`sure`), or perhaps not (an `ERR unknown`
   * again, or refused after one: the first try may have been stored).
   */
  | {
    readonly kind: "unsent";
    readonly sure: boolean;
    readonly pending: PendingLine;
  };

/** Options of {@linkcode PendingLines}. */
export interface PendingLinesOptions {
  /**
   * Most lines kept unanswered (and most ids remembered as answered).
   * @default {1000}
   */
  readonly limit?: number;
  /** Makes a new id. @default {newClientLineId} */
  readonly newId?: () => string;
}

/** A new line id: 128 random bits in base64url (22 characters). */
export function newClientLineId(): string {
  const bits = crypto.getRandomValues(new Uint8Array(16));
  return bits.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * The lines a client sent with ids and what became of them.
 *
 * @example A line, its echo, and the echo of a resend
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingLines } from "./pending.ts";
 *
 * const pending = new PendingLines({ newId: () => "AAAAAAAAAAAAAAAAAAAAAA" });
 * pending.enabled = true;
 * assert.equal(pending.tag("hi"), "@id=AAAAAAAAAAAAAAAAAAAAAA hi");
 * const echo = { type: "MSG", alias: "amy", text: "hi" } as const;
 * assert.deepEqual(pending.answer("AAAAAAAAAAAAAAAAAAAAAA", echo), {
 *   kind: "show",
 * });
 * assert.deepEqual(pending.answer("AAAAAAAAAAAAAAAAAAAAAA", echo), {
 *   kind: "hide",
 * });
 * ```
 */
export class PendingLines {
  /** Whether the server turned `ids` on: only then are lines tagged. */
  enabled = false;
  #limit: number;
  #newId: () => string;
  /** Lines not answered yet, by id, oldest first. */
  #pending = new Map<string, PendingLine>();
  /** Ids whose echo was shown, newest last (bounded). */
  #shown = new Set<string>();
  #idle: (() => void)[] = [];

  /** Creates an empty set of pending lines (not enabled yet). */
  constructor(options: PendingLinesOptions = {}) {
    this.#limit = options.limit ?? 1000;
    this.#newId = options.newId ?? newClientLineId;
  }

  /** How many lines wait for an answer. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * The line to send for `line`, prefixed with `room` (none when null):
   * with a new id first when ids are on and it is a message that shows
   * something or a `/me` line.
   */
  tag(line: string, room: string | null = null): string {
    if (!this.enabled || !isTaggable(line)) return withRoom(room, line);
    const id = this.#newId();
    this.#pending.set(id, { id, text: line, room, resent: false });
    if (this.#pending.size > this.#limit) {
      this.#forget(this.#pending.keys().next().value!);
    }
    return tagLine(id, withRoom(room, line));
  }

  /**
   * What to do with `line`, a server line that carried `id` (undefined:
   * a type this client does not know).
   */
  answer(id: string, line: ServerLine | undefined): Answer {
    const pending = this.#pending.get(id);
    if (line?.type === "MSG" || line?.type === "ME") {
      if (pending === undefined) {
        return this.#shown.has(id) ? { kind: "hide" } : { kind: "show" };
      }
      this.#forget(id);
      this.#shown.add(id);
      if (this.#shown.size > this.#limit) {
        this.#shown.delete(this.#shown.values().next().value!);
      }
      return { kind: "show" };
    }
    if (pending === undefined || line?.type !== "ERR") return { kind: "show" };
    if (line.code === "unknown" && !pending.resent) {
      pending.resent = true;
      return {
        kind: "resend",
        line: tagLine(id, withRoom(pending.room, pending.text)),
        pending,
      };
    }
    this.#forget(id);
    if (line.code === "unknown" || line.code === "unavailable") {
      // After a resend, the first try may still have been stored: its
      // echo, if it comes, is shown.
      const sure = line.code === "unavailable" && !pending.resent;
      return { kind: "unsent", sure, pending };
    }
    return { kind: "show" }; // refused for what it says (muted, usage, ...)
  }

  /** Whether the line sent under `id` waits for its answer. */
  waits(id: string): boolean {
    return this.#pending.has(id);
  }

  /** The lines sent and not answered, oldest first. */
  unanswered(): PendingLine[] {
    return [...this.#pending.values()];
  }

  /** Resolves once no line waits for an answer. */
  idle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #forget(id: string): void {
    this.#pending.delete(id);
    if (this.#pending.size > 0) return;
    for (const wake of this.#idle.splice(0)) wake();
  }
}

/** A message that shows something, or a `/me` line (any case). */
function isTaggable(line: string): boolean {
  if (/^\/me( |$)/i.test(line)) return true;
  if (line.startsWith("/") && !line.startsWith("//")) return false;
  return !isBlank(sanitizeText(line));
}
