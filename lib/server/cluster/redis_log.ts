/**
 * The room log of a cluster: a Redis Stream that every server of the room
 * appends to and reads. Lines appended in one event-loop turn go in one
 * script call (at most `redisBatchLines`), which numbers them (1,
 * 2, 3, ... across the cluster, no gaps); calls are pipelined, and their
 * answers handled in the order they were sent. Nothing is handed on from
 * `append`: every server, this one too, hands on what it reads from the
 * stream ({@linkcode StreamReader}: `XREAD BLOCK` from the last entry it
 * handed on), so a sender's echo means the line is in the global order,
 * and every member of every server sees one order. Membership changes are
 * appended by the cluster's scripts ({@linkcode Cluster}), atomically with
 * the change, and come back the same way.
 *
 * Every line has an id chosen before it is sent (the caller's, or a new
 * one), kept with it in the stream; the script stores no id twice, and
 * keeps each id's line sign ({@linkcode lineSign}) and the tag of the
 * append that stored it: a retried append finds its own line (same tag),
 * a resend from the client is a `duplicate` (same sign), another line
 * under a taken id is `reused` (in a cluster too). Appends are sent, and
 * sent again while in doubt, by the {@linkcode StreamWriter}; its reports
 * come in the stream's order: after the echoes of what was stored before.
 *
 * @module
 */

import {
  type AppendOptions,
  CATCH_UP_SCAN_EVENTS,
  inRoom,
  type LogRange,
  NOTHING_LOST,
  type RoomEvent,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
  roomsOnly,
  type SinceOptions,
} from "../room/room_log.ts";
import { RecentEvents } from "../room/recent_events.ts";
import { seqOf, type StreamEntry, streamEvent } from "./stream_entry.ts";
import type { RedisLink } from "./redis.ts";
import type { RoomRecord } from "../room/room_record.ts";
import type { RoomsSnapshot } from "../room/rooms_snapshot.ts";
import { readRoomsAtStart } from "./rooms_at_start.ts";
import { StreamReader, type StreamReaderOptions } from "./stream_reader.ts";
import { StreamCatchUp } from "./search_catch_up.ts";
import type { Search } from "../room/search.ts";
import { StreamWriter, type StreamWriterOptions } from "./stream_writer.ts";

/** Options of {@linkcode RedisLog}. */
export interface RedisLogOptions
  extends StreamReaderOptions, StreamWriterOptions {
  /** Messages and actions kept at hand for history on join. */
  readonly keep: number;
  /** The default room's name (`--default-room`). */
  readonly defaultRoom: string;
}

/** Stream entries one `XREVRANGE` of a catch-up reads. */
const CATCH_UP_PAGE = 1000;

/**
 * What a catch-up keeps of a room's events read newest first: the newest
 * that the limit and `fits` take (as `fitting` says); the others counted.
 */
class Kept {
  readonly #options: SinceOptions;
  readonly #events: RoomEvent[] = [];
  #count = 0;
  #overRoomsOnly = 0;
  #bytes = 0;

  constructor(options: SinceOptions) {
    this.#options = options;
  }

  /** The next older event of the room: kept, or counted over. */
  add(event: RoomEvent): void {
    const { limit, fits } = this.#options;
    if (++this.#count <= limit && this.#bytes <= (fits?.bytes ?? Infinity)) {
      this.#events.push(event);
      this.#bytes += fits?.size(event) ?? 0;
    } else if (roomsOnly(event.line)) this.#overRoomsOnly++;
  }

  /** The range read (`gap`: lines after its start may be gone). */
  range(gap: boolean): LogRange {
    const events = this.#events.toReversed();
    const over = this.#count - events.length;
    return {
      events,
      over,
      overRoomsOnly: this.#overRoomsOnly,
      gap,
      lost: NOTHING_LOST,
    };
  }
}

/** The room log in a Redis Stream. */
export class RedisLog implements RoomLog {
  #link: RedisLink;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  #recent: RecentEvents;
  /** Told when everything appended here has been handed on. */
  #settledWaiters: (() => void)[] = [];
  #closed = false;
  #reader: StreamReader;
  #writer: StreamWriter;
  #atStart: RoomsSnapshot | undefined;
  #startSeq = 0;
  /** The search index's catch-ups from the stream, if it has one. */
  #searchCatchUp: StreamCatchUp | undefined;
  #options: RedisLogOptions;

