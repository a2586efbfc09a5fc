/**
 * The room log of a cluster: a Redis Stream that every server of the room
 * appends to and reads. Lines appended in one event-loop turn go in one
 * script call, which numbers them (1, 2, 3, ... across the cluster, no
 * gaps); nothing is handed on from `append`: every server, this one too,
 * hands on what it reads from the stream (`XREAD BLOCK` from the last entry
 * it handed on), so a sender's echo means the line is in the global order,
 * and every member of every server sees one order. Membership changes are
 * appended by the cluster's scripts ({@linkcode Cluster}), atomically with
 * the change, and come back the same way.
 *
 * When Redis cannot be reached, appends fail at once (their senders hear
 * so) and the reader waits and goes on from its last entry: nothing in the
 * stream is skipped or handed on twice.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import { type Clock, sleep } from "../clock.ts";
import { describeError, type Logger } from "../log.ts";
import type { RedisLink } from "./redis.ts";
import {
  RecentEvents,
  type RoomEvent,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
} from "./room_log.ts";
import { toRoomEvent } from "./sqlite_log.ts";

/** Options of {@linkcode RedisLog}. */
export interface RedisLogOptions {
  readonly clock: Clock;
  /** Messages and actions kept at hand for history on join. */
  readonly keep: number;
  readonly log: Logger;
}

interface Pending {
  readonly time: number;
  readonly line: RoomLine;
  readonly origin: string;
  readonly note: string;
}

/** Failed batches held back for order, at most. */
const MAX_HELD_FAILURES = 1000;

/** Entries read at most per `XREAD`. */
const READ_COUNT = 1000;
/** How long one `XREAD` blocks before it is asked again. */
const BLOCK_MS = 1000;

/** The room log in a Redis Stream. */
export class RedisLog implements RoomLog {
  #link: RedisLink;
  #options: RedisLogOptions;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  #recent: RecentEvents;
  #pending: Pending[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  /** Batches whose append has not answered yet. */
  #inFlight = new Set<Promise<void>>();
  /** The highest number appended here; settled once it is handed on. */
  #awaiting = 0;
  /**
   * Failed batches whose senders are told only once the batches appended
   * before them have been handed on: a reply never overtakes an echo.
   */
  #failures: { upTo: number; batch: Pending[]; error: unknown }[] = [];
  /** Told when everything appended here has been handed on. */
  #settledWaiters: (() => void)[] = [];
  /** The last entry handed on: reading goes on from there. */
  #lastId = "0-0";
  #handedOn = 0;
  #closed = false;
  /** Counts resets: a read asked before one is not handed on. */
  #generation = 0;
  /** Appends are failing (logged once, until one succeeds again). */
  #failing = false;
  #stopReading = new AbortController();
  #reading: Promise<void> = Promise.resolve();

  private constructor(link: RedisLink, options: RedisLogOptions) {
    this.#link = link;
    this.#options = options;
    this.#recent = new RecentEvents(options.keep);
  }

  /**
   * Opens the log: loads the newest messages for history on join, then
   * reads on from the stream's end.
   */
  static async open(
    link: RedisLink,
    options: RedisLogOptions,
  ): Promise<RedisLog> {
    const log = new RedisLog(link, options);
    const entries = await link.command([
      "XREVRANGE",
      link.keys.events,
      "+",
      "-",
      "COUNT",
      String(Math.max(options.keep * 4, 100)),
    ]) as StreamEntry[];
    if (entries.length > 0) log.#lastId = entries[0]![0];
    log.#handedOn = seqOf(log.#lastId);
    for (const entry of entries.reverse()) {
      const event = toEvent(entry);
      if (event !== null) log.#recent.add(event);
    }
    link.onReset(() => log.#reset());
    log.#reading = log.#read();
    return log;
  }

  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#sink = sink;
    this.#failed = failed ?? (() => {});
  }

