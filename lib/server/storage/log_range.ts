/**
 * What the durable room log reads for a catch-up (`SqliteLog.since`): a
 * room's events after a number, from the database and from the rows of
 * the journal the database has not taken yet, the newest first up to a
 * limit; how many of the room's retention deleted after that number
 * (`tombstones_table.ts`), or that it cannot know; and the log's epoch,
 * kept in `settings`. One read scans at most
 * `CATCH_UP_SCAN_EVENTS` of the log's events (every room's),
 * so that a catch-up never holds the event loop for long: what lies
 * further back counts as lost.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import {
  CATCH_UP_SCAN_EVENTS,
  type LogRange,
  newEpoch,
  NOTHING_LOST,
  rangeOf,
  type RoomEvent,
  roomsOnly,
  type SinceOptions,
} from "../room/room_log.ts";
import { type StoredRow, toRoomEvent } from "../room/stored_event.ts";
import { roomEvents, ROW_VALUES } from "./events_table.ts";
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

/** The events among a journal's unsaved rows (seven values a row). */
function unsavedEvents(values: readonly JournalValue[]): RoomEvent[] {
  const events: RoomEvent[] = [];
  for (let at = 0; at < values.length; at += ROW_VALUES) {
    const row: StoredRow = {
      seq: Number(values[at]),
      time: Number(values[at + 1]),
      line: String(values[at + 3]),
      id: values[at + 4] as string | null,
      effect: values[at + 5] as string | null,
      effectValue: values[at + 6] as string | null,
    };
    const event = toRoomEvent(row);
    if (event !== null) events.push(event);
  }
  return events;
}

/**
 * Room `room`'s events after `after` in `db` and in the journal's
 * `unsaved` rows (newer than any in `db`), as `RoomLog.since` says; `top`
 * is the last number the log gave.
 */
export function sqliteRange(
  db: DatabaseSync,
  unsaved: readonly JournalValue[],
  top: number,
  room: string,
  after: number,
  options: SinceOptions,
): LogRange {
  const newest = rangeOf(unsavedEvents(unsaved), room, after, options);
  const firstUnsaved = unsaved.length > 0 ? Number(unsaved[0]) : top + 1;
  const before = Math.min(options.before ?? Infinity, firstUnsaved);
  const from = Math.max(after, before - 1 - CATCH_UP_SCAN_EVENTS);
  // What the journal's rows took of `fits` is not read from the database.
  const { fits } = options;
  const spent = newest.events.reduce((n, e) => n + (fits?.size(e) ?? 0), 0);
  const older = roomEvents(db, {
    room,
    defaultRoom: options.defaultRoom ?? false,
    after: from,
    before,
    limit: fits && spent > fits.bytes
      ? 0
      : options.limit - newest.events.length,
    fits: fits && { bytes: fits.bytes - spent, size: fits.size },
  });
  const events = [...older.events, ...newest.events];
  const held = older.count + newest.events.length + newest.over;
  const lost = from > after
    ? null
    : deletedThrough(db) > after
    ? lostIn(db, room, after, options)
    : NOTHING_LOST;
  const over = held - events.length;
  const overRoomsOnly = older.roomsOnly + newest.overRoomsOnly -
    older.events.filter((event) => roomsOnly(event.line)).length;
  return {
    events,
    over,
    overRoomsOnly,
    gap: lost === null,
    lost: lost ?? NOTHING_LOST,
  };
}
