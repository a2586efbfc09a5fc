/**
 * What a member with `rooms` asks of the rooms: `/join`, `/part`,
 * `/rooms`, and the commands that act on one room (its scope: the line's
 * `#room ` prefix, else the current room): chat, `/me`, `/who`, `/topic`,
 * `/history`. Room operators' commands are `room_moderator.ts`'s. Refusals
 * are `ProtocolError`s for the session to send back.
 *
 * @module
 */

import {
  aliasKey,
  HISTORY_REQUEST_LIMIT,
  ProtocolError,
  validateRoomName,
  WHO_LIST_LIMIT,
} from "../../protocol.ts";
import type { Command } from "../../commands.ts";
import type { ServerLine } from "../../server_lines.ts";
import type { Moderation } from "../access/moderation.ts";
import type { Moderated, ModeratorCommand } from "./moderator.ts";
import type { Room } from "./room.ts";
import type { EventEffect } from "./room_log.ts";
import type { RoomRouter } from "./room_router.ts";
import { cutNote } from "./replies.ts";
import type { Accounts } from "../access/accounts.ts";
import type { RoomState } from "./room_state.ts";
import { operatorKey } from "./room_record.ts";

/** At most this many rooms are listed by `/rooms`. */
export const ROOMS_LIST_LIMIT = 200;

/** What the room commands need. */
export interface RoomCommandContext<M extends Moderated> {
  readonly room: Room<M>;
  readonly router: RoomRouter<M>;
  /** Lines of history on join and for `/history` without N. */
  readonly history: number;
  readonly now: number;
  /** Where the default room's topic is kept (it outlives restarts). */
  readonly moderation: Moderation;
  /** Carries out a server operator's command (the default room's). */
  readonly moderate: (command: ModeratorCommand) => Promise<void>;
  /** The server's accounts: a room ban or mute may name an absent one. */
  readonly accounts: Pick<Accounts, "get">;
}

/**
 * `ERR not-in-room`'s text for a member in no room at all (its `#room` is
 * help, no room's name: the IRC door tells it apart by this text).
 */
export const NO_ROOM_TEXT = "You are in no room: /join #room";

/**
 * The room a line acts in: the one its prefix names (it must be in it),
 * else its current room (it must have one).
 */
export function scopeOf<M extends Moderated>(
  router: RoomRouter<M>,
  member: M,
  named: string | null,
): RoomState<M> {
  const name = named ?? router.rooms.current(member);
  if (name === null) {
    throw new ProtocolError("not-in-room", NO_ROOM_TEXT);
  }
  const state = router.rooms.get(name);
  if (!state?.members.has(member.id)) {
    throw new ProtocolError("not-in-room", `You are not in ${name}`);
  }
  return state;
}

/**
 * What an event about `state` carries (`room_replica.ts`): its record as
 * it is now, for every room but the default one (whose topic, bans and
 * mutes are the server's moderation's).
 */
export function roomEffect<M extends Moderated>(
  router: RoomRouter<M>,
  state: RoomState<M>,
): EventEffect | undefined {
  if (state === router.rooms.default) return undefined;
  return { kind: "room", record: structuredClone(state.record) };
}

/** `/join #room [KEY]`: in (announced), or a switch when in already. */
export function join<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  command: Extract<Command, { kind: "join" }>,
): void {
  const { rooms } = ctx.router;
  const name = validateRoomName(command.room);
  const state = rooms.prepareJoin(member, name, { key: command.key });
  if (state === null) {
    if (rooms.get(name)?.members.has(member.id)) {
      rooms.setCurrent(member, name);
      ctx.router.tellCurrent(member);
    }
    return;
  }
  appendJoin(ctx, member, state);
}

/**
 * Appends the `JOIN` of `member` in `state` (a `/join`, a rejoin at
 * login), noted as its pending join's: one the log does not store ends,
 * its member told (`RoomRouter.lost`). A join whose `JOIN` was left in
 * doubt sends it again under its id: if the log stored it after all, it
 * stores it not again. Under the alias the member has now (renamed since,
 * a log that stored the first reports the id held by another line:
 * `join_doubts.ts` takes that as a duplicate), so the room never sees it
 * join both as its old alias and as its new one.
 */
function appendJoin<M extends Moderated>(
  ctx: Pick<RoomCommandContext<M>, "room" | "router">,
  member: M,
  state: RoomState<M>,
): void {
  const again = ctx.router.inDoubt(member, state.name);
  const line = again?.line.alias === member.alias ? again.line : {
    type: "JOIN" as const,
    alias: member.alias,
    online: String(state.everyone.size + 1),
  };
  ctx.router.rooms.noteJoin(line, state.name);
  const effect = roomEffect(ctx.router, state);
  ctx.room.appendIn(state.name, line, member, { effect, id: again?.id });
}

