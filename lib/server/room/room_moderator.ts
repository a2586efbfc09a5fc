/**
 * Room operators' commands, in one room (not the default room's kick and
 * mute, which stay the server operators' commands of `moderator.ts`):
 * `/kick`, `/mute`, `/unmute`, `/roomban`, `/roomunban`, `/roombans`,
 * `/op`, `/deop`, `/key`, `/invite`, `/inviteonly` and `/register`. Each
 * checks that the one asking operates the room (its operators, server
 * operators), changes the room's record, and announces a `MOD` line in
 * the room (the key itself is never announced; an invite too, as
 * `MOD invite`). The target may be on another server (`room_targets.ts`):
 * its server enforces the change as the `MOD` is handed on. A server
 * operator is never the target of a kick, mute or ban.
 *
 * @module
 */

import { aliasKey, ProtocolError } from "../../protocol.ts";
import type { Command } from "../../commands.ts";
import { describeSanction, type Sanction } from "../access/moderation.ts";
import type { Moderated } from "./moderator.ts";
import {
  leaveRoom,
  type RoomCommandContext,
  roomEffect,
} from "./room_commands.ts";
import type { RoomState } from "./room_state.ts";
import { cutNote } from "./replies.ts";
import { fitBytes } from "../../text.ts";
import { hashRoomKey, operatorKey } from "./room_record.ts";
import {
  anyoneIn,
  isHere,
  sanctionable,
  someone,
  type Target,
} from "./room_targets.ts";

/** The commands of room operators. */
export type RoomModeratorCommand =
  | Extract<Command, { kind: "kick" | "key" | "inviteonly" }>
  | {
    readonly kind: "mute" | "roomban";
    readonly target: string;
    readonly durationMs: number | null;
    readonly reason: string;
  }
  | {
    readonly kind: "unmute" | "roomunban" | "op" | "deop" | "invite";
    readonly target: string;
  }
  | { readonly kind: "roombans" | "register" };

/** What the default room refuses: it is everyone's, as before rooms. */
const DEFAULT_OPEN: ReadonlySet<RoomModeratorCommand["kind"]> = new Set([
  "key",
  "inviteonly",
  "roomban",
  "register",
]);

/** What carrying out one room operator's command has at hand. */
interface Act<M extends Moderated> {
  readonly ctx: RoomCommandContext<M>;
  readonly actor: M;
  readonly state: RoomState<M>;
  /**
   * Announces `MOD action alias by text` in the room; `target`: the
   * member it names, by id (`RoomEvent.target`).
   */
  readonly mod: (
    action: string,
    alias: string,
    text?: string,
    target?: string,
  ) => void;
}

/** Carries out a room operator's command in `state`. */
export function moderateRoom<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  actor: M,
  state: RoomState<M>,
  command: RoomModeratorCommand,
): Promise<void> | void {
  state.checkOperator(actor, command.kind);
  if (state === ctx.router.rooms.default && DEFAULT_OPEN.has(command.kind)) {
    // Everyone enters the default room on joining the server, and ncat users
    // cannot /join: a key, invite-only or a room ban could not hold there.
    throw new ProtocolError(
      "usage",
      `${state.name} is open to every member: /ban bans from the server`,
    );
  }
  // Every change is announced with the record after it, which every
  // server takes on (and keeps, if registered) when it is handed on.
  const mod = (action: string, alias: string, text = "", target?: string) => {
    ctx.room.announce(
      { type: "MOD", action, alias, by: actor.alias, text },
      actor,
      roomEffect(ctx.router, state),
      state.name,
      target,
    );
  };
  const act: Act<M> = { ctx, actor, state, mod };
  switch (command.kind) {
    case "kick":
      return kick(act, command.target, command.reason);
    case "mute":
    case "roomban":
      return restrict(act, command);
    case "unmute":
    case "roomunban":
      return lift(act, command.kind, command.target);
    case "roombans":
      return listRoomBans(ctx, actor, state);
    case "op":
    case "deop":
      return setOperator(act, command.kind, command.target);
    case "key": {
      const keyHash = command.key === null ? null : hashRoomKey(command.key);
      state.change({ keyHash }, limitOf(ctx).maxBytes);
      return mod("key", "-", command.key === null ? "off" : "on");
    }
    case "inviteonly":
      state.record.inviteOnly = command.on;
      return mod("invite-only", "-", command.on ? "on" : "off");
    case "invite":
      return invite(act, command.target);
    case "register":
      return register(act);
  }
}

