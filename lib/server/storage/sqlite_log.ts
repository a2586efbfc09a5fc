/**
 * The durable room log: every room event is a row of the `events` table in
 * the data directory's database. Appends made in one event-loop turn are
 * made durable together at the start of the next turn, and only then
 * handed on (echoed to the sender, fanned out to everyone): what anyone
 * heard of survives the server being killed at any moment.
 *
 * With a journal (a server's data directory: {@linkcode Journal}), a turn's
 * rows are durable once they are in it (one `write`; with `--durability
 * full`, one `fdatasync`), and SQLite takes the rows of many turns in one
 * transaction: once {@linkcode SqliteLogOptions.flushLines} are pending,
 * {@linkcode SqliteLogOptions.flushMs} after the first of them, before each
 * retention step and at close; then the journal starts again empty. A
 * program reading the database itself sees lines that much later (the
 * `history` tool reads the journal too); a killed server's journal is read
 * back at the next start (`store.ts`). Rows the database refuses (a full
 * disk) stay in the journal and are tried again; while `flushLines` wait,
 * new lines are refused, as when a write fails. Without a journal (a
 * database in memory: tests), each turn's rows are committed at once.
 *
 * `normal` durability: a line kept is in the operating system's hands (it
 * survives the server killed, not a power cut); `full` syncs the journal
 * each turn and each commit. Retention (`retention.ts`) deletes old
 * rows in the background; the log forgets the messages it deleted.
 *
 * Each message's id is stored with it. The ids of recent lines are kept
 * in memory ({@linkcode StoredIds}, loaded at start), so that a line whose
 * id is stored already, before a restart or after its line aged out too,
 * is not stored again (no index on id: it would cost every commit). A
 * rename or a leave of the server is stored with the rooms it reaches
 * ({@linkcode MemberRooms}, kept as lines are numbered).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type { Clock, TimerId } from "../../clock.ts";
import {
  BatchInsert,
  EVENT_COLUMNS,
  recentEvents,
  ROW_VALUES,
  transaction,
} from "./events_table.ts";
import { encodeRecord, type Journal, type JournalValue } from "./journal.ts";
import { lastSeq } from "./retention.ts";
import { logEpoch, roomSeqsOf, sqliteRange } from "./log_range.ts";
import type { RoomSeqs } from "../room/room_seqs.ts";
import {
  type AppendOptions,
  type AppendOutcome,
  type EventEffect,
  type LogRange,
  type RoomEvent,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
  type SinceOptions,
  type UnsentLine,
} from "../room/room_log.ts";
import { RecentEvents } from "../room/recent_events.ts";
import { StoredIds } from "./stored_ids.ts";
import { ServerMetrics } from "../metrics/server_metrics.ts";
import type { SqliteLogOptions } from "./sqlite_log_options.ts";
import { storedEffect, storedLine } from "../room/stored_event.ts";
import { MemberRooms } from "../room/member_rooms.ts";
import { ONE_ROOM } from "../room/room_options.ts";

export type { Durability, SqliteLogOptions } from "./sqlite_log_options.ts";

interface Pending {
  readonly time: number;
  readonly line: RoomLine;
  readonly origin: string;
  readonly id?: string;
  readonly newId?: boolean;
  readonly effect?: EventEffect;
  readonly room?: string;
  readonly target?: string;
}

/**
 * The room log in SQLite. It takes an open database with the schema in
 * place (see `store.ts`) and does not close it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "../../clock.ts";
 * import { SqliteLog } from "./sqlite_log.ts";
 * import { openStore } from "./store.ts";
 *
 * using store = openStore(null);
 * const options = { clock: systemClock, keep: 10 };
 * const log = new SqliteLog(store.db, options);
 * const seen: number[] = [];
 * log.subscribe((event) => seen.push(event.seq));
 * log.append({ type: "MSG", alias: "a", text: "hi" }, "1");
 * assert.deepEqual(seen, []); // not committed yet
 * await log.close(); // commits what is pending
 * assert.deepEqual(seen, [1]);
 * const again = new SqliteLog(store.db, options);
 * assert.deepEqual(again.recent(10)[0]?.line, {
 *   type: "MSG",
 *   alias: "a",
 *   text: "hi",
 * });
 * await again.close();
 * ```
 */
