/**
 * What a server that joins a cluster starts its rooms from: the snapshot
 * the cluster's scripts keep in Redis (`room_scripts.ts`), read in one
 * step with the number of the last event, so that reading the stream goes
 * on right after it (nothing is both in the snapshot and read live, and
 * nothing falls between). What Redis holds is checked like anything read
 * back from a log: what this server cannot read is left out, and logged.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import { isRoomName, isWellFormedAlias } from "../../protocol.ts";
import type { RoomEvent } from "../room/room_log.ts";
import {
  operatorKey,
  readRoomRecord,
  type RoomRecord,
} from "../room/room_record.ts";
import type { RoomsSnapshot, SnapshotMember } from "../room/rooms_snapshot.ts";
import type { RedisLink } from "./redis.ts";
import { type StreamEntry, streamEvent } from "./stream_entry.ts";

/** The rooms at start, and the number of the last event they include. */
export interface RoomsAtStart {
  readonly snapshot: RoomsSnapshot;
  /** The last event the snapshot includes: reading goes on after it. */
  readonly seq: number;
}

type SnapshotReply = [
  string,
  string[],
  string[],
  (string | string[])[],
  string[],
  string[]?,
];

/** Reads the cluster's rooms as they are now (`SCRIPTS.snapshot`). */
export async function readRoomsAtStart(
  link: RedisLink,
  log: Logger,
): Promise<RoomsAtStart> {
  const [seq, rooms, members, recent, begun, muted] = await link.run(
    "snapshot",
    [],
  ) as SnapshotReply;
  let skipped = 0;
  const records: RoomRecord[] = [];
  for (let i = 0; i + 1 < rooms.length; i += 2) {
    const record = readRoomRecord(parse(rooms[i + 1]!));
    if (record !== null && record.name === rooms[i]) records.push(record);
    else skipped++;
  }
  const everyone = snapshotMembers(members, muted ?? []);
  skipped += Math.floor(members.length / 3) - everyone.length;
  for (const record of records) keepGuestOperators(record, everyone);
  const byRoom = new Map<string, RoomEvent[]>();
  for (let i = 0; i + 1 < recent.length; i += 2) {
    const entries = recent[i + 1] as string[];
    const events = entries.map((raw) => {
      const entry = parse(raw) as StreamEntry | null;
      return Array.isArray(entry) ? streamEvent(entry) : null;
    });
    skipped += events.filter((e) => e === null).length;
    const kept = events.filter((e) => e !== null).reverse();
    if (kept.length > 0) byRoom.set(recent[i] as string, kept);
  }
  const since = new Map<string, number>();
  for (let i = 0; i + 1 < (begun ?? []).length; i += 2) {
    const number = Number(begun[i + 1]);
    if (Number.isSafeInteger(number) && number >= 0) {
      since.set(begun[i]!, number);
    }
  }
  if (skipped > 0) {
    log.error("rooms-unreadable", {
      skipped,
      hint: "rooms' state in Redis this server cannot read was left out",
    });
  }
  return {
    snapshot: { records, members: everyone, recent: byRoom, since },
    seq: Number(seq),
  };
}

/**
 * Drops from `record` the guests' operator rights (`~alias`) of guests not
 * in its room: a record decided before its guest left is kept in Redis as
 * it was decided, while every replica dropped them when it arrived.
 */
function keepGuestOperators(
  record: RoomRecord,
  everyone: RoomsSnapshot["members"],
): void {
  const here = new Set(
    everyone.filter((m) => m.rooms.includes(record.name)).map((m) =>
      operatorKey({ account: null, alias: m.alias })
    ),
  );
  record.operators = record.operators.filter((key) =>
    !key.startsWith("~") || here.has(key)
  );
}

/**
 * Everyone in the rooms (member id, alias, rooms JSON, ...), with the
 * rooms whose mutes hold each (`muted`, the `roomMuted` hash); what is not
 * that is left out.
 */
function snapshotMembers(
  members: readonly string[],
  muted: readonly string[],
): SnapshotMember[] {
  const everyone: SnapshotMember[] = [];
  const holds = mutedHolds(muted);
  for (let i = 0; i + 2 < members.length; i += 3) {
    const [id, alias, list] = [members[i]!, members[i + 1]!, members[i + 2]!];
    const names = parse(list);
    if (
      !isWellFormedAlias(alias) || !Array.isArray(names) ||
      !names.every((name) => typeof name === "string" && isRoomName(name))
    ) continue;
    const held = holds[id];
    everyone.push({ id, alias, rooms: names, ...held && { muted: held } });
  }
  return everyone;
}

/**
 * The `roomMuted` hash (member id, holds JSON, ...) by member id: room
 * name -> the key of the mute that holds it (`muteKey`); what is not
 * that is left out (the room's check holds the member where it speaks).
 */
function mutedHolds(
  hash: readonly string[],
): Record<string, Record<string, string>> {
  const byId: Record<string, Record<string, string>> = {};
  for (let i = 0; i + 1 < hash.length; i += 2) {
    const held = parse(hash[i + 1]!);
    if (typeof held !== "object" || held === null) continue;
    const rooms = Object.entries(held).filter(([room, key]) =>
      isRoomName(room) && typeof key === "string"
    );
    byId[hash[i]!] = Object.fromEntries(rooms);
  }
  return byId;
}

/** `text` parsed as JSON, or null. */
function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
