/**
 * Retention of the stored room events: the newest `keepRows` messages and
 * actions, the newest `keepRows` other events (joins, leaves, renames, the
 * topic, moderation: counted apart, so that comings and goings can never
 * push what was said out), nothing older than `keepDays`. It deletes the
 * oldest rows a bounded step at a time, with a turn of the room in between,
 * once at start and then every minute, and records the last number given
 * so that numbers are never reused even when every row went. The server
 * runs it on its data directory whatever its log (`chat_server.ts`: rows
 * stored before still age out when history is no longer stored there); a
 * log that keeps stored messages at hand follows it ({@linkcode
 * Retention.onForget}). The ids of the lines it deletes go to `line_ids`
 * with their signs, in the same transaction, so that no id is stored twice
 * after its line aged out: those the log still remembers
 * ({@linkcode Retention.keepIdsBy}), or all of them when no log says; so
 * do the numbers and rooms of every row it deletes, to `tombstones`
 * (`tombstones_table.ts`: how many lines of a room a resume missed).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type { Clock } from "../../clock.ts";
import { DEDUPE_MAX_LINES } from "../room/recent_ids.ts";
import { LineIdsTable, storedLineSign } from "./events_table.ts";
import {
  type DeletedEvent,
  lastTombstone,
  TombstonesTable,
} from "./tombstones_table.ts";
import { DEFAULT_TOMBSTONES } from "../room/tombstones.ts";

/** Options of {@linkcode Retention}. */
export interface RetentionOptions {
  readonly clock: Clock;
  /** Events older than this are deleted; 0 keeps them whatever their age. */
  readonly keepDays: number;
  /** Newest messages (and, apart, other events) kept; 0 keeps them all. */
  readonly keepRows: number;
  /**
   * The newest this many messages of the default room and of each
   * registered room are never deleted (`--history` with rooms on), so a
   * busy room cannot evict a quiet room's history.
   * @default {0}
   */
  readonly spare?: number;
  /** How often a round runs. @default {60_000} */
  readonly everyMs?: number;
  /** Told when a step failed (it is tried again at the next round). */
  readonly onError?: (error: unknown) => void;
  /** Ids kept in `line_ids` at most. @default {DEDUPE_MAX_LINES} */
  readonly keptIds?: number;
  /**
   * Rows kept in `tombstones` at most (`--history-tombstones`).
   * @default {DEFAULT_TOMBSTONES}
   */
  readonly tombstones?: number;
}

/** A message or action with an id, as a step deletes it. */
export interface DeletedLine {
  readonly seq: number;
  readonly time: number;
  readonly id: string;
  /** The line as stored (JSON). */
  readonly line: string;
}

/**
 * The sign to keep with the id of a line being deleted, or null when its
 * id need not outlive it.
 */
export type SignOfDeleted = (line: DeletedLine) => string | null;

/** Every id kept, with the sign of its line (when it is one). */
const signOfAny: SignOfDeleted = (deleted) => storedLineSign(deleted.line);

/** Rows one step deletes at most (of each kind). */
export const RETENTION_STEP_ROWS = 2_000;

/** The `settings` key that keeps the last number given. */
const LAST_SEQ_KEY = "history.last_seq";
/** The `settings` key that keeps the newest number retention deleted. */
const DELETED_SEQ_KEY = "history.deleted_seq";

const DAY_MS = 86_400_000;

const SAID = "type IN ('MSG', 'ME')";
/** What a step reads back of the rows it deletes. */
const DELETED = `seq, time, id, line, type,
  json_extract(line, '$.room') AS room, json_extract(line, '$.rooms') AS rooms,
  json_extract(line, '$.action') AS action`;

/** A row a step deleted. */
interface Deleted extends DeletedEvent {
  readonly time: number;
  readonly id: string | null;
  readonly line: string;
}

/**
 * The condition on rows that are not among the newest `spare` messages of
 * a room that keeps its history across restarts: the default room (none
 * in the stored line) and the registered rooms (table `rooms`). A
 * temporary room's lines are read by nobody once it has vanished (made
 * again, it is a new room): sparing them too kept the newest of every
 * room name ever used, whatever their age, and enough names pushed every
 * other room's history out under `keepRows`.
 */
