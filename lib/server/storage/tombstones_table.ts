/**
 * The table `tombstones`: the number and room of each event retention
 * deleted, the newest `--history-tombstones` rows, written in retention's
 * transaction ({@linkcode TombstonesTable.add}), so that a catch-up says
 * exactly how many of a room's lines are missing ({@linkcode lostIn})
 * while every deletion after its position is remembered, and that it
 * cannot know otherwise. No text: only the number, the room (one row per
 * room a rename or a leave of the server reached) and whether only
 * members with `rooms` saw it. `settings` keeps the newest number deleted
 * but not remembered (trimmed, or deleted before the table existed).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { type Lost, roomsOnly, type SinceOptions } from "../room/room_log.ts";

/** The table (a migration in `store.ts`). */
export const TOMBSTONES_TABLE = `CREATE TABLE IF NOT EXISTS tombstones (
     seq INTEGER NOT NULL,          -- the deleted event's number
     room TEXT,                     -- its room (NULL: it named none)
     rooms_only INTEGER NOT NULL    -- 1: a MOD only rooms clients see
   );
   CREATE INDEX IF NOT EXISTS tombstones_seq ON tombstones (seq);`;

/**
 * The table made again with an `id` in the order rows are written, never
 * reused (a later migration in `store.ts`): the search index's worker
 * records the last it was told of (`index_worker.js`), so that on opening
 * it deletes what retention deleted after that, even unsaid.
 */
export const TOMBSTONES_IN_ORDER = `CREATE TABLE tombstones_in_order (
     id INTEGER PRIMARY KEY AUTOINCREMENT, -- order written (sqlite_sequence)
     seq INTEGER NOT NULL,
     room TEXT,
     rooms_only INTEGER NOT NULL
   );
   INSERT INTO tombstones_in_order (seq, room, rooms_only)
     SELECT seq, room, rooms_only FROM tombstones ORDER BY rowid;
   DROP TABLE tombstones;
   ALTER TABLE tombstones_in_order RENAME TO tombstones;
   CREATE INDEX tombstones_seq ON tombstones (seq);
   CREATE INDEX tombstones_room ON tombstones (room, seq);`;

/**
 * The `id` of the last tombstone written (0: none), whether or not it was
 * trimmed since, inside the caller's transaction.
 */
export function lastTombstone(db: DatabaseSync): number {
  const row = db.prepare(
    "SELECT seq FROM sqlite_sequence WHERE name = 'tombstones'",
  ).get() as { seq: number } | undefined;
  return Number(row?.seq ?? 0);
}

/** The index a room's catch-up reads (a later migration in `store.ts`). */
export const TOMBSTONES_ROOM_INDEX =
  "CREATE INDEX IF NOT EXISTS tombstones_room ON tombstones (room, seq)";

/** The `settings` key of the newest number deleted and not remembered. */
const UNTOLD_KEY = "history.untold_seq";

/** An event retention deletes, as {@linkcode TombstonesTable.add} reads it. */
export interface DeletedEvent {
  readonly seq: number;
  readonly type: string;
  /** The room it names (null: none). */
  readonly room: string | null;
  /** The rooms a rename or a leave of the server reached (JSON), or null. */
  readonly rooms: string | null;
  /** A `MOD` line's action, or null. */
  readonly action: string | null;
}

/**
 * Sets the newest number deleted and not remembered to `seq`: what
 * retention deleted before the table existed (the migration's).
 */
export function untoldThrough(db: DatabaseSync, seq: number): void {
  db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)")
    .run(UNTOLD_KEY, String(seq));
}

function untold(db: DatabaseSync): number {
  const row = db.prepare("SELECT value FROM settings WHERE key = ?")
    .get(UNTOLD_KEY) as { value: string } | undefined;
  return Number(row?.value ?? 0);
}

/** The tombstones retention writes (see the module). */
export class TombstonesTable {
  #db: DatabaseSync;
  #kept: number;

  /** The table in `db`, keeping the newest `kept` rows (0: none). */
  constructor(db: DatabaseSync, kept: number) {
    this.#db = db;
    this.#kept = kept;
  }

  /**
   * Remembers deleted events inside the caller's transaction, then lets
   * the oldest rows over the limit go (their numbers then untold).
   */
  add(events: readonly DeletedEvent[]): void {
    if (events.length === 0) return;
    const db = this.#db;
    const insert = db.prepare(
      "INSERT INTO tombstones (seq, room, rooms_only) VALUES (?, ?, ?)",
    );
    for (const event of events) {
      const hidden = roomsOnly({
          type: event.type,
          action: event.action ?? undefined,
        })
        ? 1
        : 0;
      for (const room of reached(event)) insert.run(event.seq, room, hidden);
    }
    const { n } = db.prepare("SELECT COUNT(*) AS n FROM tombstones")
      .get() as { n: number };
    if (n <= this.#kept) return;
    const trimmed = db.prepare(
      `DELETE FROM tombstones WHERE rowid IN
         (SELECT rowid FROM tombstones ORDER BY seq LIMIT ?) RETURNING seq`,
    ).all(n - this.#kept) as { seq: number }[];
    const newest = trimmed.reduce((max, row) => Math.max(max, row.seq), 0);
    untoldThrough(db, Math.max(untold(db), newest));
  }
}

/** The rooms a deleted event belongs to (null: the default room). */
function reached(event: DeletedEvent): (string | null)[] {
  if (event.room !== null || event.rooms === null) return [event.room];
  try {
    const rooms: unknown = JSON.parse(event.rooms);
    if (Array.isArray(rooms)) return rooms.map(String);
  } catch {
    // Not a list (written by hand): the default room's, as with none.
  }
  return [null];
}

/**
 * The query of {@linkcode lostIn} (parameters: the room, after, before),
 * each part a range of the index on (room, seq), so that a room's count
 * reads none of the other rooms' tombstones; with `defaultRoom` also those
 * of the events that named no room.
 */
export function lostInQuery(defaultRoom: boolean): string {
  const parts = ["room = ?1", ...defaultRoom ? ["room IS NULL"] : []]
    .map((room) =>
      `SELECT rooms_only FROM tombstones
       WHERE ${room} AND seq > ?2 AND seq < ?3`
    );
  return `SELECT COUNT(*) AS n, IFNULL(SUM(rooms_only), 0) AS hidden
    FROM (${parts.join(" UNION ALL ")})`;
}

/**
 * How many of room `room`'s events numbered above `after` (and below
 * `options.before`) retention deleted, or null when some of those may be
 * unremembered.
 */
export function lostIn(
  db: DatabaseSync,
  room: string,
  after: number,
  options: SinceOptions,
): Lost | null {
  if (after < untold(db)) return null;
  const { n, hidden } = db.prepare(lostInQuery(options.defaultRoom ?? false))
    .get(room, after, options.before ?? Number.MAX_SAFE_INTEGER) as {
      n: number;
      hidden: number;
    };
  return { lines: n, roomsOnly: hidden };
}
