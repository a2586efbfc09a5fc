/**
 * A member's bounded outbound queue and its single writer. Lines are queued
 * without waiting; the writer sends everything queued since its last write
 * as one write, so a busy member costs one TLS record per batch, not per line.
 * The queue never holds more than `limitBytes` (counting the write in
 * flight): {@linkcode Outbox.push} refuses the line instead, and the owner
 * disconnects the slow consumer.
 *
 * Broadcast lines are encoded by a {@linkcode LineArena} into shared chunks,
 * one after another; the outbox merges lines that are adjacent in memory into
 * one range, so a batch of broadcasts is written straight from the shared
 * chunk, without a copy per member.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Size of an arena chunk; a longer line gets a chunk of its own size. */
const ARENA_CHUNK_BYTES = 64 * 1024;

/**
 * Encodes lines (adding the LF) into large shared chunks, so that lines
 * encoded one after another are adjacent in memory. Chunks are never
 * rewritten; a full one is left to the garbage collector once no queue
 * refers to it.
 *
 * @example Consecutive lines share a buffer
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineArena } from "./outbox.ts";
 *
 * const arena = new LineArena();
 * const a = arena.encode("MSG bob hi");
 * const b = arena.encode("MSG amy hey");
 * assert.equal(new TextDecoder().decode(b), "MSG amy hey\n");
 * assert.equal(a.buffer, b.buffer);
 * assert.equal(a.byteOffset + a.length, b.byteOffset);
 * ```
 */
export class LineArena {
  #chunk = new Uint8Array(ARENA_CHUNK_BYTES);
  #used = 0;

  /** Encodes `text` plus LF; returns a view into the current chunk. */
  encode(text: string): Uint8Array {
    const worst = text.length * 3 + 1; // UTF-8 bytes per UTF-16 unit, and LF
    if (this.#used + worst > this.#chunk.length) {
      this.#chunk = new Uint8Array(Math.max(ARENA_CHUNK_BYTES, worst));
      this.#used = 0;
    }
    const start = this.#used;
    const { written } = encoder.encodeInto(text, this.#chunk.subarray(start));
    this.#chunk[start + written] = 0x0a;
    this.#used = start + written + 1;
    return this.#chunk.subarray(start, this.#used);
  }
}

/** Where an outbox writes: `write` may write only part of the buffer. */
export interface ByteWriter {
  write(data: Uint8Array): Promise<number>;
}

/** Bounded queue of encoded lines with one coalescing writer. */
export class Outbox {
  readonly limitBytes: number;
  #writer: ByteWriter;
  /** Queued ranges, oldest first, not counting the open tail below. */
  #queue: Uint8Array[] = [];
  /** The newest range, still growing while adjacent lines arrive. */
  #tailBuffer: ArrayBufferLike | null = null;
  #tailStart = 0;
  #tailEnd = 0;
  #bytes = 0;
  #writing = false;
  #failed = false;
  #drained: PromiseWithResolvers<void> | null = null;
  #onError: (error: unknown) => void;

  /**
   * Creates an outbox over a writer. `onError` is called once when a write
   * fails; the outbox then drops everything queued and accepts nothing more.
   */
  constructor(
    writer: ByteWriter,
    limitBytes: number,
    onError: (error: unknown) => void,
  ) {
    this.#writer = writer;
    this.limitBytes = limitBytes;
    this.#onError = onError;
  }

  /** Bytes queued or being written. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /**
   * Queues a line. Returns false, queuing nothing, when the line would take
   * the queue over its limit. After a write failure lines are dropped and
   * true is returned: the owner is already closing.
   *
   * @example The limit counts queued bytes
   * ```ts
   * import assert from "node:assert/strict";
   * import { Outbox } from "./outbox.ts";
   *
   * const never = { write: () => new Promise<number>(() => {}) };
   * const outbox = new Outbox(never, 10, () => {});
   * assert.equal(outbox.push(new Uint8Array(6)), true);
   * assert.equal(outbox.push(new Uint8Array(6)), false);
   * ```
   */
  push(line: Uint8Array, options: { force?: boolean } = {}): boolean {
    if (this.#failed) return true;
    if (!options.force && this.#bytes + line.length > this.limitBytes) {
      return false;
    }
    if (line.buffer === this.#tailBuffer && line.byteOffset === this.#tailEnd) {
      this.#tailEnd += line.length;
    } else {
      this.#sealTail();
      this.#tailBuffer = line.buffer;
      this.#tailStart = line.byteOffset;
      this.#tailEnd = line.byteOffset + line.length;
    }
    this.#bytes += line.length;
    if (!this.#writing) {
      this.#writing = true;
      // Start on a microtask: lines queued in the same turn share one write.
      queueMicrotask(() => this.#run());
    }
    return true;
  }

  /** Drops everything queued that is not yet being written. */
  clear(): void {
    this.#sealTail();
    for (const line of this.#queue) this.#bytes -= line.length;
    this.#queue = [];
  }

  /** Moves the open tail range into the queue. */
  #sealTail(): void {
    if (this.#tailBuffer === null) return;
    this.#queue.push(
      new Uint8Array(
        this.#tailBuffer,
        this.#tailStart,
        this.#tailEnd - this.#tailStart,
      ),
    );
    this.#tailBuffer = null;
  }

  /** Resolves once everything queued has been written or a write failed. */
  drained(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#drained ??= Promise.withResolvers();
    return this.#drained.promise;
  }

  async #run(): Promise<void> {
    try {
      while (true) {
        this.#sealTail();
        if (this.#queue.length === 0) break;
        const batch = this.#queue;
        this.#queue = [];
        const data = batch.length === 1 ? batch[0]! : concat(batch);
        await writeAll(this.#writer, data);
        this.#bytes -= data.length;
      }
    } catch (error) {
      this.#failed = true;
      this.#queue = [];
      this.#tailBuffer = null;
      this.#bytes = 0;
      this.#onError(error);
    } finally {
      this.#writing = false;
      this.#drained?.resolve();
      this.#drained = null;
    }
  }
}

/** Writes all of `data`, looping over partial writes. */
export async function writeAll(
  writer: ByteWriter,
  data: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += await writer.write(data.subarray(written));
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
