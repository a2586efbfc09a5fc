/**
 * A member's bounded outbound queue and its single writer. Lines are queued
 * without waiting; the writer sends everything queued since its last write
 * as one write (up to {@linkcode SLICE_BYTES}), so a busy member costs one
 * TLS record per batch, not per line. Lines that are adjacent in memory
 * (broadcasts encoded one after another by a `LineArena`) are merged into
 * one range and written straight from their shared chunk.
 *
 * The limit is on memory, not on line bytes: the queue counts the whole size
 * of every buffer it refers to (a queued line pins its arena chunk), from
 * the moment a line is queued until it is written, and
 * {@linkcode Outbox.push} refuses a line that would take that over
 * `queueBytes`. The owner then drops the slow consumer.
 *
 * Half the limit is the queue's watermark, on the bytes of room lines
 * (pushed with `room: true`: the room's fan-out) queued and not yet
 * written: a watcher hears when they go above it and when they are back at
 * or below it, each when it happens (writes are made in slices of at most
 * {@linkcode SLICE_BYTES}, and each write counts). A member's own replies
 * and history take room in the queue, but do not count toward it.
 *
 * @module
 */

import type { ByteWriter } from "../../io.ts";
import type { QueueWatcher } from "../room/connection.ts";

/** Most bytes written at once. */
export const SLICE_BYTES = 16 * 1024;

/** Options of {@linkcode Outbox.push}. */
export interface PushOptions {
  /**
   * Queue it whatever the limit (a last line).
   * @default {false}
   */
  readonly force?: boolean;
  /**
   * A line of the room's fan-out: it counts toward the watermark.
   * @default {false}
   */
  readonly room?: boolean;
}

/** Bounded queue of encoded lines with one coalescing writer. */
export class Outbox {
  readonly queueBytes: number;
  /** Half of `queueBytes`: see the module documentation. */
  readonly watermark: number;
  #writer: ByteWriter;
  /** Queued ranges, oldest first, not counting the open tail below. */
  #queue: Uint8Array[] = [];
  /** The newest range, still growing while adjacent lines arrive. */
  #tailBuffer: ArrayBufferLike | null = null;
  #tailStart = 0;
  #tailEnd = 0;
  /**
   * Shared buffers (arena chunks) that queued, open or in-flight ranges
   * refer to, newest last, with how many ranges refer to each. A member
   * pins few of them at a time (`queueBytes` over the chunk size), so the
   * lists are searched from the end. A buffer that holds just one line is
   * its range's alone and is not listed.
   */
  #shared: ArrayBufferLike[] = [];
  #sharedRanges: number[] = [];
  /** Total size of the pinned buffers: what this queue keeps in memory. */
  #heldBytes = 0;
  #writing = false;
  /**
   * Starts the writer; made once: an arrow function in `push` would make
   * V8 allocate a context for `this` on every call (per line, per member).
   */
  #start = () => void this.#run();
  #failed = false;
  #drained: PromiseWithResolvers<void> | null = null;
  #onError: (error: unknown) => void;
  #watcher: QueueWatcher | null = null;
  #above = false;
  /** Bytes of lines accepted so far, and of those written so far. */
  #pushedBytes = 0;
  #writtenBytes = 0;
  /**
   * Where room lines lie in the stream of bytes pushed (start, end pairs,
   * oldest first, adjacent ones merged), while not all written; null when
   * none is queued (most members, most of the time).
   */
  #roomRanges: number[] | null = null;
  /** Bytes of room lines queued and not yet written. */
  #roomBytes = 0;
  /** Bytes pushed before the watcher came: written before it hears. */
  #watchFrom = 0;

  /**
   * Creates an outbox over a writer. `onError` is called once when a write
   * fails; the outbox then drops everything queued and accepts nothing more.
   */
  constructor(
    writer: ByteWriter,
    queueBytes: number,
    onError: (error: unknown) => void,
  ) {
    this.#writer = writer;
    this.queueBytes = queueBytes;
    this.watermark = Math.floor(queueBytes / 2);
    this.#onError = onError;
  }

  /**
   * Sets the one watcher of the watermark (see {@linkcode QueueWatcher}).
   * It hears nothing until what is queued now (a joiner's history) is
   * written.
   */
  watch(watcher: QueueWatcher): void {
    this.#watcher = watcher;
    this.#watchFrom = this.#pushedBytes;
  }

  /** Bytes of room lines queued and not yet written (see the module). */
  get roomBytes(): number {
    return this.#roomBytes;
  }

  /** Bytes of the lines queued or being written, not yet written. */
  get queuedBytes(): number {
    return this.#pushedBytes - this.#writtenBytes;
  }