/**
 * How many entries each list of a room keeps, at this command's time, and
 * how many bytes its record takes at most (`RoomState.change`).
 */
function limitOf<M extends Moderated>(ctx: RoomCommandContext<M>) {
  const { maxRoomEntries, roomRecordBytes } = ctx.router.rooms.limits;
  return { max: maxRoomEntries, nowMs: ctx.now, maxBytes: roomRecordBytes };
}

/** `/kick ALIAS [REASON]`: announced, then out of the room. */
async function kick<M extends Moderated>(
  act: Act<M>,
  alias: string,
  reason: string,
): Promise<void> {
  const target = await anyoneIn(act.ctx, act.state, alias);
  expel(act, target, "kick", reason, reason);
}

/**
 * Announces a kick or ban of `target` (`MOD`); one in the room leaves
 * (`LEAVE`). One of this server is out before the `MOD` is handed on, so
 * it is told at once; one on another server leaves by the `LEAVE`
 * appended here on its behalf right after the `MOD` (in the same step, so
 * that no line of theirs stored after the `MOD` reaches the room), which
 * its server carries out when it is handed on (`room_router.ts`). That
 * `MOD` names it by id: its server, which puts out whoever a room's bans
 * cover as a `MOD` is handed on, appends no second `LEAVE` for it
 * (`leaveFollows`, `room_targets.ts`).
 */
function expel<M extends Moderated>(
  { ctx, actor, state, mod }: Act<M>,
  target: Target<M>,
  action: "kick" | "ban",
  text: string,
  reason: string,
): void {
  const left = action === "kick" ? "kicked" : "banned";
  if (!isHere(ctx, target)) {
    if (!state.everyone.has(target.id)) return mod(action, target.alias, text);
    mod(action, target.alias, text, target.id);
    return ctx.room.appendIn(state.name, {
      type: "LEAVE",
      alias: target.alias,
      online: String(state.everyone.size - 1),
      reason: left,
      text: reason,
    }, target);
  }
  if (!state.members.has(target.id)) return mod(action, target.alias, text);
  leaveRoom(ctx, target, state, left, reason, () => {
    const { alias } = target;
    ctx.router.tellIn(target, state, {
      type: "MOD",
      action,
      alias,
      by: actor.alias,
      text,
    });
    mod(action, alias, text);
  });
}

/**
 * `/mute` and `/roomban`: recorded, announced; the banned leave. The
 * reason is cut to `roomReasonBytes` (the record keeps it).
 */
async function restrict<M extends Moderated>(
  act: Act<M>,
  command: Extract<RoomModeratorCommand, { kind: "mute" | "roomban" }>,
): Promise<void> {
  const { ctx, actor, state } = act;
  const target = await sanctionable(ctx, state, command.target);
  const ban = command.kind === "roomban";
  const limits = limitOf(ctx);
  state.checkRoomFor(ban ? "bans" : "mutes", limits);
  const reason = fitBytes(
    command.reason,
    ctx.router.rooms.limits.roomReasonBytes,
  );
  const added = sanction(state, target, ban ? "ban" : "mute", {
    by: actor.alias,
    reason,
    until: command.durationMs === null ? null : ctx.now + command.durationMs,
    at: ctx.now,
  }, limits.maxBytes);
  const text = describeSanction(added);
  if (ban) expel(act, target, "ban", text, reason);
  // The session it names, by id: a newcomer who takes its alias before
  // the line is stored is not the one muted (an absent account: none).
  else act.mod("mute", target.alias, text, target.id || undefined);
}

/** `/unmute` and `/roomunban`: lifted and announced. */
function lift<M extends Moderated>(
  { state, mod }: Act<M>,
  kind: "unmute" | "roomunban",
  target: string,
): void {
  const list = kind === "unmute" ? "mutes" : "bans";
  const name = target.toLowerCase();
  const kept = state.record[list].filter((s) =>
    s.label.toLowerCase() !== name && s.target.toLowerCase() !== name
  );
  if (kept.length === state.record[list].length) {
    throw new ProtocolError(
      "no-such-sanction",
      `Nothing to lift: "${target}" is not ${
        list === "mutes" ? "muted" : "banned"
      } in ${state.name}`,
    );
  }
  state.record[list] = kept;
  mod(list === "mutes" ? "unmute" : "unban", target);
}