export class SqliteLog implements RoomLog {
  /** Kept in the database: its numbers never start again. */
  readonly epoch: string;
  #db: DatabaseSync;
  #clock: Clock;
  #options: SqliteLogOptions;
  #journal: Journal | null;
  #flushLines: number;
  #metrics: Pick<ServerMetrics, "historyCommit" | "historyFlush">;
  #insert: BatchInsert;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  #recent: RecentEvents;
  /** Ids of the lines stored lately (and of those being committed). */
  #ids: StoredIds;
  /** The last sequence number made durable (or ever used). */
  #seq: number;
  #pending: Pending[] = [];
  /** Rows in the journal, not yet in the database: seven values a row. */
  #unsaved: JournalValue[] = [];
  /** Why the database did not take the rows in the journal, while it does not. */
  #unsavedError: unknown;
  #flushTimer: TimerId | undefined;
  #flushSoon: ReturnType<typeof setImmediate> | undefined;
  /** Resolved once the pending lines have been handed on. */
  #settled: PromiseWithResolvers<void> | undefined;
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  /** Writes are failing (told once, until the database takes lines again). */
  #failing = false;
  /** Each member's rooms as the lines stored so far say. */
  #members: MemberRooms;
  /** Each room's numbers, for catch-ups. */
  #index: RoomSeqs;

