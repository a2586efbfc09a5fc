/**
 * The durable room log: every room event is a row of the `events` table in
 * the data directory's database, and a line is handed on (echoed to its
 * sender, fanned out to everyone) only once the transaction holding it has
 * committed. Appends made in one event-loop turn are committed together, in
 * one transaction, at the start of the next turn: one commit per turn, not
 * per line, is what makes it nearly as fast as the log in memory.
 *
 * With `synchronous=NORMAL` (the default durability) a committed line is in
 * the write-ahead log in the operating system's hands: it survives the
 * server being killed at any moment, not a power cut or a kernel crash;
 * `full` syncs every commit to the disk. Retention ({@linkcode Retention},
 * started by the server for its data directory, whatever the log) deletes
 * old rows in the background; the log forgets the messages it deleted.
 *
 * Each message's id is stored with it, and with its sign in `line_ids`, a
 * table that retention leaves alone (the newest ids, about
 * {@linkcode DEDUPE_MAX_LINES}, trimmed from the oldest end), written a
 * batch at a time (in the commit that reaches 256 ids, at close and before
 * each retention step): a killed server's last ids are found in their
 * lines. The ids of recent lines are kept in memory ({@linkcode RecentIds},
 * loaded from both at start), so a line whose id is stored already, before
 * a restart or after its line aged out too, is not stored again (no index
 * on id: it would cost every commit).
 *
 * @module
 */

import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type { Clock } from "../../clock.ts";
import { lastSeq, type Retention } from "./retention.ts";
import {
  type AppendOptions,
  type AppendOutcome,
  DEDUPE_MAX_LINES,
  type EventEffect,
  lineSign,
  RecentEvents,
  RecentIds,
  type RecentIdsOptions,
  type RoomEvent,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
} from "../room/room_log.ts";
import {
  storedEffect,
  type StoredRow,
  toRoomEvent,
} from "../room/stored_event.ts";

/** How the log writes: see the module documentation. */
export type Durability = "normal" | "full";

/** Options of {@linkcode SqliteLog}. */
export interface SqliteLogOptions {
  readonly clock: Clock;
  /** Messages and actions kept at hand in memory for history on join. */
  readonly keep: number;
  /** @default {"normal"} */
  readonly durability?: Durability;
  /**
   * The retention running on the database: messages it deletes are no
   * longer kept at hand (none when it has none).
   */
  readonly retention?: Retention;
  /**
   * Told about commits that fail: once per outage (the first failure
   * after a success).
   */
  readonly onError?: (what: string, error: unknown) => void;
  /** Told when a commit succeeds after commits failed. */
  readonly onResume?: () => void;
  /** The window of ids kept (tests). */
  readonly ids?: RecentIdsOptions;
}

interface Pending {
  readonly time: number;
  readonly line: RoomLine;
  readonly origin: string;
  readonly id?: string;
  readonly effect?: EventEffect;
}

