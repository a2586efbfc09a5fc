/**
 * A bounded line splitter: turns received byte chunks into lines ending in LF
 * (a CR before the LF is dropped). It never holds more than `maxLineBytes + 1`
 * bytes of an unfinished line: a longer line is reported once as
 * {@linkcode LINE_TOO_LONG} and its remaining bytes are skipped up to the
 * next LF, so a peer cannot make it buffer without limit.
 *
 * @module
 */

/** Yielded in place of a line longer than the limit. */
export const LINE_TOO_LONG: unique symbol = Symbol("line too long");

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits byte chunks into lines of at most `maxLineBytes` bytes (not counting
 * the line ending). Yielded lines may be views into the pushed chunk or into
 * the framer's own buffer: use each one before asking for the next.
 *
 * @example Lines across chunks, CRLF, and an over-long line
 * ```ts
 * import assert from "node:assert/strict";
 * import { LINE_TOO_LONG, LineFramer } from "./framing.ts";
 *
 * const framer = new LineFramer(5);
 * const bytes = new TextEncoder().encode("hel");
 * assert.deepEqual([...framer.push(bytes)], []);
 * const more = new TextEncoder().encode("lo\r\ntoo long\nok\n");
 * const lines = [...framer.push(more)].map((line) =>
 *   line === LINE_TOO_LONG ? line : new TextDecoder().decode(line)
 * );
 * assert.deepEqual(lines, ["hello", LINE_TOO_LONG, "ok"]);
 * ```
 */
export class LineFramer {
  readonly maxLineBytes: number;
  #partial: Uint8Array | null = null;
  #partialLength = 0;
  #skipping = false;

  /** Creates a framer for lines of at most `maxLineBytes` bytes. */
  constructor(maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(
        `Cannot create line framer: maxLineBytes must be a positive integer, got ${maxLineBytes}`,
      );
    }
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes of an unfinished line currently held. */
  get bufferedBytes(): number {
    return this.#partialLength;
  }

  /** Feeds one chunk; yields each completed line or {@linkcode LINE_TOO_LONG}. */
  *push(chunk: Uint8Array): Generator<Uint8Array | typeof LINE_TOO_LONG> {
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(LF, start);
      if (end === -1) {
        if (this.#append(chunk.subarray(start))) yield LINE_TOO_LONG;
        return;
      }
      const piece = chunk.subarray(start, end);
      start = end + 1;
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      if (this.#partialLength === 0) {
        yield this.#finish(piece);
      } else if (this.#append(piece)) {
        this.#skipping = false;
        yield LINE_TOO_LONG;
      } else {
        const line = this.#partial!.subarray(0, this.#partialLength);
        this.#partialLength = 0;
        this.#partial = null;
        yield this.#finish(line);
      }
    }
  }

  /**
   * Ends the input: returns the unfinished last line (one with no LF), if
   * any, and resets the framer.
   */
  flush(): Uint8Array | typeof LINE_TOO_LONG | null {
    const skipping = this.#skipping;
    const line = this.#partial?.subarray(0, this.#partialLength) ?? null;
    this.#partial = null;
    this.#partialLength = 0;
    this.#skipping = false;
    if (skipping || line === null || line.length === 0) return null;
    return this.#finish(line);
  }

  /** Strips a final CR and applies the limit. */
  #finish(line: Uint8Array): Uint8Array | typeof LINE_TOO_LONG {
    const length = line.at(-1) === CR ? line.length - 1 : line.length;
    return length > this.maxLineBytes
      ? LINE_TOO_LONG
      : line.subarray(0, length);
  }

  /**
   * Adds bytes to the unfinished line; returns true (and starts skipping) when
   * that makes the line too long, so the bytes are dropped, not buffered.
   */
  #append(bytes: Uint8Array): boolean {
    if (this.#skipping || bytes.length === 0) return false;
    // One byte of slack for a CR that may precede the coming LF.
    const capacity = this.maxLineBytes + 1;
    if (this.#partialLength + bytes.length > capacity) {
      this.#partial = null;
      this.#partialLength = 0;
      this.#skipping = true;
      return true;
    }
    this.#partial ??= new Uint8Array(capacity);
    this.#partial.set(bytes, this.#partialLength);
    this.#partialLength += bytes.length;
    return false;
  }
}