/**
 * `/part [#room] [REASON]`: out of the room, announced to it and to the
 * parter; without the reason while a mute applies (`serverMuted`, or the
 * room's own): a muted member's words reach nobody.
 */
export function part<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  command: Extract<Command, { kind: "part" }>,
  scope: string | null,
  serverMuted: () => boolean = () => false,
): void {
  const named = command.room === null ? scope : validateRoomName(command.room);
  const state = scopeOf(ctx.router, member, named);
  const muted = serverMuted() || state.muteOf(member, ctx.now) !== null;
  leaveRoom(ctx, member, state, "part", muted ? "" : command.reason);
}

/**
 * Takes `member` out of `state` and announces it (`LEAVE reason`); `first`
 * runs once it is out, before its `LEAVE` is appended.
 */
export function leaveRoom<M extends Moderated>(
  ctx: Pick<RoomCommandContext<M>, "room" | "router">,
  member: M,
  state: RoomState<M>,
  reason: "part" | "kicked" | "banned",
  text: string,
  first?: () => void,
): void {
  if (!ctx.router.rooms.remove(member, state)) return;
  first?.();
  ctx.room.appendIn(state.name, {
    type: "LEAVE",
    alias: member.alias,
    online: String(state.everyone.size - 1),
    reason,
    text,
  }, member);
}

/**
 * `/rooms`: the rooms it may see, busiest first, then `INFO N rooms`: at
 * most {@linkcode ROOMS_LIST_LIMIT}, and only as many as fit in half the
 * member's queue less what it holds (`Replies.budget`, as for `/search`), so
 * that rooms with long topics cannot get whoever lists them dropped as slow;
 * a list cut so says how many it shows. `/rooms #room`: that room alone
 * (see {@linkcode listRoom}).
 */
export function listRooms<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  named: string | null = null,
): void {
  if (named !== null) return listRoom(ctx, member, named);
  const visible = [...ctx.router.rooms.all()]
    .filter((state) => state.visibleTo(member))
    .sort((a, b) =>
      b.everyone.size - a.everyone.size || (a.name < b.name ? -1 : 1)
    );
  const listed = visible.slice(0, ROOMS_LIST_LIMIT);
  const shown = ctx.room.replies.list(
    member,
    listed.map((state) => roomLine(state, member)),
  );
  const count = visible.length;
  const cut = cutNote(shown, listed.length, "busiest");
  ctx.room.replies.tell(member, {
    type: "INFO",
    text: `${count} room${count === 1 ? "" : "s"}${cut}`,
  });
}

/**
 * `/rooms #room`: that room's `ROOM` line read from its own state, then
 * `INFO 1 room` (`INFO 0 rooms` when there is none or the member may not
 * see it), whatever the other rooms: the IRC door's `MODE #room` asks it
 * (it listed every room, and found none past the busiest that fit).
 */
function listRoom<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  named: string,
): void {
  const state = ctx.router.rooms.get(validateRoomName(named));
  const seen = state?.visibleTo(member) ? state : null;
  if (seen !== null) ctx.room.replies.tell(member, roomLine(seen, member));
  ctx.room.replies.tell(member, {
    type: "INFO",
    text: seen === null ? "0 rooms" : "1 room",
  });
}

/** A room's `ROOM` line as `member` sees it (its flags). */
function roomLine<M extends Moderated>(
  state: RoomState<M>,
  member: M,
): ServerLine<"ROOM"> {
  return {
    type: "ROOM",
    room: state.name,
    members: String(state.everyone.size),
    flags: state.flagsFor(member),
    topic: state.record.topic?.text ?? "",
  };
}

/**
 * `/who` of a room: its count and members on every server (but those of
 * this server out already, whose `LEAVE` is on its way), operators marked
 * `@` (one of another server by the record alone: its account or guest
 * alias listed).
 */
export function who<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  state: RoomState<M>,
): void {
  const { gone } = ctx.router.rooms.replica;
  const entries = [...state.everyone].flatMap(([id, alias]) => {
    const here = ctx.router.member(id);
    if (gone.has(id) || (here && !state.members.has(id))) return [];
    return {
      alias,
      operator: here
        ? state.isOperator(here)
        : state.record.operators.includes(aliasKey(alias)) ||
          state.record.operators.includes(
            operatorKey({ account: null, alias }),
          ),
    };
  });
  ctx.router.tellIn(member, state, {
    type: "WHO",
    online: String(entries.length),
    aliases: whoList(entries).join(" "),
  });
}

