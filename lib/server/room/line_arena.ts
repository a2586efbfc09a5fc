/**
 * Encoding of server lines into shared chunks: lines encoded one after
 * another sit next to each other in memory, so a member's outbox can merge
 * and write a run of broadcast lines straight from the chunk, without a copy
 * per member. A chunk is never rewritten; it is left to the garbage
 * collector once no queue refers to it (each outbox counts the chunks it
 * pins against its limit).
 *
 * @module
 */

const encoder = new TextEncoder();

/** Default size of an arena chunk. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

/**
 * The chunk size that suits an outbound queue limit: small enough that a
 * member keeping up (one chunk being written, one filling) stays far below
 * the limit, since a queue counts every chunk it pins.
 */
export function chunkBytesFor(queueBytes: number): number {
  return Math.min(
    DEFAULT_CHUNK_BYTES,
    Math.max(1024, Math.floor(queueBytes / 8)),
  );
}

/**
 * Encodes lines (adding the LF) into shared chunks of `chunkBytes`; a line
 * longer than a chunk gets a buffer of exactly its size. Each lane (a small
 * number, 0 by default) fills chunks of its own: lines that go to the same
 * members (one form of the room's lines) are encoded in one lane, so they
 * stay adjacent when other forms are encoded between them.
 *
 * @example Consecutive lines share a buffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineArena } from "./line_arena.ts";
 *
 * const arena = new LineArena();
 * const a = arena.encode("MSG bob hi");
 * arena.encode("@seq=7 MSG bob hi", 1);
 * const b = arena.encode("MSG amy hey");
 * assert.equal(new TextDecoder().decode(b), "MSG amy hey\n");
 * assert.equal(a.buffer, b.buffer);
 * assert.equal(a.byteOffset + a.length, b.byteOffset);
 * ```
 */
export class LineArena {
  readonly chunkBytes: number;
  /** Each lane's chunk being filled, and the bytes of it used. */
  #chunks: Uint8Array[] = [];
  #used: number[] = [];

  /** Creates an arena of chunks of `chunkBytes` bytes. */
  constructor(chunkBytes: number = DEFAULT_CHUNK_BYTES) {
    this.chunkBytes = chunkBytes;
  }

  /**
   * Encodes `text` plus LF in `lane`; returns a view into the lane's chunk.
   * A line takes the bytes it needs, up to the chunk's last byte: it is
   * encoded in place, and again into a new chunk only when it did not fit.
   */
  encode(text: string, lane = 0): Uint8Array {
    let chunk = this.#chunks[lane] ??= new Uint8Array(this.chunkBytes);
    const start = this.#used[lane] ?? 0;
    // Space for the LF is kept back; a line left partly encoded is not used.
    const room = chunk.subarray(start, chunk.length - 1);
    let { read, written } = encoder.encodeInto(text, room);
    let at = start;
    if (read < text.length || start === chunk.length) {
      // A new chunk, unless it is longer than one (a unit is a byte at least).
      if (start > 0 && text.length < this.chunkBytes) {
        chunk = this.#chunks[lane] = new Uint8Array(this.chunkBytes);
        this.#used[lane] = at = 0;
        ({ read, written } = encoder.encodeInto(text, chunk.subarray(0, -1)));
      }
      // Longer than a chunk: a buffer of exactly its bytes, its own (a queue
      // counts the whole buffer a line pins, so no worst-case size).
      if (read < text.length) return withLineFeed(encoder.encode(text));
    }
    chunk[at + written] = 0x0a;
    const end = this.#used[lane] = at + written + 1;
    return chunk.subarray(at, end);
  }
}

/** `bytes` and an LF, in a buffer of exactly that size. */
function withLineFeed(bytes: Uint8Array): Uint8Array {
  const line = new Uint8Array(bytes.length + 1);
  line.set(bytes);
  line[bytes.length] = 0x0a;
  return line;
}
