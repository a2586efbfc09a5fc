/**
 * Room mutes in the log's order, the same on every server: as a `MOD
 * mute` is handed on, the member of the room its target alias names (on
 * any server: the replica's `everyone`) is held by that mute (its id and
 * target: {@linkcode heldByMute}); a message or action of it in that room handed
 * on later, while the record the log last carried keeps that mute in force
 * at the line's time, reaches nobody ({@linkcode mutedLine}): its server
 * had sent it before it read the mute. Its own server checks everything
 * else when it speaks (an address mute of others at that address, an
 * account mute of a member not in the room then): only it knows their
 * addresses. A line from one out of the room as the log says (kicked,
 * banned, parted before it) reaches nobody either ({@linkcode whyDropped}).
 * Redis's `append` script refuses both kinds (`outside`, `muted`), so these
 * checks see only lines a server of an earlier release stored. Server-wide
 * mutes (the default room's) are not checked here: Redis refuses the lines
 * they hold (`serverMuted`, `mute_scripts.ts`).
 *
 * @module
 */

import { aliasKey } from "../../protocol.ts";
import type { Sanction } from "../access/moderation.ts";
import type { RoomRecord } from "./room_record.ts";
import type { RoomEvent } from "./room_log.ts";

/** What of a room {@linkcode heldByMute} and {@linkcode mutedLine} read. */
export interface MutedRoom {
  /** Its record as the log last said. */
  readonly logged: RoomRecord;
  /** Its members on every server: id to alias. */
  readonly everyone: ReadonlyMap<string, string>;
  /** Members held by a mute of `logged`, by id: the mute's {@linkcode muteKey}. */
  readonly mutedIds: Map<string, string>;
}

/**
 * A room's record the log carried was taken on (`state.logged`, `before`
 * the one it replaces): a `MOD mute`'s new mute holds the member it names
 * by id (`target`: that session, whoever holds its alias now), or, in a
 * line of an earlier release, the member its target alias names; holds
 * whose mute is gone (lifted, replaced) go.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heldByMute } from "./room_mutes.ts";
 * import { newRoomRecord } from "./room_record.ts";
 *
 * const before = newRoomRecord("#ops");
 * const mute = {
 *   id: 1, type: "mute", kind: "account", target: "cat", label: "cat",
 *   until: null, by: "amy", reason: "",
 * } as const;
 * const room = {
 *   logged: { ...before, mutes: [mute] },
 *   everyone: new Map([["m1", "amy"], ["m2", "Cat"]]),
 *   mutedIds: new Map<string, string>(),
 * };
 * const line = { type: "MOD", action: "mute", alias: "cat", by: "amy", text: "" } as const;
 * heldByMute(room, before, { line });
 * assert.deepEqual([...room.mutedIds], [["m2", "1 cat"]]);
 * ```
 */
export function heldByMute(
  room: MutedRoom,
  before: RoomRecord,
  { line, target }: Pick<RoomEvent, "line" | "target">,
): void {
  const keys = new Set(room.logged.mutes.map(muteKey));
  for (const [id, mute] of room.mutedIds) {
    if (!keys.has(mute)) room.mutedIds.delete(id);
  }
  if (line.type !== "MOD" || line.action !== "mute") return;
  const was = new Set(before.mutes.map(muteKey));
  const added = room.logged.mutes.find((s) => !was.has(muteKey(s)));
  if (added === undefined) return;
  if (target !== undefined) {
    // The session the operator named, whoever holds its alias now.
    if (room.everyone.has(target)) room.mutedIds.set(target, muteKey(added));
    return;
  }
  const key = aliasKey(line.alias);
  for (const [id, alias] of room.everyone) {
    if (aliasKey(alias) === key) room.mutedIds.set(id, muteKey(added));
  }
}

/**
 * A mute as a hold names it: its id and target (an id alone is given
 * again once its mute is lifted; Redis's `roomMuted` names it the same).
 */
export function muteKey(mute: Pick<Sanction, "id" | "target">): string {
  return `${mute.id} ${mute.target}`;
}

/**
 * The mute that holds the sender of `event`, a message or action in
 * `room`, at the line's time in the log, or null.
 */
export function mutedLine(room: MutedRoom, event: RoomEvent): Sanction | null {
  const { line, origin, time } = event;
  if (line.type !== "MSG" && line.type !== "ME") return null;
  const key = room.mutedIds.get(origin);
  if (key === undefined) return null;
  const mute = room.logged.mutes.find((s) => muteKey(s) === key);
  return mute !== undefined && (mute.until === null || mute.until > time)
    ? mute
    : null;
}

/**
 * Why a message or action handed on in `room` reaches nobody, or null (it
 * goes): its sender was `out` of the room as the log says (a kick, a ban,
 * a part put first), or `muted` there (`mutes`: the room's own mutes
 * count; the default room's are the server's).
 */
export function whyDropped(
  room: MutedRoom,
  event: RoomEvent,
  mutes: boolean,
): "out" | "muted" | null {
  if (!room.everyone.has(event.origin)) return "out";
  return mutes && mutedLine(room, event) !== null ? "muted" : null;
}