  private constructor(link: RedisLink, options: RedisLogOptions) {
    this.#link = link;
    this.#options = options;
    this.#recent = new RecentEvents(options.keep);
    this.#reader = new StreamReader(link, options, {
      event: (event) => {
        this.#recent.add(event);
        this.#sink(event);
      },
      // Right after the echoes before.
      entry: () => this.#writer.tellFailures(),
      reply: () => this.#checkSettled(),
    });
    this.#writer = new StreamWriter(link, options, {
      handedOn: () => this.#reader.handedOn,
      failed: (lines, outcome, error) => this.#failed(lines, outcome, error),
      stepped: () => this.#checkSettled(),
    });
  }

  /**
   * Opens the log: reads the rooms as they are now (the default room's
   * last messages kept at hand), then reads the stream on from the last
   * event they include.
   */
  static async open(
    link: RedisLink,
    options: RedisLogOptions,
  ): Promise<RedisLog> {
    const log = new RedisLog(link, options);
    const { snapshot, seq } = await readRoomsAtStart(link, options.log);
    log.#atStart = snapshot;
    for (const event of snapshot.recent.get(options.defaultRoom) ?? []) {
      log.#recent.add(event);
    }
    log.#reader.startAfter(seq);
    log.#startSeq = seq;
    link.onReset(() => log.#reset());
    return log;
  }

  /**
   * The rooms as they were when the log opened (taken: asked once, as the
   * rooms are built), with the registered rooms of this server's own
   * (`local`) that Redis does not know (a new cluster, or one whose state
   * was lost): Redis's records are newer than this server's copies. Those
   * spread to the other servers with their next `JOIN` or change.
   */
  takeRoomsAtStart(local: readonly RoomRecord[]): RoomsSnapshot {
    const snapshot = this.#atStart ??
      { records: [], members: [], recent: new Map() };
    this.#atStart = undefined;
    const known = new Set(snapshot.records.map((record) => record.name));
    const own = local.filter((record) => !known.has(record.name));
    return { ...snapshot, records: [...snapshot.records, ...own] };
  }

  /**
   * The rooms as Redis keeps them now (this server was counted lost, and
   * what it missed may be trimmed from the stream); reading goes on right
   * after the last event they include, and the default room's last
   * messages at hand are theirs.
   */
  async roomsNow(): Promise<RoomsSnapshot> {
    const { log, defaultRoom } = this.#options;
    const { snapshot, seq } = await readRoomsAtStart(this.#link, log);
    // What the reader had not reached is skipped: the index takes it back.
    this.#searchCatchUp?.skipped(this.#reader.handedOn + 1, seq);
    this.#reader.restartAfter(seq);
    this.#recent.forgetUpTo(Infinity);
    for (const event of snapshot.recent.get(defaultRoom) ?? []) {
      this.#recent.add(event);
    }
    return snapshot;
  }

  /**
   * Has `search`'s index take again from the stream what this server
   * missed while it was down (`search_catch_up.ts`), up to where reading
   * began, and what the reader skips when this server was counted lost
   * ({@linkcode roomsNow}), in the background until the log closes;
   * `search` itself.
   */
  catchUpSearch(search: Search): Search {
    if (search.catchUp === undefined) return search;
    this.#searchCatchUp = new StreamCatchUp(search.catchUp, {
      ...this.#options,
      link: this.#link,
      closed: () => this.#closed,
    });
    this.#searchCatchUp.start(this.#startSeq);
    return search;
  }

  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#sink = sink;
    this.#failed = failed ?? (() => {});
  }

  append(line: RoomLine, origin: string, options: AppendOptions = {}): void {
    if (this.#closed) return;
    this.#writer.append(line, origin, options);
  }

  /**
   * Sends the lines appended so far to Redis now (not at the turn's end),
   * so that a script run next on the link (a `LEAVE`) comes after them.
   */
  flush(): void {
    if (!this.#closed) this.#writer.flush();
  }

  settled(): Promise<void> | undefined {
    if (this.#idle()) return undefined;
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  recent(limit: number): readonly RoomEvent[] {
    return this.#recent.last(limit);
  }

  /** The cluster's epoch (renewed when Redis lost the cluster's state). */
  get epoch(): string {
    return this.#link.epoch;
  }

  /**
   * Reads the stream back from `before` (its newest end), a page at a
   * time, down to `after` (at most {@linkcode CATCH_UP_SCAN_EVENTS}
   * entries); a gap when the stream was trimmed after `after` (how many
   * of the room's went is unknown: `XADD` trims without reading).
   */
  async since(
    room: string,
    after: number,
    options: SinceOptions,
  ): Promise<LogRange> {
    const kept = new Kept(options);
    let high = options.before === undefined ? "+" : `${options.before - 1}`;
    let scanned = 0;
    while (high === "+" || Number(high) > after) {
      const page = await this.#link.command([
        "XREVRANGE",
        this.#link.keys.events,
        high,
        `${after + 1}`,
        "COUNT",
        String(CATCH_UP_PAGE),
      ]) as StreamEntry[];
      for (const entry of page) {
        const event = streamEvent(entry);
        if (event === null || !inRoom(event, room, options.defaultRoom)) {
          continue;
        }
        kept.add(event);
      }
      scanned += page.length;
      if (page.length < CATCH_UP_PAGE) break;
      high = String(seqOf(page.at(-1)![0]) - 1);
      if (scanned >= CATCH_UP_SCAN_EVENTS) return kept.range(true);
    }
    const [oldest] = await this.#link.command([
      "XRANGE",
      this.#link.keys.events,
      "-",
      "+",
      "COUNT",
      "1",
    ]) as StreamEntry[];
    return kept.range(oldest !== undefined && seqOf(oldest[0]) > after + 1);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // What is pending is sent once; what is in doubt is not sent again.
    const lost = await this.#writer.close();
    if (lost > 0) {
      // Their senders, gone with shutdown, cannot be told.
      this.#options.log.error("history-failed", {
        what: "shutdown",
        lines: lost,
        hint: "Redis did not store them before shutdown (or did unanswered)",
      });
    }
    this.#closed = true;
    const reading = this.#reader.close();
    this.#checkSettled();
    await reading;
  }

  #idle(): boolean {
    return this.#closed || this.#writer.idle;
  }

  /** Wakes those waiting for the log to settle, if it has. */
  #checkSettled(): void {
    this.#writer.tellFailures();
    if (this.#settledWaiters.length === 0 || !this.#idle()) return;
    for (const wake of this.#settledWaiters.splice(0)) wake();
  }

  /**
   * The cluster's state was lost with Redis's data: the stream starts
   * again from 1, and so does reading it; what was kept at hand goes.
   */
  #reset(): void {
    this.#writer.reset();
    this.#reader.reset();
    this.#recent.forgetUpTo(Infinity);
    this.#checkSettled();
  }
}
