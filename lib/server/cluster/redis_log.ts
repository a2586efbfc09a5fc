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
import { NewestReader, RoomSeqs } from "../room/room_seqs.ts";
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

/** Stream entries one `XRANGE` of {@linkcode RedisLog.open} reads. */
const FILL_PAGE = 1000;

/** The room log in a Redis Stream. */
export class RedisLog implements RoomLog {
  #link: RedisLink;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  /** Whether the room takes the next event now (`RoomLog.pace`). */
  #ready: () => Promise<void> | undefined = () => undefined;
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
  /** Each room's numbers, for catch-ups (filed as the reader hands on). */
  #index = new RoomSeqs();

  private constructor(link: RedisLink, options: RedisLogOptions) {
    this.#link = link;
    this.#options = options;
    this.#recent = new RecentEvents(options.keep);
    this.#reader = new StreamReader(link, options, {
      event: (event) => {
        this.#recent.add(event);
        this.#index.add(event);
        this.#sink(event);
      },
      // Right after the echoes before.
      entry: () => this.#writer.tellFailures(),
      reply: () => this.#checkSettled(),
      ready: () => this.#ready(),
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
    await log.#fill(seq);
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
    // What was skipped is not filed: a catch-up from before it has a gap.
    this.#index.restart(seq);
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

  pace(ready: () => Promise<void> | undefined): void {
    this.#ready = ready;
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
   * Counts and finds the room's events by its numbers ({@linkcode RoomSeqs}),
   * then reads only those the catch-up sends, each by its number; a gap
   * when the stream was trimmed after `after` (how many of the room's
   * went is unknown: `XADD` trims without reading), or when `after` is
   * older than what the index holds.
   */
  async since(
    room: string,
    after: number,
    options: SinceOptions,
  ): Promise<LogRange> {
    const before = options.before ?? Infinity;
    const defaultRoom = options.defaultRoom ?? false;
    const counted = this.#index.count(room, after, before, defaultRoom);
    const [oldest] = await this.#link.command([
      "XRANGE",
      this.#link.keys.events,
      "-",
      "+",
      "COUNT",
      "1",
    ]) as StreamEntry[];
    const gap = after < this.#index.from ||
      (oldest !== undefined && seqOf(oldest[0]) > after + 1);
    const reader = new NewestReader(counted, options, gap ? 1 : 0);
    for (let page = reader.next(); page.length > 0; page = reader.next()) {
      reader.take(await this.#read(page));
    }
    const { events } = reader;
    const shown = events.filter((event) => roomsOnly(event.line)).length;
    return {
      events,
      over: counted.count - events.length,
      overRoomsOnly: counted.roomsOnly - shown,
      gap,
      lost: NOTHING_LOST,
    };
  }

  /** The events of `seqs` still in the stream, in that order (pipelined). */
  async #read(seqs: readonly number[]): Promise<RoomEvent[]> {
    const { events } = this.#link.keys;
    const pages = await Promise.all(
      seqs.map((seq) =>
        this.#link.command(["XRANGE", events, `${seq}`, `${seq}`])
      ),
    ) as StreamEntry[][];
    return pages.flat().map(streamEvent).filter((event) => event !== null);
  }

  /**
   * Files the stream's events up to `seq` in the index, the newest
   * {@linkcode CATCH_UP_SCAN_EVENTS} at most, a page at a time (once, at
   * start, before reading goes on from `seq`).
   */
  async #fill(seq: number): Promise<void> {
    const from = Math.max(0, seq - CATCH_UP_SCAN_EVENTS);
    this.#index.restart(from);
    let low = from + 1;
    while (low <= seq) {
      const page = await this.#link.command([
        "XRANGE",
        this.#link.keys.events,
        `${low}`,
        `${seq}`,
        "COUNT",
        String(FILL_PAGE),
      ]) as StreamEntry[];
      for (const entry of page) {
        const event = streamEvent(entry);
        if (event !== null) this.#index.add(event);
      }
      if (page.length < FILL_PAGE) break;
      low = seqOf(page.at(-1)![0]) + 1;
    }
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
    this.#index.restart(0);
    this.#checkSettled();
  }
}