/** `/op` and `/deop`: a room operator more or less. */
async function setOperator<M extends Moderated>(
  { ctx, state, mod }: Act<M>,
  kind: "op" | "deop",
  alias: string,
): Promise<void> {
  // A guest operates by its alias while in the room (it loses it on
  // leaving): one opped elsewhere would leave it to the alias's next holder.
  // An account operator no longer here can still be deopped by name.
  const named = operatorKey({ account: alias, alias });
  const gone = kind === "deop" && state.record.operators.includes(named);
  const found = gone ? null : await someone(ctx, state, alias);
  const target = found?.account === null
    ? await anyoneIn(ctx, state, alias)
    : found;
  const key = target ? operatorKey(target) : named;
  const ops = state.record.operators.filter((name) => name !== key);
  if (kind === "op") {
    state.checkRoomFor("operators", limitOf(ctx));
    ops.push(key);
  }
  state.change({ operators: ops }, limitOf(ctx).maxBytes);
  mod(kind, target?.alias ?? alias);
}

/**
 * `/invite ALIAS`: it may enter past key and invite-only; announced as
 * `MOD invite`, and the invitee's server tells it `INVITE` when that is
 * handed on (`room_router.ts`), wherever it is connected. An account is
 * invited in the record (kept, everywhere); anyone else by its own server
 * only, by member id, while it stays connected (`room_grants.ts`).
 */
async function invite<M extends Moderated>(
  { ctx, actor, state, mod }: Act<M>,
  alias: string,
): Promise<void> {
  const target = await someone(ctx, state, alias);
  const account = target.account === null ? null : aliasKey(target.account);
  if (account !== null && !state.record.invites.includes(account)) {
    const limits = limitOf(ctx);
    state.checkRoomFor("invites", limits);
    state.change(
      { invites: [...state.record.invites, account] },
      limits.maxBytes,
    );
  }
  mod("invite", target.alias);
  ctx.room.replies.tell(actor, {
    type: "INFO",
    text: `${target.alias} is invited to ${state.name}`,
  });
}

/** `/register`: the room persists (accounts and server operators). */
function register<M extends Moderated>({ ctx, actor, state, mod }: Act<M>) {
  if (actor.account === null && !actor.operator) {
    throw new ProtocolError(
      "not-permitted",
      "Only accounts register rooms: log in first",
    );
  }
  const registeredBy = actor.account ?? actor.alias;
  state.change({ registeredBy }, limitOf(ctx).maxBytes);
  mod("register", "-");
}

/**
 * Records a room ban or mute of `target` and returns it; throws
 * `too-many-entries` when the record would grow past `maxBytes`.
 */
function sanction<M extends Moderated>(
  state: RoomState<M>,
  target: Target<M>,
  type: "ban" | "mute",
  how: { by: string; reason: string; until: number | null; at: number },
  maxBytes: number,
): Sanction {
  const [aim] = state.banTargets(target);
  if (aim === undefined) {
    throw new ProtocolError(
      "no-such-alias",
      `Cannot ${type} "${target.alias}": its address is unknown`,
    );
  }
  const { bans, mutes } = state.record;
  const added: Sanction = {
    id: Math.max(0, ...bans.map((s) => s.id), ...mutes.map((s) => s.id)) + 1,
    type,
    ...aim,
    label: target.account ?? target.alias,
    ...how,
  };
  const list = type === "ban" ? "bans" : "mutes";
  // A repeat replaces the target's sanction: the lists do not grow with it.
  const kept = state.record[list].filter((s) =>
    s.kind !== aim.kind || s.target !== aim.target
  );
  state.change({ [list]: [...kept, added] }, maxBytes);
  return added;
}

/** `/roombans`: the room's bans, to the operator alone. */
function listRoomBans<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  actor: M,
  state: RoomState<M>,
): void {
  const bans = state.record.bans.filter((s) =>
    s.until === null || s.until > ctx.now
  );
  const shown = ctx.room.replies.list(
    actor,
    bans.map((ban) => ({
      line: {
        type: "BAN",
        kind: ban.kind,
        target: ban.label,
        until: ban.until === null ? "-" : new Date(ban.until).toISOString(),
        by: ban.by,
        text: ban.reason,
      },
      at: ban.at,
    })),
  );
  const cut = cutNote(shown, bans.length, "first");
  ctx.room.replies.tell(actor, {
    type: "INFO",
    text: `${bans.length} ${
      bans.length === 1 ? "ban" : "bans"
    } in ${state.name}${cut}`,
  });
}
