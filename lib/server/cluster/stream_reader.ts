/**
 * Reading a cluster's room log: `XREAD BLOCK` from where the rooms'
 * snapshot ends, then from the last entry handed on, until closed.
 * Entries come out in the stream's order, each once the room is ready for
 * it (its members' queues below their watermark); a gap in their numbers
 * (entries trimmed before this server read them) is logged; a failed read
 * is asked again after a growing pause, and first the epoch is checked
 * (is this still the stream it was reading?). A read asked before a reset
 * (the cluster's state lost) is not handed on.
 *
 * @module
 */

import { type Clock, sleep, untilAborted } from "../../clock.ts";
import { describeError, type Logger } from "../../log.ts";
import type { RoomEvent } from "../room/room_log.ts";
import type { RedisLink } from "./redis.ts";
import {
  seqOf,
  streamEntries,
  type StreamEntry,
  streamEvent,
} from "./stream_entry.ts";

/** Options of {@linkcode StreamReader} (a part of the log's options). */
export interface StreamReaderOptions {
  readonly clock: Clock;
  /** Entries read at most per `XREAD`. */
  readonly redisReadCount: number;
  /** The longest wait before reading again after a failed read. */
  readonly redisReconnectMaxMs: number;
  /** How long one `XREAD` blocks before it is asked again. */
  readonly redisReadBlockMs: number;
  readonly log: Logger;
}

/** What a {@linkcode StreamReader} hands its reader. */
export interface StreamReaderSink {
  /** An entry's event, in the stream's order (unreadable ones skipped). */
  event(event: RoomEvent): void;
  /** After each entry read (readable or not). */
  entry(): void;
  /** After each reply's entries (none, after a read that timed out). */
  reply(): void;
  /**
   * Before each entry: undefined to hand it on now, or a promise to wait
   * on first (the room's members do not keep up: `RoomLog.pace`).
   */
  ready(): Promise<void> | undefined;
}

/** Reads the room's stream and hands on what it reads, in order. */
export class StreamReader {
  #link: RedisLink;
  #options: StreamReaderOptions;
  #sink: StreamReaderSink;
  /** The last entry handed on: reading goes on from there. */
  #lastId = "0-0";
  #handedOn = 0;
  /** Counts resets: a read asked before one is not handed on. */
  #generation = 0;
  #stop = new AbortController();
  #reading: Promise<void> = Promise.resolve();

  constructor(
    link: RedisLink,
    options: StreamReaderOptions,
    sink: StreamReaderSink,
  ) {
    this.#link = link;
    this.#options = options;
    this.#sink = sink;
  }

  /** The number of the last entry handed on (0: none). */
  get handedOn(): number {
    return this.#handedOn;
  }

  /** Starts reading (once), after entry number `seq` (0: from the first). */
  startAfter(seq: number): void {
    this.#lastId = `${seq}-0`;
    this.#handedOn = seq;
    this.#reading = this.#read();
  }

  /** The stream starts again from 1, and so does reading it. */
  reset(): void {
    this.restartAfter(0);
  }

  /**
   * Reading goes on after entry `seq` (a read asked before is dropped):
   * the rooms were read again up to it.
   */
  restartAfter(seq: number): void {
    this.#generation++;
    this.#lastId = `${seq}-0`;
    this.#handedOn = seq;
  }

  /** Stops reading at once; resolves once the last read is over. */
  close(): Promise<void> {
    this.#stop.abort();
    return this.#reading;
  }

  /** Reads the stream and hands on what it reads, in order, until closed. */
  async #read(): Promise<void> {
    const { signal } = this.#stop;
    const { redisReadCount, redisReadBlockMs } = this.#options;
    let backoffMs = 100;
    let failed = false;
    while (!signal.aborted) {
      let reply: unknown;
      const generation = this.#generation;
      try {
        // Back after a failure: is this still the stream it was reading?
        if (failed) await this.#link.checkEpoch(this.#handedOn);
        failed = false;
        reply = await this.#link.read([
          "XREAD",
          "COUNT",
          String(redisReadCount),
          "BLOCK",
          String(redisReadBlockMs),
          "STREAMS",
          this.#link.keys.events,
          this.#lastId,
        ], redisReadBlockMs);
        backoffMs = 100;
      } catch (error) {
        if (signal.aborted) return;
        failed = true;
        this.#options.log.debug("redis-read-failed", {
          error: describeError(error),
          retryMs: backoffMs,
        });
        await sleep(this.#options.clock, backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, this.#options.redisReconnectMaxMs);
        continue;
      }
      // Asked before the state was lost: from a stream that is no more.
      if (generation !== this.#generation) continue;
      if (!await this.#handOnAll(streamEntries(reply), generation)) continue;
      this.#sink.reply();
    }
  }

  /**
   * Hands on a reply's entries, each once the sink is ready for it (up to
   * 1,000 entries at once after a pause would take a member that keeps
   * reading over its queue's limit); false when reading stopped or was
   * reset meanwhile (the rest is not handed on).
   */
  async #handOnAll(
    entries: StreamEntry[],
    generation: number,
  ): Promise<boolean> {
    const { signal } = this.#stop;
    for (const entry of entries) {
      const ready = this.#sink.ready();
      if (ready !== undefined) {
        await untilAborted(ready, signal);
        if (signal.aborted || generation !== this.#generation) return false;
      }
      this.#handOn(entry);
      this.#sink.entry();
    }
    return true;
  }

  #handOn(entry: StreamEntry): void {
    const seq = seqOf(entry[0]);
    if (this.#handedOn > 0 && seq > this.#handedOn + 1) {
      // Numbers have no gaps: these were trimmed before this server read
      // them (it was behind by more than --redis-stream-entries).
      this.#options.log.error("history-gap", {
        missed: seq - this.#handedOn - 1,
        hint:
          "this server fell behind the stream; raise --redis-stream-entries",
      });
    }
    this.#lastId = entry[0];
    this.#handedOn = seq;
    const event = streamEvent(entry);
    if (event === null) {
      this.#options.log.error("history-unreadable", {
        seq,
        hint: "a stream entry this server cannot read was skipped",
      });
      return;
    }
    this.#sink.event(event);
  }
}