  append(line: RoomLine, origin: string, note = ""): void {
    if (this.#closed) return;
    this.#pending.push({ time: this.#options.clock.now(), line, origin, note });
    this.#scheduled ??= setImmediate(this.#send);
  }

  settled(): Promise<void> | undefined {
    if (this.#idle()) return undefined;
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  recent(limit: number): readonly RoomEvent[] {
    return this.#recent.last(limit);
  }

  async since(seq: number, limit: number): Promise<readonly RoomEvent[]> {
    const entries = await this.#link.command([
      "XRANGE",
      this.#link.keys.events,
      `${seq + 1}-0`,
      "+",
      "COUNT",
      String(limit),
    ]) as StreamEntry[];
    return entries.map(toEvent).filter((e) => e !== null);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#send();
    await Promise.allSettled(this.#inFlight);
    this.#closed = true;
    clearImmediate(this.#scheduled);
    this.#stopReading.abort();
    this.#checkSettled();
    await this.#reading;
  }

  #idle(): boolean {
    return this.#closed ||
      this.#pending.length === 0 && this.#inFlight.size === 0 &&
        this.#handedOn >= this.#awaiting;
  }

  /** Tells the senders of failed batches, once what came before is out. */
  #tellFailures(): void {
    while (
      this.#failures.length > 0 && this.#failures[0]!.upTo <= this.#handedOn
    ) {
      const { batch, error } = this.#failures.shift()!;
      this.#failed(batch, error);
    }
  }

  /** Wakes those waiting for the log to settle, if it has. */
  #checkSettled(): void {
    this.#tellFailures();
    if (this.#settledWaiters.length === 0 || !this.#idle()) return;
    for (const wake of this.#settledWaiters.splice(0)) wake();
  }

  /** Appends every pending line in one script call. */
  #send = (): void => {
    clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const args: string[] = [];
    for (const { time, line, origin, note } of batch) {
      args.push(String(time), origin, JSON.stringify(line), note);
    }
    const sent = this.#link.run("append", args).then(
      (first) => {
        const upTo = Number(first) + batch.length - 1;
        this.#awaiting = Math.max(this.#awaiting, upTo);
        if (this.#failing) this.#options.log.info("history-resumed", {});
        this.#failing = false;
      },
      (error) => {
        // Once per outage: the senders hear of every line.
        const level = this.#failing ? "debug" : "error";
        this.#failing = true;
        this.#options.log[level]("history-failed", {
          what: "append",
          lines: batch.length,
          error: describeError(error),
        });
        this.#failures.push({ upTo: this.#awaiting, batch, error });
        // Held for order while the reader cannot catch up (an outage), but
        // not without bound: past that, the oldest are told at once.
        if (this.#failures.length > MAX_HELD_FAILURES) {
          this.#failures[0]!.upTo = 0;
        }
        this.#tellFailures();
      },
    );
    this.#inFlight.add(sent);
    sent.finally(() => {
      this.#inFlight.delete(sent);
      this.#checkSettled();
    });
  };

  /**
   * The cluster's state was lost with Redis's data: the stream starts
   * again from 1, and so does reading it; what was kept at hand goes.
   */
  #reset(): void {
    this.#generation++;
    // Lines not yet sent belong to members who are being dismissed.
    if (this.#pending.length > 0) {
      const error = new Error("the room's shared state was lost");
      this.#failures.push({ upTo: 0, batch: this.#pending, error });
      this.#pending = [];
    }
    for (const failure of this.#failures) failure.upTo = 0;
    this.#lastId = "0-0";
    this.#handedOn = 0;
    this.#awaiting = 0;
    this.#recent.forgetUpTo(Infinity);
    this.#checkSettled();
  }

  /** Reads the stream and hands on what it reads, in order, until closed. */
  async #read(): Promise<void> {
    const { signal } = this.#stopReading;
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
          String(READ_COUNT),
          "BLOCK",
          String(BLOCK_MS),
          "STREAMS",
          this.#link.keys.events,
          this.#lastId,
        ], BLOCK_MS);
        backoffMs = 100;
      } catch (error) {
        if (signal.aborted) return;
        failed = true;
        this.#options.log.debug("redis-read-failed", {
          error: describeError(error),
          retryMs: backoffMs,
        });
        await sleep(this.#options.clock, backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, 2000);
        continue;
      }
      // Asked before the state was lost: from a stream that is no more.
      if (generation !== this.#generation) continue;
      for (const entry of streamEntries(reply)) this.#handOn(entry);
      this.#checkSettled();
    }
  }

  #handOn(entry: StreamEntry): void {
    const seq = seqOf(entry[0]);
    if (this.#handedOn > 0 && seq > this.#handedOn + 1) {
      // Numbers have no gaps: these were trimmed before this server read
      // them (it was behind by more than --history-keep-rows).
      this.#options.log.error("history-gap", {
        missed: seq - this.#handedOn - 1,
        hint: "this server fell behind the stream; raise --history-keep-rows",
      });
    }
    this.#lastId = entry[0];
    this.#handedOn = seq;
    const event = toEvent(entry);
    if (event === null) return;
    this.#recent.add(event);
    this.#sink(event);
  }
}

/** An entry as `XREAD`/`XRANGE` return it: id, then field, value, ... */
type StreamEntry = [string, string[]];

/**
 * The entries of an `XREAD` reply: null (nothing new), pairs of stream and
 * entries, or (node-redis) an object by stream name.
 */
function streamEntries(reply: unknown): StreamEntry[] {
  if (reply === null || reply === undefined) return [];
  const streams = Array.isArray(reply)
    ? reply as [string, StreamEntry[]][]
    : Object.entries(reply as Record<string, StreamEntry[]>);
  return streams.flatMap(([, entries]) => entries);
}

function seqOf(id: string): number {
  return Number(id.split("-")[0]);
}

function toEvent([id, fields]: StreamEntry): RoomEvent | null {
  const values: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    values[fields[i]!] = fields[i + 1]!;
  }
  const event = toRoomEvent({
    seq: seqOf(id),
    time: Number(values.t),
    line: values.l ?? "",
  });
  if (event === null) return null;
  // Read back from Redis: a note becomes a BYE's text, so one line only.
  const note = values.n && !/[\r\n]/.test(values.n) ? values.n : undefined;
  return { ...event, origin: values.o ?? "", note };
}
