/**
 * A room event read back from where it was stored (a row of SQLite's
 * `events` table, an entry of the Redis stream), checked like a line from a
 * client before it reaches anyone: a stored line goes to every joiner.
 * Shared by every durable room log, so that each stores an event's
 * {@linkcode EventEffect} the same way (its kind, and its value as JSON)
 * and reads what it stored with the same rules. Text leaves storage as
 * `storedText` (`text.ts`) makes it: what an older release stored (before
 * combining marks were capped) is sent as a client's line is today, while
 * the stored text stays as it was.
 *
 * @module
 */

import { isLineId, isRoomName } from "../../protocol.ts";
import { isNotice, SERVER_LINE_FIELDS } from "../../server_lines.ts";
import { storedText } from "../../text.ts";
import {
  isTime,
  readSharedSanctions,
  readTopic,
} from "../access/moderation.ts";
import { readRoomRecord } from "./room_record.ts";
import {
  EFFECT_LINE_TYPES,
  type EventEffect,
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
  /** The kind of its effect, if it has one ({@linkcode storedEffect}). */
  effect?: string | null;
  /** The effect's value, as JSON. */
  effectValue?: string | null;
}

/** An effect as it is stored: its kind, and its value as JSON. */
export interface StoredEffect {
  readonly kind: EventEffect["kind"];
  readonly value: string;
}

/** How `effect` is stored (every log stores it so). */
export function storedEffect(effect: EventEffect): StoredEffect {
  const value = effect.kind === "sanctions"
    ? effect.sanctions
    : effect.kind === "topic"
    ? effect.topic
    : effect.kind === "room"
    ? effect.record
    : effect.kind === "expire"
    ? null
    : effect.text;
  return { kind: effect.kind, value: JSON.stringify(value) };
}

/**
 * The effect stored as `kind` and `value` with a line of type `lineType`:
 * undefined when there is none, null when it is not one this server knows
 * (another kind, one that does not go with the line, a value that is not
 * of its kind): the event is then not handed on at all, so that nobody
 * sees a "muted" that was not carried out.
 */
export function readEffect(
  kind: string | null | undefined,
  value: string | null | undefined,
  lineType: RoomLineType,
): EventEffect | undefined | null {
  if (kind === null || kind === undefined || kind === "") return undefined;
  if (
    !Object.hasOwn(EFFECT_LINE_TYPES, kind) ||
    !EFFECT_LINE_TYPES[kind as EventEffect["kind"]].includes(lineType)
  ) return null;
  if (kind === "expire") return { kind: "expire" };
  if (kind === "sanctions") {
    const sanctions = readSharedSanctions(value ?? "");
    return sanctions === null ? null : { kind: "sanctions", sanctions };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value ?? "");
  } catch {
    return null;
  }
  if (kind === "topic") {
    // Single-line as stored, before storedText makes a line feed U+FFFD.
    const raw = parsed as Record<string, unknown> | null;
    const oneLine = typeof raw === "object" && raw !== null &&
      isOneLine(raw.text) && isOneLine(raw.by);
    const topic = oneLine ? readTopic(raw) : null;
    return topic === null ? null : { kind: "topic", topic };
  }
  if (kind === "room") {
    const record = readRoomRecord(parsed);
    return record === null ? null : { kind: "room", record };
  }
  return isOneLine(parsed) ? { kind: "bye", text: storedText(parsed) } : null;
}

/**
 * A `TOPIC` event's effect with its topic's time: the event's own when an
 * earlier release stored none (the time the log took the line that set
 * it), so that who reads it back knows when it was set.
 */
export function topicDated(
  effect: EventEffect | undefined,
  time: number,
): EventEffect | undefined {
  if (effect?.kind === "topic" && effect.topic.at === undefined) {
    return { kind: "topic", topic: { ...effect.topic, at: time } };
  }
  const topic = effect?.kind === "room" ? effect.record.topic : null;
  if (effect?.kind === "room" && topic && topic.at === undefined) {
    return {
      kind: "room",
      record: { ...effect.record, topic: { ...topic, at: time } },
    };
  }
  return effect;
}

function isOneLine(value: unknown): value is string {
  return typeof value === "string" && !/[\r\n]/.test(value);
}

/**
 * A stored row as an event, or null when it does not hold a room line of
 * single-line fields with an effect this server knows (the database is
 * ours, but a line from it goes to every joiner: it is checked like one
 * that came from a client, its `text` made as {@linkcode storedText} makes
 * it).
 */
export function toRoomEvent(row: StoredRow): RoomEvent | null {
  let line: unknown;
  try {
    line = JSON.parse(row.line);
  } catch {
    return null;
  }
  // A time a Date can hold (history lines print it).
  if (!isRoomLine(line) || !isTime(row.time)) return null;
  const said = line as { text?: string };
  if (said.text !== undefined) said.text = storedText(said.text);
  const read = readEffect(row.effect, row.effectValue, line.type);
  if (read === null) return null;
  const effect = line.type === "TOPIC" ? topicDated(read, row.time) : read;
  const id = typeof row.id === "string" && isLineId(row.id)
    ? row.id
    : undefined;
  const { room, rooms, target } = line as Record<string, unknown>;
  delete (line as { room?: unknown }).room;
  delete (line as { rooms?: unknown }).rooms;
  delete (line as { target?: unknown }).target;
  const event = {
    ...{ seq: row.seq, time: row.time, line, origin: "", id, effect },
    ...(isMemberId(target) ? { target } : {}),
  };
  // A notice is a marked MSG (`markNotice`): any other mark is none.
  const marked = line as { notice?: unknown };
  if (marked.notice !== undefined && !isNotice(line)) delete marked.notice;
  if (room === undefined) {
    // Rooms that are not a list of rooms only route a catch-up: ignored.
    return isRoomList(rooms) ? { ...event, rooms } : event;
  }
  if (typeof room !== "string" || !isRoomName(room)) return null;
  return { ...event, room };
}

/** A member id as a `MOD` names its target (`RoomEvent.target`). */
function isMemberId(value: unknown): value is string {
  return typeof value === "string" && /^[\x21-\x7e]{1,64}$/.test(value);
}

function isRoomList(value: unknown): value is string[] {
  return Array.isArray(value) &&
    value.every((room) => typeof room === "string" && isRoomName(room));
}

/**
 * A line as stored (JSON), with its room inside it when it has one (no
 * column of its own: absent, as in what a release without rooms stored,
 * is the default room), or the rooms a rename or a leave of the server
 * reached (`RoomEvent.rooms`), and the member a `MOD` names
 * (`RoomEvent.target`: an earlier release reads the line without it).
 */
export function storedLine(
  line: RoomLine,
  room: string | undefined,
  rooms?: readonly string[],
  target?: string,
): string {
  const named = target === undefined ? line : { ...line, target };
  if (rooms !== undefined) return JSON.stringify({ ...named, rooms });
  return JSON.stringify(room === undefined ? named : { ...named, room });
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