function notSpared(spare: number): string {
  if (!Number.isInteger(spare) || spare <= 0) return "1";
  return `seq NOT IN (SELECT seq FROM (SELECT seq, ROW_NUMBER()
    OVER (PARTITION BY json_extract(line, '$.room') ORDER BY seq DESC) AS n
    FROM events WHERE ${SAID} AND (json_extract(line, '$.room') IS NULL
      OR json_extract(line, '$.room') IN (SELECT name FROM rooms)))
    WHERE n <= ${spare})`;
}
const OTHER = "type NOT IN ('MSG', 'ME')";

/**
 * The last event number ever given in `db`: the newest row's, or the one
 * retention recorded when it deleted it.
 */
export function lastSeq(db: DatabaseSync): number {
  const { seq } = db.prepare(
    `SELECT MAX(IFNULL((SELECT MAX(seq) FROM events), 0),
       IFNULL((SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?), 0))
       AS seq`,
  ).get(LAST_SEQ_KEY) as { seq: number };
  return Number(seq);
}

/**
 * The newest event number retention deleted in `db` (0: none): events
 * after it are all still there. A data directory from before this was
 * kept answers with the last number given when retention last deleted
 * (no lower than what it deleted).
 */
export function deletedThrough(db: DatabaseSync): number {
  const { seq } = db.prepare(
    `SELECT IFNULL((SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?),
       IFNULL((SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?), 0))
       AS seq`,
  ).get(DELETED_SEQ_KEY, LAST_SEQ_KEY) as { seq: number };
  return Number(seq);
}

/** Runs retention on `db` until stopped. */
export class Retention {
  #db: DatabaseSync;
  #options: RetentionOptions;
  #timer: number | undefined;
  #step: ReturnType<typeof setImmediate> | undefined;
  #stopped = false;
  #forget: ((seq: number) => void)[] = [];
  #before: (() => void)[] = [];
  #deleted: ((seqs: readonly number[], through: number) => void)[] = [];
  #trims: (() => number)[] = [];
  #signOf: SignOfDeleted = signOfAny;
  #ids: LineIdsTable;
  #tombstones: TombstonesTable;

