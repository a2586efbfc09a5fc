/**
 * The stream entries of a cluster's room log, read: an `XREAD` reply's
 * entries, the number in an entry's id, and the event an entry holds
 * (this release's fields, and the previous format's note).
 *
 * @module
 */

import type { EventEffect, RoomEvent, RoomLineType } from "../room/room_log.ts";
import { readEffect, topicDated, toRoomEvent } from "../room/stored_event.ts";
import { isRoomName } from "../../protocol.ts";

/** An entry as `XREAD`/`XRANGE` return it: id, then field, value, ... */
export type StreamEntry = [string, string[]];

/**
 * The entries of an `XREAD` reply: null (nothing new), pairs of stream and
 * entries, or (node-redis) an object by stream name.
 */
export function streamEntries(reply: unknown): StreamEntry[] {
  if (reply === null || reply === undefined) return [];
  const streams = Array.isArray(reply)
    ? reply as [string, StreamEntry[]][]
    : Object.entries(reply as Record<string, StreamEntry[]>);
  return streams.flatMap(([, entries]) => entries);
}

/** The number of a stream entry (its id's first part). */
export function seqOf(id: string): number {
  return Number(id.split("-")[0]);
}

/**
 * The event in a stream entry (null when it holds none this server reads,
 * like {@linkcode toRoomEvent}): fields `t` time, `o` origin member id, `l`
 * line JSON, `i` line id, `r` its room (none: the default room), `rs` the
 * rooms a rename or a leave of the server reached (a JSON list), and for
 * an effect `e` its kind and `v` its value (JSON). The previous release (stream format 1) wrote a note `n` instead,
 * whose meaning depended on the line: it is read as the effect it was.
 */
export function streamEvent(
  [entryId, fields]: StreamEntry,
): RoomEvent | null {
  const values: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    values[fields[i]!] = fields[i + 1]!;
  }
  const event = toRoomEvent({
    seq: seqOf(entryId),
    time: Number(values.t),
    line: values.l ?? "",
    effect: values.e,
    effectValue: values.v,
  });
  if (event === null) return null;
  let { effect } = event;
  if (values.e === undefined && values.n) {
    const kind = NOTE_EFFECTS[event.line.type];
    const value = kind === "bye" ? JSON.stringify(values.n) : values.n;
    const read = readEffect(kind, value, event.line.type);
    if (read === null) return null;
    effect = event.line.type === "TOPIC" ? topicDated(read, event.time) : read;
  }
  const id = /^[\w-]{1,64}$/.test(values.i ?? "") ? values.i : undefined;
  const read = { ...event, origin: values.o ?? "", id, effect };
  if (values.r === undefined) {
    // Rooms that are not a list of rooms only route a catch-up: ignored.
    const rooms = roomList(values.rs);
    return rooms === null ? read : { ...read, rooms };
  }
  return isRoomName(values.r) ? { ...read, room: values.r } : null;
}

/** A JSON list of room names, or null. */
function roomList(json: string | undefined): string[] | null {
  if (json === undefined) return null;
  try {
    const rooms: unknown = JSON.parse(json);
    if (
      Array.isArray(rooms) &&
      rooms.every((room) => typeof room === "string" && isRoomName(room))
    ) return rooms;
  } catch {
    // Not JSON: null below.
  }
  return null;
}

/** What the note of a format 1 entry was, by its line's type. */
const NOTE_EFFECTS: Partial<Record<RoomLineType, EventEffect["kind"]>> = {
  MOD: "sanctions",
  TOPIC: "topic",
  LEAVE: "bye",
};