/** `/history [N]` of a room. */
export function history<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  state: RoomState<M>,
  count: number | null,
): void {
  if (ctx.history === 0) {
    throw new ProtocolError("no-history", "This room keeps no history");
  }
  ctx.room.replies.history(
    member,
    Math.min(count ?? ctx.history, HISTORY_REQUEST_LIMIT),
    true,
    { recent: state.recent, room: member.roomsOn ? state.name : undefined },
  );
}

/**
 * `/topic` of a room: shown, or (its operators) set and announced; refused
 * (`too-many-entries`) when the room's record would grow past
 * `roomRecordBytes` (`RoomState.change`).
 */
export function topic<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  state: RoomState<M>,
  text: string,
): void {
  if (text === "") {
    const current = state.record.topic;
    if (current) {
      const room = member.roomsOn ? state.name : undefined;
      ctx.room.replies.tellTopic(member, current, room);
    } else {
      ctx.room.replies.tell(member, { type: "INFO", text: "No topic is set" });
    }
    return;
  }
  state.checkOperator(member, "topic");
  const set = { text, by: member.alias, at: ctx.now };
  state.change({ topic: set }, ctx.router.rooms.limits.roomRecordBytes);
  const inDefault = state === ctx.router.rooms.default;
  if (inDefault) ctx.moderation.setTopic(set);
  ctx.room.announce(
    { type: "TOPIC", alias: member.alias, text },
    member,
    inDefault ? { kind: "topic", topic: set } : roomEffect(ctx.router, state),
    ctx.router.rooms.eventRoom(state),
  );
}

/**
 * An account's rooms, joined again at login (with `rooms`), after the
 * default room: on any device, in the order it joined them. Neither key
 * nor invitation is asked (it was in: a part, a kick or a room ban takes a
 * room off its list, and so does the room vanishing); a ban placed since
 * still holds. A room no longer there is not made again, nor one made
 * again since it joined (another incarnation, `RoomKeeper.stillIn`: a
 * server down while it vanished). A room refused or gone is taken off the
 * list; each refusal is told as the `ERR` `/join` would have had. When
 * the cluster's list could not be read (`RoomKeeper.stale`), the member is
 * told (`notice`, an `INFO`) that these come from this server's own list.
 */
export function rejoin<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  member: M,
  refused: (error: ProtocolError) => void,
  notice: (text: string) => void = () => {},
): void {
  if (!member.roomsOn || member.account === null) return;
  const { rooms } = ctx.router;
  if (rooms.keeper.stale(member.account)) notice(STALE_ROOMS_TEXT);
  const remembered = rooms.keeper.accountRooms(member.account);
  const kept: string[] = [];
  for (const entry of remembered) {
    const { room: name, since } = entry;
    if (!rooms.keeper.stillIn(entry)) continue; // vanished: not a member
    try {
      // A row from before incarnations were kept (`since` null) may be of
      // an older room of this name: its door (key, invitation) applies.
      const door = since === null;
      const state = rooms.prepareJoin(member, name, { rejoin: true, door });
      kept.push(name);
      if (state !== null) appendJoin(ctx, member, state);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      refused(error);
    }
  }
  if (kept.length < remembered.length) rooms.keeper.inRooms(member, kept);
}

/**
 * What a member whose rooms could not be read from the cluster's store at
 * login is told (`INFO`).
 */
export const STALE_ROOMS_TEXT =
  "Your rooms could not be read from the cluster's store (it did not answer): you are back in the rooms this server remembers, which may be out of date; rooms you joined on another server are kept and come back at your next login";

/**
 * The `/who` list, in the one order the room shows it: the first
 * {@linkcode WHO_LIST_LIMIT} entries given (those who joined, or last
 * renamed, first), sorted by alias whatever its case, operators marked `@`.
 */
export function whoList(
  entries: Iterable<{ readonly alias: string; readonly operator: boolean }>,
): string[] {
  const listed: { alias: string; operator: boolean }[] = [];
  for (const entry of entries) {
    if (listed.length === WHO_LIST_LIMIT) break;
    listed.push(entry);
  }
  listed.sort((a, b) => aliasKey(a.alias) < aliasKey(b.alias) ? -1 : 1);
  return listed.map((m) => m.operator ? `@${m.alias}` : m.alias);
}
