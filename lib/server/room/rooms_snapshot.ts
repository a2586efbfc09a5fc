/**
 * What the rooms start from ({@linkcode RoomsSnapshot}): every room the log
 * knows, everyone in them, and each room's last messages. A server alone
 * starts from its registered rooms and its stored history
 * ({@linkcode localSnapshot}: nobody is connected at start, and no
 * temporary room lives on: one made again begins anew); a cluster's
 * from Redis, read in one step with where its stream reader starts. The
 * `RoomSet` is built from one either way.
 *
 * @module
 */

import type { RoomEvent } from "./room_log.ts";
import type { RoomRecord } from "./room_record.ts";

/** One member in the rooms at start. */
export interface SnapshotMember {
  readonly id: string;
  readonly alias: string;
  /** The rooms it is in, in join order (the default room by name). */
  readonly rooms: readonly string[];
  /**
   * The rooms whose mutes hold it, room name -> the mute's `muteKey`
   * (`RoomState.mutedIds`: a cluster's `roomMuted`).
   */
  readonly muted?: Readonly<Record<string, string>>;
}

/** What the rooms start from (see the module). */
export interface RoomsSnapshot {
  /** Every room the log knows now (registered and temporary), the default room's too if known. */
  readonly records: readonly RoomRecord[];
  /** Everyone in the rooms now, in join order: member id, alias, the rooms it is in (the default room by name). */
  readonly members: readonly SnapshotMember[];
  /** Each room's last messages and actions (MSG/ME), oldest first, by room name (the default room by name). */
  readonly recent: ReadonlyMap<string, readonly RoomEvent[]>;
  /**
   * The number of the last event before each temporary room's current
   * incarnation (`RoomState.since`), by room name; absent: 0.
   */
  readonly since?: ReadonlyMap<string, number>;
}

/** A snapshot with nothing in it. */
export const EMPTY_SNAPSHOT: RoomsSnapshot = {
  records: [],
  members: [],
  recent: new Map(),
};

/**
 * A server alone's snapshot: its registered rooms (as its store loads
 * them), nobody in them, `events` (the last messages, oldest first,
 * whatever their room) by room, the default room's under `defaultRoom`,
 * and where each room's current incarnation begins (`since`: a registered
 * room made again after it vanished; its events up to there are left out).
 */
export function localSnapshot(
  records: readonly RoomRecord[],
  events: readonly RoomEvent[],
  defaultRoom: string,
  since: ReadonlyMap<string, number> = new Map(),
): RoomsSnapshot {
  const recent = new Map<string, RoomEvent[]>();
  for (const event of events) {
    const name = event.room ?? defaultRoom;
    if (event.seq <= (since.get(name) ?? 0)) continue;
    const list = recent.get(name);
    if (list) list.push(event);
    else recent.set(name, [event]);
  }
  return { records, members: [], recent, since };
}
