/**
 * What `RoomLog.since` reads and returns: a room's events after a number
 * (a resuming member's catch-up, `catch_up.ts`), the newest up to a
 * limit, with how many more there were and how many of the room's the
 * log lost (when it can know); which events are a room's (a rename or a
 * leave of the server: those of the rooms its member was in); and new
 * epochs.
 *
 * @module
 */

import type { RoomEvent } from "./room_log.ts";

/**
 * The newest entries (an event's number under one of its rooms) a log
 * keeps of each room's numbers for catch-ups (`room_seqs.ts`): what lies
 * further back counts as lost (a gap).
 */
export const CATCH_UP_SCAN_EVENTS = 200_000;

/** Options of {@linkcode RoomLog.since}. */
export interface SinceOptions {
  /** Only events numbered below this one. @default {no bound} */
  readonly before?: number;
  /** At most this many events: the newest of the range. */
  readonly limit: number;
  /**
   * The room is the server's default room: its events may also name no
   * room (and the renames and leaves of the server, which name none, are
   * its too). @default {false}
   */
  readonly defaultRoom?: boolean;
  /**
   * Enough is read once the events read, newest first, take more than
   * `bytes` as `size` counts them (what a catch-up's budget can hold). A
   * log may read more; what it leaves out counts in `over`, as past
   * `limit`. @default {no bound}
   */
  readonly fits?: {
    readonly bytes: number;
    size(event: RoomEvent): number;
  };
}

/** What {@linkcode RoomLog.since} read: a room's events after a number. */
export interface LogRange {
  /** The room's events in the range the log holds, oldest first. */
  readonly events: readonly RoomEvent[];
  /** How many more of the room's events it holds there (over `limit`). */
  readonly over: number;
  /**
   * Of those, the ones only members with `rooms` see ({@linkcode roomsOnly}),
   * so that MISSING counts what a member without them would have seen.
   */
  readonly overRoomsOnly: number;
  /**
   * The log no longer holds every event after the number asked for
   * (retention deleted, or a stream trimmed, some of them) and cannot
   * tell how many of those were the room's.
   */
  readonly gap: boolean;
  /**
   * How many of the room's events in the range the log no longer holds
   * (exact; 0 when `gap`, which says it cannot know).
   */
  readonly lost: Lost;
}

/** How many of a room's events a log no longer holds, as it knows. */
export interface Lost {
  /** Every kind. */
  readonly lines: number;
  /** Of those, the ones only members with `rooms` see ({@linkcode roomsOnly}). */
  readonly roomsOnly: number;
}

/** Nothing lost. */
export const NOTHING_LOST: Lost = { lines: 0, roomsOnly: 0 };

/**
 * The `MOD` actions a member without `rooms` sees too, those from before
 * rooms (the rooms' own, `op`, `deop`..., mean nothing without them).
 */
export const MOD_FOR_EVERYONE: ReadonlySet<string> = new Set([
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
]);

/** Whether only members with `rooms` see `line` (a room operator's `MOD`). */
export function roomsOnly(line: { type: string; action?: string }): boolean {
  return line.type === "MOD" && !MOD_FOR_EVERYONE.has(line.action ?? "");
}

/**
 * Whether `event` belongs to room `room` for a catch-up: it names the
 * room; or it names none and is a rename or a leave of the server whose
 * member was in the room (`RoomEvent.rooms`); or it names none and says
 * no rooms, and `room` is the default one (`defaultRoom`).
 */
export function inRoom(
  event: RoomEvent,
  room: string,
  defaultRoom = false,
): boolean {
  if (event.room !== undefined) return event.room === room;
  return event.rooms === undefined ? defaultRoom : event.rooms.includes(room);
}

/**
 * A new random epoch: 22 base64url characters (128 bits), for a log
 * whose numbering starts (again) from 1.
 */
export function newEpoch(): string {
  const bits = crypto.getRandomValues(new Uint8Array(16));
  return bits.toBase64({ alphabet: "base64url", omitPadding: true });
}