  /**
   * Memory held for this queue: the whole size of every buffer a queued or
   * in-flight line refers to.
   */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /**
   * Queues a line. Returns false, queuing nothing, when the buffer it lives
   * in would take the memory held over `queueBytes` (`force` queues it
   * anyway: a last line); `room` marks a line of the room's fan-out. After
   * a write failure lines are dropped and true is returned: the owner is
   * already closing.
   *
   * @example The limit counts the buffers lines live in
   * ```ts
   * import assert from "node:assert/strict";
   * import { Outbox } from "./outbox.ts";
   *
   * const never = { write: () => new Promise<number>(() => {}) };
   * const outbox = new Outbox(never, 10, () => {});
   * assert.equal(outbox.push(new Uint8Array(6)), true);
   * assert.equal(outbox.push(new Uint8Array(6)), false);
   * const shared = new Uint8Array(64);
   * const fresh = new Outbox(never, 32, () => {});
   * assert.equal(fresh.push(shared.subarray(0, 4)), false);
   * ```
   */
  push(line: Uint8Array, options: PushOptions = {}): boolean {
    if (this.#failed) return true;
    const buffer = line.buffer;
    if (buffer === this.#tailBuffer && line.byteOffset === this.#tailEnd) {
      this.#tailEnd += line.length;
    } else {
      const at = buffer.byteLength > line.length
        ? this.#findShared(buffer)
        : -1;
      if (at >= 0) {
        this.#sharedRanges[at]!++;
      } else {
        if (
          !options.force &&
          this.#heldBytes + buffer.byteLength > this.queueBytes
        ) {
          return false;
        }
        this.#heldBytes += buffer.byteLength;
        if (buffer.byteLength > line.length) {
          this.#shared.push(buffer);
          this.#sharedRanges.push(1);
        }
      }
      this.#sealTail();
      this.#tailBuffer = buffer;
      this.#tailStart = line.byteOffset;
      this.#tailEnd = line.byteOffset + line.length;
    }
    if (options.room) this.#addRoom(this.#pushedBytes, line.length);
    this.#pushedBytes += line.length;
    this.#report();
    if (!this.#writing) {
      this.#writing = true;
      // Start on a microtask: lines queued in the same turn share one write.
      queueMicrotask(this.#start);
    }
    return true;
  }

  /** Resolves once everything queued has been written or a write failed. */
  drained(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#drained ??= Promise.withResolvers();
    return this.#drained.promise;
  }

  #findShared(buffer: ArrayBufferLike): number {
    for (let i = this.#shared.length - 1; i >= 0; i--) {
      if (this.#shared[i] === buffer) return i;
    }
    return -1;
  }

  /** Releases one range's hold on its buffer. */
  #unpin(buffer: ArrayBufferLike): void {
    const at = this.#findShared(buffer);
    if (at >= 0 && --this.#sharedRanges[at]! > 0) return;
    if (at >= 0) {
      this.#shared.splice(at, 1);
      this.#sharedRanges.splice(at, 1);
    }
    this.#heldBytes -= buffer.byteLength;
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

  async #run(): Promise<void> {
    try {
      while (true) {
        this.#sealTail();
        if (this.#queue.length === 0) break;
        // At most a slice's worth of ranges at once (one range may be
        // larger): what is in flight stays pinned until written, so the
        // memory held stays within a write of what is still queued.
        let take = 1;
        let bytes = this.#queue[0]!.length;
        while (
          take < this.#queue.length &&
          bytes + this.#queue[take]!.length <= SLICE_BYTES
        ) {
          bytes += this.#queue[take++]!.length;
        }
        const batch = this.#queue.splice(0, take);
        let data = batch[0]!;
        if (batch.length > 1) {
          // One copy for the batch releases the chunks it came from now.
          data = concat(batch);
          this.#heldBytes += data.buffer.byteLength;
          for (const range of batch) this.#unpin(range.buffer);
        }
        // In slices, each one's progress noted (not nested async functions:
        // a write per member per turn).
        for (let at = 0; at < data.length;) {
          const slice = at === 0 && data.length <= SLICE_BYTES
            ? data
            : data.subarray(at, at + SLICE_BYTES);
          const written = await this.#writer.write(slice);
          if (!(written > 0)) throw new Error(`wrote ${written} bytes`);
          at += written;
          this.#written(written);
          this.#report();
        }
        this.#unpin(data.buffer);
      }
    } catch (error) {
      this.#failed = true;
      this.#queue = [];
      this.#tailBuffer = null;
      this.#shared = [];
      this.#sharedRanges = [];
      this.#heldBytes = 0;
      this.#writtenBytes = this.#pushedBytes;
      this.#roomRanges = null;
      this.#roomBytes = 0;
      this.#report();
      this.#onError(error);
    } finally {
      this.#writing = false;
      this.#drained?.resolve();
      this.#drained = null;
    }
  }

  /** Notes a room line of `length` bytes at stream offset `start`. */
  #addRoom(start: number, length: number): void {
    this.#roomBytes += length;
    const ranges = this.#roomRanges ??= [];
    if (ranges.length > 0 && ranges[ranges.length - 1] === start) {
      ranges[ranges.length - 1] = start + length;
    } else {
      ranges.push(start, start + length);
    }
  }

  /** Notes `length` more bytes written, room lines' among them. */
  #written(length: number): void {
    const from = this.#writtenBytes;
    const to = this.#writtenBytes += length;
    const ranges = this.#roomRanges;
    if (ranges === null) return;
    let done = 0;
    while (done < ranges.length && ranges[done]! < to) {
      const start = Math.max(ranges[done]!, from);
      const end = Math.min(ranges[done + 1]!, to);
      if (end > start) this.#roomBytes -= end - start;
      if (ranges[done + 1]! > to) break;
      done += 2;
    }
    if (done === ranges.length) this.#roomRanges = null;
    else if (done > 0) ranges.splice(0, done);
  }

  /**
   * Tells the watcher when the room lines queued crossed the watermark
   * (once what was queued before it came is written).
   */
  #report(): void {
    const above = this.#roomBytes > this.watermark &&
      this.#writtenBytes >= this.#watchFrom;
    if (above === this.#above) return;
    this.#above = above;
    this.#watcher?.(above);
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
