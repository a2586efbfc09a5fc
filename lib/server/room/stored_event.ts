/**
 * A room event read back from where it was stored (a row of SQLite's
 * `events` table, an entry of the Redis stream), checked like a line from a
 * client before it reaches anyone: a stored line goes to every joiner.
 * Shared by every durable room log, so that each reads what it stored
 * with the same rules.
 *
 * @module
 */

import { isLineId, SERVER_LINE_FIELDS } from "../../protocol.ts";
import {
  ROOM_LINE_TYPES,
  type RoomEvent,
  type RoomLine,
  type RoomLineType,
} from "./room_log.ts";

/** A stored event as SQLite (or a Redis stream entry) gives it back. */
export interface StoredRow {
  seq: number;
  time: number;
  line: string;
  /** The line's id, if it has one. */
  id?: string | null;
}

/**
 * A stored row as an event, or null when it does not hold a room line of
 * single-line fields (the database is ours, but a line from it goes to
 * every joiner: it is checked like one that came from a client).
 */
export function toRoomEvent(row: StoredRow): RoomEvent | null {
  let line: unknown;
  try {
    line = JSON.parse(row.line);
  } catch {
    return null;
  }
  // A time a Date can hold (history lines print it).
  if (!isRoomLine(line) || !(Math.abs(row.time) <= 8.64e15)) return null;
  const id = typeof row.id === "string" && isLineId(row.id)
    ? row.id
    : undefined;
  return { seq: row.seq, time: row.time, line, origin: "", id };
}

const ROOM_TYPES: ReadonlySet<string> = new Set(ROOM_LINE_TYPES);

function isRoomLine(value: unknown): value is RoomLine {
  if (typeof value !== "object" || value === null) return false;
  const fields = value as Record<string, unknown>;
  const type = fields.type;
  if (typeof type !== "string" || !ROOM_TYPES.has(type)) return false;
  return SERVER_LINE_FIELDS[type as RoomLineType].every((field) => {
    const text = fields[field];
    return typeof text === "string" && !/[\r\n]/.test(text);
  });
}