/** The columns of `events` that {@linkcode toRoomEvent} reads. */
const STORED_COLUMNS =
  "seq, time, line, id, effect, effect_value AS effectValue";

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
  #db: DatabaseSync;
  #clock: Clock;
  #options: SqliteLogOptions;
  #insert: BatchInsert;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  #recent: RecentEvents;
  /** Ids of the lines stored lately (and of those being committed). */
  #ids: RecentIds;
  #insertIds: BatchInsert;
  #trimIds: StatementSync;
  /**
   * Ids of stored lines not yet in `line_ids` (seq, id, sign, time: four
   * values each): written there in batches, not in every commit.
   */
  #unflushed: SQLInputValue[] = [];
  /** Rows of `line_ids`, and how many it keeps (the newest). */
  #idRows: number;
  #idsKept: number;
  /** The last sequence number committed (or ever used). */
  #seq: number;
  #pending: Pending[] = [];
  /** Resolved once the pending lines have been handed on. */
  #settled: PromiseWithResolvers<void> | undefined;
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  /** Commits are failing (told once, until one succeeds again). */
  #failing = false;

  /** Opens the log in `db`, loading its newest messages into memory. */
  constructor(db: DatabaseSync, options: SqliteLogOptions) {
    this.#db = db;
    this.#clock = options.clock;
    this.#options = options;
    db.exec(
      `PRAGMA synchronous = ${
        options.durability === "full" ? "FULL" : "NORMAL"
      }`,
    );
    this.#insert = new BatchInsert(
      db,
      "events (seq, time, type, line, id, effect, effect_value)",
    );
    this.#seq = lastSeq(db);
    this.#recent = new RecentEvents(options.keep);
    const rows = db.prepare(
      `SELECT ${STORED_COLUMNS} FROM events WHERE type IN ('MSG', 'ME')
       ORDER BY seq DESC LIMIT ?`,
    ).all(options.keep) as unknown as StoredRow[];
    for (const row of rows.reverse()) {
      const event = toRoomEvent(row);
      if (event !== null) this.#recent.add(event);
    }
    this.#ids = new RecentIds(options.ids);
    this.#idsKept = options.ids?.maxLines ?? DEDUPE_MAX_LINES;
    this.#insertIds = new BatchInsert(db, "line_ids (seq, id, sign, time)");
    this.#trimIds = db.prepare(
      `DELETE FROM line_ids WHERE seq IN
         (SELECT seq FROM line_ids ORDER BY seq LIMIT ?)`,
    );
    const ids = db.prepare(
      "SELECT seq, id, sign, time FROM line_ids ORDER BY seq DESC LIMIT ?",
    ).all(this.#idsKept) as {
      seq: number;
      id: string;
      sign: string;
      time: number;
    }[];
    for (const { id, sign, time } of ids.toReversed()) {
      this.#ids.add(id, time, sign);
    }
    // Lines stored after the last batch of ids was (the server was killed):
    // a batch's worth at most, their signs computed again.
    const newer = db.prepare(
      `SELECT seq, time, line, id FROM events WHERE seq > ? AND id NOT NULL
       ORDER BY seq DESC LIMIT ?`,
    ).all(ids[0]?.seq ?? 0, this.#idsKept) as unknown as StoredRow[];
    for (const row of newer.reverse()) {
      const event = toRoomEvent(row);
      if (event?.id === undefined) continue;
      const sign = lineSign(event.line);
      this.#ids.add(event.id, event.time, sign);
      this.#unflushed.push(event.seq, event.id, sign, event.time);
    }
    this.#idRows = (db.prepare("SELECT COUNT(*) AS n FROM line_ids").get() as {
      n: number;
    }).n;
    options.retention?.onForget((seq) => this.#recent.forgetUpTo(seq));
    // Ids outlive their lines (a killed server loses no batch of them).
    options.retention?.beforeStep(() => this.#flushIds());
  }

  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#sink = sink;
    this.#failed = failed ?? (() => {});
  }

  append(line: RoomLine, origin: string, options: AppendOptions = {}): void {
    if (this.#closed) return;
    const { id, effect } = options;
    this.#pending.push({ time: this.#clock.now(), line, origin, id, effect });
    this.#scheduled ??= setImmediate(this.#commit);
  }

  settled(): Promise<void> | undefined {
    if (this.#pending.length === 0) return undefined;
    return (this.#settled ??= Promise.withResolvers()).promise;
  }

  recent(limit: number): readonly RoomEvent[] {
    return this.#recent.last(limit);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#commit();
      this.#flushIds();
      this.#closed = true;
    }
    return Promise.resolve();
  }

  /**
   * Commits every pending line in one transaction, then hands them on in
   * order. Lines appended while handing on (a slow member dropped, say) wait
   * for the next turn.
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
  };

  /**
   * Commits a batch, then hands it on in order (a line whose id is stored
   * already is reported `duplicate` or `reused` in its place), or reports
   * it lost.
   */
  #write(batch: readonly Pending[]): void {
    let seq = this.#seq;
    /** Lines of this batch whose id is taken (rare: allocated then). */
    let taken: Map<Pending, "duplicate" | "reused"> | undefined;
    let examined = 0;
    let idRows = this.#idRows;
    /** The values of the batch's rows, seven a row. */
    const rows: SQLInputValue[] = [];
    /** The batch's ids, four values each (see `#unflushed`). */
    const ids: SQLInputValue[] = [];
    try {
      this.#db.exec("BEGIN");
      for (const pending of batch) {
        examined++;
        const { time, line, id, effect } = pending;
        const sign = id === undefined ? "" : lineSign(line);
        if (id !== undefined) {
          const known = this.#ids.check(id, sign);
          if (known !== "new") {
            (taken ??= new Map()).set(pending, known);
            continue;
          }
          this.#ids.add(id, time, sign);
        }
        const stored = effect && storedEffect(effect);
        rows.push(++seq, time, line.type, JSON.stringify(line), id ?? null);
        rows.push(stored?.kind ?? null, stored?.value ?? null);
        if (id !== undefined) ids.push(seq, id, sign, time);
      }
      this.#insert.run(rows);
      const flush = this.#unflushed.length + ids.length >= ID_BATCH * 4;
      if (flush) idRows = this.#storeIds([...this.#unflushed, ...ids]);
      this.#db.exec("COMMIT");
      this.#idRows = idRows;
      if (flush) this.#unflushed = [];
      else this.#unflushed.push(...ids);
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      if (!this.#failing) this.#options.onError?.("commit", error);
      this.#failing = true;
      // Not stored: their ids may come again.
      for (const pending of batch.slice(0, examined)) {
        if (pending.id !== undefined && !taken?.has(pending)) {
          this.#ids.delete(pending.id);
        }
      }
      // A line whose id was stored before this batch is told so still.
      const outcome = (p: Pending): AppendOutcome => {
        const known = p.id === undefined
          ? "new"
          : this.#ids.check(p.id, lineSign(p.line));
        return known === "new" ? "refused" : known;
      };
      for (const [why, lines] of Map.groupBy(batch, outcome)) {
        this.#failed(lines, why, error);
      }
      return;
    }
    if (this.#failing) this.#options.onResume?.();
    this.#failing = false;
    let next = this.#seq;
    this.#seq = seq;
    for (const pending of batch) {
      const known = taken?.get(pending);
      if (known !== undefined) {
        this.#failed([pending], known, null);
        continue;
      }
      const { time, line, origin, id, effect } = pending;
      const event: RoomEvent = { seq: ++next, time, line, origin, id, effect };
      this.#recent.add(event);
      this.#sink(event);
    }
  }

  /**
   * Writes ids (values as in `#unflushed`) to `line_ids`, inside the
   * caller's transaction, and trims the table a step at a time (a few rows
   * over the window are harmless); returns its rows then.
   */
  #storeIds(ids: readonly SQLInputValue[]): number {
    this.#insertIds.run(ids);
    let rows = this.#idRows + ids.length / 4;
    const step = Math.max(1, Math.floor(this.#idsKept / 100));
    if (rows > this.#idsKept + step) {
      rows -= Number(this.#trimIds.run(rows - this.#idsKept).changes);
    }
    return rows;
  }

  /** Writes the ids not yet in `line_ids` there (at close, before retention). */
  #flushIds(): void {
    if (this.#closed || this.#unflushed.length === 0) return;
    try {
      this.#db.exec("BEGIN");
      const rows = this.#storeIds(this.#unflushed);
      this.#db.exec("COMMIT");
      this.#idRows = rows;
      this.#unflushed = [];
    } catch (error) {
      // Kept for the next try; their lines hold them meanwhile.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      if (!this.#failing) this.#options.onError?.("commit", error);
      this.#failing = true;
    }
  }
}

/**
 * Ids a commit leaves for `line_ids` before it writes them there, in the
 * same transaction: one batch of rows costs less than a row in each commit.
 */
const ID_BATCH = 256;

/** Rows one `INSERT` of {@linkcode BatchInsert} writes at most. */
const ROWS_PER_STATEMENT = 32;

/**
 * Inserts a batch of rows into one table in as few statements as it can
 * (one for up to 32 rows; each statement prepared once, on first use)
 * rather than one a row: a row then costs half as much
 * (`bench/commit_cost.ts`).
 */
class BatchInsert {
  #db: DatabaseSync;
  #into: string;
  #columns: number;
  /** The statement of n rows at n. */
  #statements: StatementSync[] = [];

  /** `into` is the table and its columns: `events (seq, time)`. */
  constructor(db: DatabaseSync, into: string) {
    this.#db = db;
    this.#into = into;
    this.#columns = into.split(",").length;
  }

  /** Inserts the rows whose values `values` holds, row after row. */
  run(values: readonly SQLInputValue[]): void {
    const most = this.#columns * ROWS_PER_STATEMENT;
    if (values.length <= most) return this.#run(values);
    for (let done = 0; done < values.length; done += most) {
      this.#run(values.slice(done, done + most));
    }
  }

  #run(values: readonly SQLInputValue[]): void {
    if (values.length === 0) return;
    const rows = values.length / this.#columns;
    const statement = this.#statements[rows] ??= this.#db.prepare(
      `INSERT INTO ${this.#into} VALUES ${
        Array(rows).fill(`(${Array(this.#columns).fill("?")})`)
      }`,
    );
    statement.run(...values);
  }
}

/** Which stored events {@linkcode eachEvent} reads. */
export interface EventQuery {
  /** Only events after this sequence number. */
  readonly afterSeq?: number;
  /** Only events at or after this time (ms since the epoch). */
  readonly sinceMs?: number;
  /** At most this many, oldest first. */
  readonly limit?: number;
}

/** Iterates over every stored event matching `query`, oldest first. */
export function* eachEvent(
  db: DatabaseSync,
  query: EventQuery,
): Generator<RoomEvent> {
  const statement = db.prepare(
    `SELECT ${STORED_COLUMNS} FROM events WHERE seq > ? AND time >= ?
     ORDER BY seq LIMIT ?`,
  );
  const rows = statement.iterate(
    query.afterSeq ?? 0,
    query.sinceMs ?? 0,
    query.limit ?? -1,
  ) as Iterable<StoredRow>;
  for (const row of rows) {
    const event = toRoomEvent(row);
    if (event !== null) yield event;
  }
}