  /** Whether writes fail now (a full disk...): until the next one succeeds. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Opens the log in `db`, loading its newest messages into memory. */
  constructor(db: DatabaseSync, options: SqliteLogOptions) {
    this.#db = db;
    this.#clock = options.clock;
    this.#options = options;
    this.#journal = options.journal ?? null;
    this.#flushLines = options.flushLines ?? 256;
    this.#metrics = options.metrics ?? new ServerMetrics();
    db.exec(
      `PRAGMA synchronous = ${
        options.durability === "full" ? "FULL" : "NORMAL"
      }`,
    );
    this.#insert = new BatchInsert(db, EVENT_COLUMNS);
    this.#seq = lastSeq(db);
    this.#index = roomSeqsOf(db, this.#seq);
    this.epoch = logEpoch(db);
    this.#recent = new RecentEvents(options.keep);
    this.#members = new MemberRooms(
      options.defaultRoom ?? ONE_ROOM.defaultRoom,
    );
    for (const event of recentEvents(db, options.keep)) this.#recent.add(event);
    this.#ids = new StoredIds(db, options.ids);
    options.retention?.onForget((seq) => this.#recent.forgetUpTo(seq));
    options.retention?.keepIdsBy((line) => this.#ids.signOfDeleted(line));
    // Retention reads the database: it gets every line first.
    options.retention?.beforeStep(() => this.#flush());
  }

  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#sink = sink;
    this.#failed = failed ?? (() => {});
  }

  append(line: RoomLine, origin: string, options: AppendOptions = {}): void {
    if (this.#closed) return;
    const { id, newId, effect, room, target } = options;
    const time = this.#clock.now();
    this.#pending.push({ time, line, origin, id, newId, effect, room, target });
    this.#scheduled ??= setImmediate(this.#commit);
  }

  settled(): Promise<void> | undefined {
    if (this.#pending.length === 0) return undefined;
    return (this.#settled ??= Promise.withResolvers()).promise;
  }

  recent(limit: number): readonly RoomEvent[] {
    return this.#recent.last(limit);
  }

  since(
    room: string,
    after: number,
    options: SinceOptions,
  ): Promise<LogRange> {
    const unsaved = this.#unsaved;
    const index = this.#index;
    return Promise.try(() =>
      sqliteRange(this.#db, unsaved, index, room, after, options)
    );
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#commit();
      // What the database does not take stays in the journal for the next start.
      this.#flush();
      this.#clock.clearTimeout(this.#flushTimer);
      this.#closed = true;
    }
    return Promise.resolve();
  }

  /**
   * Makes every pending line durable, then hands them on in order. Lines
   * appended while handing on (a slow member dropped, say) wait for the
   * next turn.
   */
  #commit = (): void => {
    clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    if (this.#closed || this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const settled = this.#settled;
    this.#settled = undefined;
    try {
      this.#write(batch);
    } finally {
      settled?.resolve();
    }
    if (this.#unsaved.length >= this.#flushLines * ROW_VALUES) {
      // Once this turn's lines are written out (microtasks), not before.
      this.#flushSoon ??= setImmediate(() => this.#flush());
    } else if (this.#unsaved.length > 0 && this.#flushTimer === undefined) {
      this.#flushTimer = this.#clock.setTimeout(
        () => this.#flush(),
        this.#options.flushMs ?? 200,
      );
    }
  };

  /**
   * Makes a batch durable, then hands it on in order (a line whose id is
   * stored already is reported `duplicate` or `reused` in its place), or
   * reports it lost.
   */
  #write(batch: readonly Pending[]): void {
    let seq = this.#seq;
    /** Lines of this batch whose id is taken (rare: allocated then). */
    let taken: Map<Pending, "duplicate" | "reused"> | undefined;
    let examined = 0;
    /** The values of the batch's rows, seven a row. */
    const rows: JournalValue[] = [];
    const reached = new Map<Pending, readonly string[]>(); // (MemberRooms)
    this.#members.begin(); // undone if the batch is not kept
    try {
      for (const pending of batch) {
        examined++;
        const { time, line, id, effect, room, target } = pending;
        if (id !== undefined) {
          const known = pending.newId
            ? "new"
            : this.#ids.check(id, line, rows, this.#unsaved);
          if (known !== "new") {
            (taken ??= new Map()).set(pending, known);
            continue;
          }
          this.#ids.add(id, time, seq + 1);
        }
        const rooms = this.#members.apply(line, pending.origin, room);
        if (rooms !== undefined) reached.set(pending, rooms);
        const stored = effect && storedEffect(effect);
        const json = storedLine(line, room, rooms, target);
        rows.push(++seq, time, line.type, json, id ?? null);
        rows.push(stored?.kind ?? null, stored?.value ?? null);
      }
      this.#metrics.historyCommit.time(() => this.#keep(rows));
    } catch (error) {
      this.#members.end(true);
      this.#lost(batch.slice(0, examined), batch, taken, error);
      return;
    }
    this.#members.end(false);
    let next = this.#seq;
    this.#seq = seq;
    for (const pending of batch) {
      const known = taken?.get(pending);
      if (known !== undefined) {
        this.#failed([this.#unsent(pending, known)], known, null);
        continue;
      }
      const { time, line, origin, id, effect, room, target } = pending;
      const rooms = reached.get(pending);
      const event: RoomEvent = {
        ...{ seq: ++next, time, line, origin, id, effect },
        ...(room === undefined ? {} : { room }),
        ...(target === undefined ? {} : { target }),
        ...(rooms === undefined ? {} : { rooms }),
      };
      this.#recent.add(event);
      this.#index.add(event);
      this.#sink(event);
    }
  }

  /** A batch not kept: each line `refused` (or `duplicate`/`reused`). */
  #lost(
    examined: readonly Pending[],
    batch: readonly Pending[],
    taken: Map<Pending, "duplicate" | "reused"> | undefined,
    error: unknown,
  ): void {
    if (!this.#failing) this.#options.onError?.("commit", error);
    this.#failing = true;
    const sorted = this.#ids.unstored(examined, batch, taken, this.#unsaved);
    for (const [why, lines] of sorted) {
      this.#failed(lines.map((line) => this.#unsent(line, why)), why, error);
    }
  }

  /**
   * A line not stored, as reported: a `duplicate` with the number and time
   * of the line stored first under its id (its echo's tags).
   */
  #unsent(pending: Pending, why: AppendOutcome): UnsentLine {
    if (why !== "duplicate" || pending.id === undefined) return pending;
    return { ...pending, first: this.#ids.stored(pending.id) };
  }

  /**
   * Makes a batch's rows durable: in the journal (the database takes them
   * later), or committed to the database when there is none. Throws,
   * having kept none of them, if it cannot.
   */
  #keep(rows: JournalValue[]): void {
    const journal = this.#journal;
    if (journal === null) return this.#save(rows);
    const full = this.#unsaved.length >= this.#flushLines * ROW_VALUES;
    if ((full || journal.broken) && !this.#flush()) throw this.#unsavedError;
    if (rows.length === 0) return;
    journal.append(encodeRecord(rows), this.#options.durability === "full");
    this.#unsaved.push(...rows);
  }

  /**
   * Has the database take the rows in the journal, then empties it;
   * false if the database refused them (they stay for the next try).
   */
  #flush(): boolean {
    this.#clock.clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    clearImmediate(this.#flushSoon);
    this.#flushSoon = undefined;
    if (this.#closed || this.#journal === null) return true;
    try {
      if (this.#unsaved.length > 0) {
        this.#metrics.historyFlush.time(() => this.#save(this.#unsaved));
        this.#unsaved = [];
      }
      this.#journal.clear();
    } catch (error) {
      if (!this.#failing) this.#options.onError?.("commit", error);
      this.#failing = true;
      this.#unsavedError = error;
      this.#flushTimer = this.#clock.setTimeout(
        () => this.#flush(),
        this.#options.flushMs ?? 200,
      );
      return false;
    }
    return true;
  }

  /** Commits rows (seven values each) in one transaction, or throws. */
  #save(rows: readonly JournalValue[]): void {
    transaction(this.#db, () => this.#insert.run(rows));
    if (this.#failing) this.#options.onResume?.();
    this.#failing = false;
  }
}
