/**
 * The IRC lines of the room's latest message or action, shared by every
 * connection of the IRC door: the fan-out hands each member the same
 * encoded bytes, so the first IRC member translates them and the others
 * reuse its IRC lines (one set per variant: with `@time` or without)
 * instead of translating the line once each. Only another member's `MSG`,
 * `ME` and `NOTICE` are shared (no id, no effect on a connection's state); the
 * cache holds one line, dropped when the next comes. The shared lines are
 * encoded into a {@linkcode LineArena}, a lane per variant, so that consecutive
 * ones sit next to each other and an IRC member's outbox merges and writes
 * them straight from the chunk, as a native member's.
 *
 * @module
 */

import { DEFAULT_CHUNK_BYTES, LineArena } from "../room/line_arena.ts";

/** A door's shared translations of its last room message. */
export class SharedLines {
  #line: Uint8Array | null = null;
  #speaker = "";
  #variants: (readonly Uint8Array[] | undefined)[] = [];
  /** The shared lines, a lane per variant. */
  #arena: LineArena;

  /** Shared lines encoded into chunks of `chunkBytes` (see LineArena). */
  constructor(chunkBytes: number = DEFAULT_CHUNK_BYTES) {
    this.#arena = new LineArena(chunkBytes);
  }

  /**
   * Encodes an IRC line to share in `variant` (adding CR LF), next to the
   * variant's previous one.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SharedLines } from "./shared_lines.ts";
   *
   * const shared = new SharedLines(1024);
   * const a = shared.encode(1, ":bob PRIVMSG #ops :hi");
   * const b = shared.encode(1, ":amy PRIVMSG #ops :hey");
   * assert.equal(new TextDecoder().decode(b), ":amy PRIVMSG #ops :hey\r\n");
   * assert.equal(a.buffer, b.buffer);
   * assert.equal(a.byteOffset + a.length, b.byteOffset);
   * ```
   */
  encode(variant: number, text: string): Uint8Array {
    return this.#arena.encode(text + "\r", variant);
  }

  /**
   * The IRC lines made for `line` (a fan-out's bytes, the same object for
   * every member) in `variant`, unless `nick` said it; undefined: none yet.
   */
  get(
    line: Uint8Array,
    variant: number,
    nick: string,
  ): readonly Uint8Array[] | undefined {
    if (line !== this.#line || nick === this.#speaker) return undefined;
    return this.#variants[variant];
  }

  /** Keeps the IRC lines made for `line` in `variant` (said by `speaker`). */
  set(
    line: Uint8Array,
    variant: number,
    speaker: string,
    lines: readonly Uint8Array[],
  ): void {
    if (line !== this.#line) {
      this.#line = line;
      this.#speaker = speaker;
      this.#variants = [];
    }
    this.#variants[variant] = lines;
  }
}

/**
 * The nick that said a native room line, when it is a message, action or
 * notice without an id (another member's, as the fan-out shares it); else null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sharedSpeaker } from "./shared_lines.ts";
 *
 * assert.equal(sharedSpeaker("@seq=4;time=T #ops MSG bob hi"), "bob");
 * assert.equal(sharedSpeaker("@id=Qm9vb3Rz_-0123456;seq=4;time=T #ops MSG me hi"), null);
 * assert.equal(sharedSpeaker("@seq=5;time=T #ops JOIN bob 2"), null);
 * ```
 */
export function sharedSpeaker(text: string): string | null {
  const match = /^(?:@(?!id=)\S* )?(?:#\S+ )?(?:MSG|ME|NOTICE) (\S+) /.exec(
    text,
  );
  return match?.[1] ?? null;
}
