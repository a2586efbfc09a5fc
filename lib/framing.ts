/**
 * A bounded line splitter: turns received byte chunks into lines ending in LF
 * (a CR before the LF is dropped). It never holds more than `maxLineBytes + 1`
 * bytes of an unfinished line: a longer line is reported once as
 * {@linkcode LINE_TOO_LONG} and its remaining bytes are skipped up to the
 * next LF, so a peer cannot make it buffer without limit. A line that goes on
 * past `maxSkipBytes` is reported once more, as {@linkcode LINE_ENDLESS}, so
 * that its reader can stop reading junk.
 *
 * @module
 */

/** Yielded in place of a line longer than the limit. */
export const LINE_TOO_LONG: unique symbol = Symbol("line too long");

/** Yielded once when a too-long line goes on past `maxSkipBytes`. */
export const LINE_ENDLESS: unique symbol = Symbol("line endless");

/** What {@linkcode LineFramer.push} yields. */
export type FramedLine =
  | Uint8Array
  | typeof LINE_TOO_LONG
  | typeof LINE_ENDLESS;

const LF = 0x0a;
const CR = 0x0d;

/** Size of the unfinished-line buffer at first; it doubles up to the limit. */
const INITIAL_BUFFER_BYTES = 256;

/** A buffer up to this size is kept for the next unfinished line. */
const RETAINED_BUFFER_BYTES = 4096;

/** Options of {@linkcode LineFramer}. */
export interface LineFramerOptions {
  /**
   * Length at which a too-long line is reported as {@linkcode LINE_ENDLESS}.
   * @default {Infinity}
   */
  maxSkipBytes?: number;
}

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
 * const lines = Array.from(
 *   framer.push(more),
 *   (line) => typeof line === "symbol" ? line : new TextDecoder().decode(line),
 * );
 * assert.deepEqual(lines, ["hello", LINE_TOO_LONG, "ok"]);
 * ```
 */
export class LineFramer {
  readonly maxLineBytes: number;
  readonly maxSkipBytes: number;
  #partial: Uint8Array | null = null;
  #partialLength = 0;
  /** Length so far of the too-long line being skipped; -1 when not skipping. */
  #skipped = -1;
  #endless = false;

  /** Creates a framer for lines of at most `maxLineBytes` bytes. */
  constructor(maxLineBytes: number, options: LineFramerOptions = {}) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(
        `Cannot create line framer: maxLineBytes must be a positive integer, got ${maxLineBytes}`,
      );
    }
    this.maxLineBytes = maxLineBytes;
    this.maxSkipBytes = options.maxSkipBytes ?? Infinity;
  }

  /** Bytes of an unfinished line currently held. */
  get bufferedBytes(): number {
    return this.#partialLength;
  }

  /** Feeds one chunk; yields each completed line or a too-long marker. */
  *push(chunk: Uint8Array): Generator<FramedLine> {
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(LF, start);
      const stop = end === -1 ? chunk.length : end;
      const piece = chunk.subarray(start, stop);
      start = stop + 1;
      if (this.#skipped >= 0) {
        this.#skipped += piece.length;
      } else if (this.#partialLength === 0 && end !== -1) {
        const line = this.#finish(piece);
        if (line !== LINE_TOO_LONG) {
          yield line;
          continue;
        }
        this.#skipped = piece.length;
        yield LINE_TOO_LONG;
      } else if (!this.#append(piece)) {
        if (end === -1) continue;
        const line = this.#partial!.subarray(0, this.#partialLength);
        this.#partialLength = 0;
        yield this.#finish(line);
        if (this.#partial!.length > RETAINED_BUFFER_BYTES) this.#partial = null;
        continue;
      } else {
        yield LINE_TOO_LONG;
      }
      if (!this.#endless && this.#skipped > this.maxSkipBytes) {
        this.#endless = true;
        yield LINE_ENDLESS;
      }
      if (end !== -1) {
        this.#skipped = -1;
        this.#endless = false;
      }
    }
  }

  /**
   * Ends the input: returns the unfinished last line (one with no LF), if
   * any, and resets the framer.
   */
  flush(): Uint8Array | typeof LINE_TOO_LONG | null {
    const skipping = this.#skipped >= 0;
    const line = this.#partial?.slice(0, this.#partialLength) ?? null;
    this.#partialLength = 0;
    this.#skipped = -1;
    this.#endless = false;
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
   * Adds bytes to the unfinished line; returns true (and starts skipping,
   * counting the line's length so far) when that makes the line too long, so
   * the bytes are dropped, not buffered.
   */
  #append(bytes: Uint8Array): boolean {
    if (bytes.length === 0) return false;
    // One byte of slack for a CR that may precede the coming LF.
    const capacity = this.maxLineBytes + 1;
    const length = this.#partialLength + bytes.length;
    if (length > capacity) {
      this.#partialLength = 0;
      this.#skipped = length;
      return true;
    }
    if ((this.#partial?.length ?? 0) < length) {
      let size = Math.max(this.#partial?.length ?? 0, INITIAL_BUFFER_BYTES);
      while (size < length) size *= 2;
      const grown = new Uint8Array(Math.min(size, capacity));
      if (this.#partial) {
        grown.set(this.#partial.subarray(0, this.#partialLength));
      }
      this.#partial = grown;
    }
    this.#partial!.set(bytes, this.#partialLength);
    this.#partialLength = length;
    return false;
  }
}