  /** Ready to {@linkcode start}, once its listeners are in place. */
  constructor(db: DatabaseSync, options: RetentionOptions) {
    this.#db = db;
    this.#options = options;
    this.#ids = new LineIdsTable(db, options.keptIds ?? DEDUPE_MAX_LINES);
    this.#tombstones = new TombstonesTable(
      db,
      options.tombstones ?? DEFAULT_TOMBSTONES,
    );
  }

  /** Runs a first round now, then one every `everyMs`. */
  start(): void {
    const { keepDays, keepRows } = this.#options;
    if (keepDays > 0 || keepRows > 0) this.#round();
  }

  /** Tells `listener` the highest message number each step deleted. */
  onForget(listener: (seq: number) => void): void {
    this.#forget.push(listener);
  }

  /**
   * Tells `listener` the numbers of the messages and actions each step that
   * deleted rows deleted (maybe none), once committed (the search index
   * deletes them too), and the id of the step's last tombstone (see
   * `lastTombstone`).
   */
  onDelete(
    listener: (seqs: readonly number[], through: number) => void,
  ): void {
    this.#deleted.push(listener);
  }

  /**
   * Runs `step` with each step (what keeps itself to retention's bounds
   * apart from the log: a cluster's search index); it returns how many rows
   * it deleted, and a full step's worth brings the next step at once.
   */
  alsoTrim(step: () => number): void {
    this.#trims.push(step);
  }

  /**
   * Has `signOf` say which ids of the lines a step deletes are kept, and
   * with what sign (by default: all, each with its line's sign).
   */
  keepIdsBy(signOf: SignOfDeleted): void {
    this.#signOf = signOf;
  }

  /**
   * Calls `listener` before each step (the log writes what must outlive
   * the rows the step may delete).
   */
  beforeStep(listener: () => void): void {
    this.#before.push(listener);
  }

  /** Stops (a step never runs after this). */
  stop(): void {
    this.#stopped = true;
    this.#options.clock.clearTimeout(this.#timer);
    clearImmediate(this.#step);
  }

  #round = (): void => {
    if (this.#stopped) return;
    let deleted = 0;
    try {
      for (const before of this.#before) before();
      deleted = this.#deleteStep();
      for (const trim of this.#trims) deleted = Math.max(deleted, trim());
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#options.onError?.(error);
    }
    if (deleted >= RETENTION_STEP_ROWS) {
      this.#step = setImmediate(this.#round);
      return;
    }
    this.#timer = this.#options.clock.setTimeout(
      this.#round,
      this.#options.everyMs ?? 60_000,
    );
  };

  /** One step, in one transaction; returns the most rows one part deleted. */
  #deleteStep(): number {
    const db = this.#db;
    const { keepDays, keepRows, clock } = this.#options;
    const last = lastSeq(db);
    db.exec("BEGIN");
    const spare = this.#options.spare ?? 0;
    const said = keepRows > 0 ? this.#overCount(SAID, keepRows, spare) : [];
    const other = keepRows > 0 ? this.#overCount(OTHER, keepRows) : [];
    const old = keepDays > 0
      ? db.prepare(
        `DELETE FROM events WHERE seq IN
           (SELECT seq FROM events ORDER BY seq LIMIT ?) AND time < ?
           AND (${OTHER} OR ${notSpared(spare)})
         RETURNING ${DELETED}`,
      ).all(
        RETENTION_STEP_ROWS,
        clock.now() - keepDays * DAY_MS,
      ) as unknown as Deleted[]
      : [];
    const gone = said.length + other.length + old.length;
    if (gone > 0) {
      const newest = [...said, ...other, ...old]
        .reduce((max, row) => Math.max(max, row.seq), deletedThrough(db));
      const set = db.prepare(
        "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
      );
      set.run(LAST_SEQ_KEY, String(last));
      set.run(DELETED_SEQ_KEY, String(newest));
      this.#tombstones.add([...said, ...other, ...old]);
    }
    const through = lastTombstone(db);
    const lines = [
      ...said,
      ...old.filter((row) => row.type === "MSG" || row.type === "ME"),
    ];
    const kept = this.#keepIds(lines);
    db.exec("COMMIT");
    kept();
    if (gone > 0) {
      const seqs = lines.map((row) => row.seq);
      for (const listener of this.#deleted) listener(seqs, through);
    }
    const forgotten = lines.reduce((max, row) => Math.max(max, row.seq), 0);
    if (forgotten > 0) { for (const forget of this.#forget) forget(forgotten); }
    return Math.max(said.length, other.length, old.length);
  }

  /**
   * Writes the ids of deleted lines that must outlive them, inside the
   * step's transaction; returns what to call once it has committed.
   */
  #keepIds(lines: readonly Deleted[]): () => void {
    const values: (string | number)[] = [];
    for (const line of lines) {
      if (line.id === null) continue;
      const sign = this.#signOf(line as DeletedLine);
      if (sign !== null) values.push(line.seq, line.id, sign, line.time);
    }
    return this.#ids.add(values);
  }

  /** Deletes the oldest rows of a kind over `keep`, a step's worth. */
  #overCount(kind: string, keep: number, spare = 0): Deleted[] {
    const { n } = this.#db.prepare(
      `SELECT COUNT(*) AS n FROM events WHERE ${kind}`,
    ).get() as { n: number };
    const over = Math.min(n - keep, RETENTION_STEP_ROWS);
    if (over <= 0) return [];
    return this.#db.prepare(
      `DELETE FROM events WHERE seq IN
         (SELECT seq FROM events WHERE ${kind} AND ${notSpared(spare)}
          ORDER BY seq LIMIT ?)
       RETURNING ${DELETED}`,
    ).all(over) as unknown as Deleted[];
  }
}
