/**
 * The `events` table and its ids' table `line_ids`, as the room logs of a
 * data directory use them: rows inserted many to a statement
 * ({@linkcode BatchInsert}), the window of ids kept in `line_ids`
 * ({@linkcode LineIdsTable}), and stored events read back
 * ({@linkcode recentEvents}, {@linkcode eachEvent}: what the `history`
 * tool exports), and {@linkcode transaction}, which every writer of the
 * data directory's database uses.
 *
 * @module
 */

import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { lineSign, type RoomEvent } from "../room/room_log.ts";
import type { RecentIds } from "../room/recent_ids.ts";
import { type StoredRow, toRoomEvent } from "../room/stored_event.ts";

/**
 * Runs `work` in one transaction: committed, or rolled back and its error
 * thrown. SQLite rolls back by itself on some errors (a full disk), so the
 * rollback is only asked for while a transaction is open: otherwise its
 * own error would hide the one that matters.
 */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** The table and columns of a stored event's values, in order. */
export const EVENT_COLUMNS =
  "events (seq, time, type, line, id, effect, effect_value)";

/** Values a stored event has: one per column of {@linkcode EVENT_COLUMNS}. */
export const ROW_VALUES = 7;

/**
 * The stored line (JSON) of row `seq` among `values` (rows of
 * {@linkcode ROW_VALUES} values, numbered one after the other), if there.
 */
export function rowLine(
  values: readonly (SQLInputValue | null)[],
  seq: number,
): string | undefined {
  if (values.length === 0) return undefined;
  const at = (seq - Number(values[0])) * ROW_VALUES;
  return values[at] === seq ? values[at + 3] as string : undefined;
}

/** The sign ({@linkcode lineSign}) of a stored line, or null if it is none. */
export function storedLineSign(line: string): string | null {
  try {
    return lineSign(JSON.parse(line));
  } catch {
    return null; // not a line (written by hand): nothing to tell it by
  }
}

/** The columns of `events` that {@linkcode toRoomEvent} reads. */
export const STORED_COLUMNS =
  "seq, time, line, id, effect, effect_value AS effectValue";

/** The last `limit` stored messages and actions, oldest first. */
export function recentEvents(db: DatabaseSync, limit: number): RoomEvent[] {
  const rows = db.prepare(
    `SELECT ${STORED_COLUMNS} FROM events WHERE type IN ('MSG', 'ME')
     ORDER BY seq DESC LIMIT ?`,
  ).all(limit) as unknown as StoredRow[];
  return rows.reverse().map(toRoomEvent).filter((e) => e !== null);
}

/** An id as {@linkcode LineIdsTable.load} reads it. */
interface HeldId {
  seq: number;
  id: string;
  time: number;
  sign: string | null;
}

/**
 * The last `limit` stored messages and actions of each room (the room is
 * in the stored line; none: the default room), oldest first: what the
 * rooms replay after a restart, read once at start.
 */
export function recentEventsByRoom(
  db: DatabaseSync,
  limit: number,
): RoomEvent[] {
  const rows = db.prepare(
    `SELECT ${STORED_COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER
       (PARTITION BY json_extract(line, '$.room') ORDER BY seq DESC) AS n
       FROM events WHERE type IN ('MSG', 'ME'))
     WHERE n <= ? ORDER BY seq`,
  ).all(limit) as unknown as StoredRow[];
  return rows.map(toRoomEvent).filter((e) => e !== null);
}

/**
 * The number of the last `MOD expire` each room has stored (the room, then
 * temporary, vanished there): a room made again after it, and registered
 * since, begins after it (`RoomState.since`). Read once at start.
 */
export function lastExpiries(db: DatabaseSync): Map<string, number> {
  const rows = db.prepare(
    `SELECT json_extract(line, '$.room') AS room, MAX(seq) AS seq FROM events
     WHERE effect = 'expire' AND type = 'MOD' GROUP BY 1`,
  ).all() as { room: unknown; seq: number }[];
  return new Map(
    rows.flatMap(({ room, seq }) =>
      typeof room === "string" ? [[room, Number(seq)] as const] : []
    ),
  );
}

/**
 * The table `line_ids`: the ids, with their signs, of lines that retention
 * deleted while their ids were still to be remembered (at most `kept`, a
 * few over between trims). The ids of the lines still in `events` are read
 * from there.
 */
export class LineIdsTable {
  #db: DatabaseSync;
  #kept: number;
  #insert: BatchInsert;
  #trim: StatementSync;
  #rows: number;

  /** The table in `db`, keeping the newest `kept` ids. */
  constructor(db: DatabaseSync, kept: number) {
    this.#db = db;
    this.#kept = kept;
    this.#insert = new BatchInsert(db, "line_ids (seq, id, sign, time)");
    this.#trim = db.prepare(
      `DELETE FROM line_ids WHERE seq IN
         (SELECT seq FROM line_ids ORDER BY seq LIMIT ?)`,
    );
    this.#rows = (db.prepare("SELECT COUNT(*) AS n FROM line_ids").get() as {
      n: number;
    }).n;
  }

  /**
   * Puts the newest stored ids into `window`, oldest first: those of
   * `line_ids` with their signs, those of the lines in `events` with their
   * lines' numbers (the sign is computed only if the id comes again).
   */
  load(window: RecentIds): void {
    const newest = (sql: string) =>
      this.#db.prepare(`${sql} ORDER BY seq DESC LIMIT ?`).all(
        this.#kept,
      ) as unknown as HeldId[];
    const kept = newest("SELECT seq, id, time, sign FROM line_ids");
    const stored = newest(
      "SELECT seq, id, time, NULL AS sign FROM events WHERE id NOT NULL",
    );
    // Both newest first; a line in both (written by a previous release)
    // is taken with its sign.
    const ids: HeldId[] = [];
    let k = 0;
    let s = 0;
    while (ids.length < this.#kept && (k < kept.length || s < stored.length)) {
      const a = kept[k];
      const b = stored[s];
      if (b === undefined || a !== undefined && a.seq >= b.seq) {
        ids.push(a!);
        k++;
        if (a!.seq === b?.seq) s++;
      } else {
        ids.push(b);
        s++;
      }
    }
    for (const { seq, id, time, sign } of ids.toReversed()) {
      window.add(id, time, sign ?? seq, seq);
    }
  }

  /**
   * Writes ids (seq, id, sign, time each) inside the caller's
   * transaction, trimming the oldest a step at a time; returns what to
   * call once the transaction has committed.
   */
  add(values: readonly SQLInputValue[]): () => void {
    if (values.length === 0) return () => {};
    this.#insert.run(values);
    let rows = this.#rows + values.length / 4;
    const step = Math.max(1, Math.floor(this.#kept / 100));
    if (rows > this.#kept + step) {
      rows -= Number(this.#trim.run(rows - this.#kept).changes);
    }
    return () => this.#rows = rows;
  }
}

/** Rows one `INSERT` of {@linkcode BatchInsert} writes at most. */
const ROWS_PER_STATEMENT = 32;

/**
 * Inserts a batch of rows into one table in as few statements as it can
 * (one for up to 32 rows; each statement prepared once, on first use)
 * rather than one a row: a row then costs half as much
 * (`bench/commit_cost.ts`).
 */
export class BatchInsert {
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
