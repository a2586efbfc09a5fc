/**
 * A member's bounded outbound queue and its single writer. Lines are queued
 * without waiting; the writer sends everything queued since its last write
 * as one write, so a busy member costs one TLS record per batch, not per line.
 * The queue never holds more than `limitBytes` (counting the write in
 * flight): {@linkcode Outbox.push} refuses the line instead, and the owner
 * disconnects the slow consumer.
 *
 * @module
 */

/** Where an outbox writes: `write` may write only part of the buffer. */
export interface ByteWriter {
  write(data: Uint8Array): Promise<number>;
}

/** Bounded queue of encoded lines with one coalescing writer. */
export class Outbox {
  readonly limitBytes: number;
  #writer: ByteWriter;
  #queue: Uint8Array[] = [];
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
    this.#queue.push(line);
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
    for (const line of this.#queue) this.#bytes -= line.length;
    this.#queue = [];
  }

  /** Resolves once everything queued has been written or a write failed. */
  drained(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#drained ??= Promise.withResolvers();
    return this.#drained.promise;
  }

  async #run(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        const data = batch.length === 1 ? batch[0]! : concat(batch);
        await writeAll(this.#writer, data);
        this.#bytes -= data.length;
      }
    } catch (error) {
      this.#failed = true;
      this.#queue = [];
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
