/**
 * What the durable room log reads for a catch-up (`SqliteLog.since`): a
 * room's events after a number, from the database and from the rows of
 * the journal the database has not taken yet, the newest first up to a
 * limit; how many of the room's retention deleted after that number
 * (`tombstones_table.ts`), or that it cannot know; and the log's epoch,
 * kept in `settings`. The room's events are counted and found by the
 * log's index of each room's numbers (`room_seqs.ts`, built here at
 * start from the newest `CATCH_UP_SCAN_EVENTS` numbers), and only the
 * rows sent are read: no other room's line is read, so that a catch-up
 * never holds the event loop for long. What lies further back than the
 * index counts as lost.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import {
  CATCH_UP_SCAN_EVENTS,
  type LogRange,
  MOD_FOR_EVERYONE,
  newEpoch,
  NOTHING_LOST,
  type RoomEvent,
  roomsOnly,
  type SinceOptions,
} from "../room/room_log.ts";
import { readNewest, roomKeys, RoomSeqs } from "../room/room_seqs.ts";
import { type StoredRow, toRoomEvent } from "../room/stored_event.ts";
import { ROW_VALUES, STORED_COLUMNS } from "./events_table.ts";
import type { JournalValue } from "./journal.ts";
import { deletedThrough } from "./retention.ts";
import { lostIn } from "./tombstones_table.ts";

/** The `settings` key of the log's epoch. */
const EPOCH_KEY = "history.epoch";

/**
 * The epoch of the log in `db`: made once, at the first start of a server
 * that knows epochs, and kept (its numbering never restarts).
 */
export function logEpoch(db: DatabaseSync): string {
  const row = db.prepare("SELECT value FROM settings WHERE key = ?")
    .get(EPOCH_KEY) as { value: string } | undefined;
  if (row !== undefined) return row.value;
  const epoch = newEpoch();
  db.prepare("INSERT INTO settings (key, value) VALUES (?, ?)")
    .run(EPOCH_KEY, epoch);
  return epoch;
}

/** The event of row `seq` among a journal's unsaved rows, if there. */
function unsavedEvent(
  values: readonly JournalValue[],
  seq: number,
): RoomEvent | null {
  const at = (seq - Number(values[0])) * ROW_VALUES;
  if (values.length === 0 || Number(values[at]) !== seq) return null;
  return toRoomEvent({
    seq,
    time: Number(values[at + 1]),
    line: String(values[at + 3]),
    id: values[at + 4] as string | null,
    effect: values[at + 5] as string | null,
    effectValue: values[at + 6] as string | null,
  });
}

/** What a catch-up of the database reads: the rows of some numbers. */
const BY_SEQ = `SELECT ${STORED_COLUMNS} FROM events
  WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq DESC`;

/**
 * Room `room`'s events after `after` in `db` and in the journal's
 * `unsaved` rows (newer than any in `db`), as `RoomLog.since` says,
 * counted and found by `index` (which files every number the log gave,
 * those retention deleted since too): only the rows read back are parsed.
 */
export function sqliteRange(
  db: DatabaseSync,
  unsaved: readonly JournalValue[],
  index: RoomSeqs,
  room: string,
  after: number,
  options: SinceOptions,
): LogRange {
  const before = options.before ?? Infinity;
  const counted = index.count(
    room,
    after,
    before,
    options.defaultRoom ?? false,
  );
  const lost = after < index.from
    ? null
    : deletedThrough(db) > after
    ? lostIn(db, room, after, options)
    : NOTHING_LOST;
  const firstUnsaved = unsaved.length > 0 ? Number(unsaved[0]) : Infinity;
  let bySeq: StatementSync | undefined; // prepared once a catch-up
  const read = (seqs: readonly number[]) => {
    const newest = seqs.filter((seq) => seq >= firstUnsaved)
      .flatMap((seq) => unsavedEvent(unsaved, seq) ?? []);
    const older = seqs.filter((seq) => seq < firstUnsaved);
    if (older.length === 0) return newest;
    const rows = (bySeq ??= db.prepare(BY_SEQ)).all(JSON.stringify(older));
    const events = (rows as unknown as StoredRow[]).map(toRoomEvent);
    return [...newest, ...events.filter((event) => event !== null)];
  };
  // Deleted rows are asked for in vain: at most as many as retention
  // deleted there (when that is unknown, as many as the limit).
  const misses = lost?.lines ?? options.limit;
  const events = readNewest(counted, read, options, misses);
  const held = counted.count - (lost?.lines ?? 0);
  const heldRoomsOnly = counted.roomsOnly - (lost?.roomsOnly ?? 0);
  const shown = events.filter((event) => roomsOnly(event.line)).length;
  return {
    events,
    over: Math.max(0, held - events.length),
    overRoomsOnly: Math.max(0, heldRoomsOnly - shown),
    gap: lost === null,
    lost: lost ?? NOTHING_LOST,
  };
}

/** A row as {@linkcode roomSeqsOf} reads it. */
interface FiledRow {
  seq: number;
  room: string | null;
  rooms: string | null;
  hidden: number;
}

/**
 * The index of the newest `window` numbers of `db`'s log, at most (built
 * once, at start: from the rows, and from the tombstones of those
 * retention deleted), up to `top`, the last number given. Each line is
 * read (about 0.6 s for 200,000 short ones, 0.4 s for 60,000 of 4 KB).
 */
export function roomSeqsOf(
  db: DatabaseSync,
  top: number,
  window = CATCH_UP_SCAN_EVENTS,
): RoomSeqs {
  const from = Math.max(0, top - window);
  const valid = (path: string, types: string) =>
    `CASE WHEN type IN (${types}) AND json_valid(line)
       THEN json_extract(line, '${path}') END`;
  const hidden = `type = 'MOD' AND IFNULL(${valid("$.action", "'MOD'")}, '')
    NOT IN (${[...MOD_FOR_EVERYONE].map((a) => `'${a}'`).join(", ")})`;
  const statement = db.prepare(
    `SELECT seq, CASE WHEN json_valid(line) THEN line ->> '$.room' END AS room,
       ${valid("$.rooms", "'NICK', 'LEAVE'")} AS rooms, ${hidden} AS hidden
     FROM events WHERE seq > ?
     UNION ALL SELECT seq, room, NULL, rooms_only FROM tombstones WHERE seq > ?
     ORDER BY seq`,
  );
  const rows = statement.iterate(from, from) as unknown as Iterable<FiledRow>;
  const index = new RoomSeqs(from, window);
  let seq = -1;
  let keys: string[] = [];
  let roomsOnly = false;
  for (const row of rows) {
    if (row.seq !== seq) {
      if (keys.length > 0) index.file(seq, keys, roomsOnly);
      keys = [];
      seq = row.seq;
    }
    if (typeof row.room === "string") keys.push(row.room);
    else keys.push(...rowKeys(row.rooms));
    roomsOnly = row.hidden === 1;
  }
  if (keys.length > 0) index.file(seq, keys, roomsOnly);
  return index;
}

/** The rooms a row that names none is filed under ({@linkcode roomKeys}). */
function rowKeys(rooms: string | null): readonly string[] {
  let list: unknown;
  try {
    list = rooms === null ? undefined : JSON.parse(rooms);
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list)) return roomKeys({ seq: 0 });
  return roomKeys({ seq: 0, rooms: list.filter((r) => typeof r === "string") });
}
