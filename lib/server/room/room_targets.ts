/**
 * Whom a room operator's command aims at: a member of this server, or
 * someone on another server of the cluster (the directory's word, else the
 * room's replica's, which knows its id and alias only). Never a server
 * operator. A command aimed at someone elsewhere changes the room's record
 * here and announces it; its server enforces it as the event is handed on.
 *
 * @module
 */

import { aliasKey, ProtocolError } from "../../protocol.ts";
import type { Found, Someone } from "./directory.ts";
import type { Member } from "./member.ts";
import type { Moderated } from "./moderator.ts";
import type { RoomEvent } from "./room_log.ts";
import type { RoomCommandContext } from "./room_commands.ts";
import type { RoomState } from "./room_state.ts";

/** A target: a member of this server, or someone elsewhere. */
export type Target<M extends Moderated> = M | Someone;

/**
 * Whether `event` is a room ban that names `member` by id, under the alias
 * it holds now: the operator's server, on another server, appended its
 * `LEAVE` right after it (`room_moderator.ts`), so its own server appends
 * none (one `LEAVE` per ban in the log). A ban naming none (its operator's
 * server had not read its `JOIN`), or one decided before it renamed (that
 * `LEAVE`, under its old alias, is refused), leaves it to its own server.
 */
export function leaveFollows(event: RoomEvent, member: Member): boolean {
  const { line } = event;
  return line.type === "MOD" && line.action === "ban" &&
    event.target === member.id &&
    aliasKey(line.alias) === aliasKey(member.alias);
}

/** Whether `target` is a member of this server (else it is elsewhere). */
export function isHere<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  target: Target<M>,
): target is M {
  return ctx.router.member(target.id) === target;
}

/**
 * The directory's word on `alias`; when it cannot say (Redis did not
 * answer, or refused), `ERR unavailable` to the operator, who stays
 * connected (the failure would otherwise reach the session and end it).
 */
export async function findOrUnavailable<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  alias: string,
): Promise<Found<M> | null> {
  try {
    return await ctx.room.find(alias);
  } catch (error) {
    throw new ProtocolError(
      "unavailable",
      `Cannot find "${alias}" now: the room's servers cannot reach each other; nothing was done, try again`,
      { cause: error },
    );
  }
}

/**
 * Whoever is called `alias` on any server (the directory's word, else one
 * in room `state`'s replica), not a server operator.
 */
export async function someone<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  state: RoomState<M>,
  alias: string,
): Promise<Target<M>> {
  const found = await findOrUnavailable(ctx, alias);
  const target = found === null
    ? inReplica(state, alias)
    : "here" in found
    ? found.here
    : found.elsewhere;
  if (target === undefined) {
    throw new ProtocolError("no-such-alias", `Nobody is called "${alias}"`);
  }
  if (target.operator) {
    throw new ProtocolError(
      "not-permitted",
      `"${target.alias}" is a server operator`,
    );
  }
  return target;
}

/**
 * Whom a room ban or mute names: whoever is called `name` on any server
 * ({@linkcode someone}), else the account of that name, absent (not a
 * server operator): its sanction holds when it next comes.
 */
export async function sanctionable<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  state: RoomState<M>,
  name: string,
): Promise<Target<M>> {
  try {
    return await someone(ctx, state, name);
  } catch (error) {
    if (!(error instanceof ProtocolError) || error.code !== "no-such-alias") {
      throw error;
    }
  }
  const account = ctx.accounts.get(name);
  if (account === null) {
    throw new ProtocolError(
      "no-such-alias",
      `Nobody is called "${name}" and no account has that name`,
    );
  }
  if (account.operator) {
    throw new ProtocolError(
      "not-permitted",
      `"${account.alias}" is a server operator`,
    );
  }
  const { alias } = account;
  return { id: "", alias, account: alias, host: "", operator: false };
}

/** Like {@linkcode someone}, and in room `state` (`not-in-room` if not). */
export async function anyoneIn<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  state: RoomState<M>,
  alias: string,
): Promise<Target<M>> {
  const target = await someone(ctx, state, alias);
  const here = isHere(ctx, target);
  if (here ? !state.members.has(target.id) : !state.everyone.has(target.id)) {
    throw new ProtocolError(
      "not-in-room",
      `"${target.alias}" is not in ${state.name}`,
    );
  }
  return target;
}

/** One in the room's replica called `alias` (account and host unknown). */
function inReplica<M extends Moderated>(
  state: RoomState<M>,
  alias: string,
): Someone | undefined {
  const key = aliasKey(alias);
  for (const [id, held] of state.everyone) {
    if (aliasKey(held) !== key) continue;
    return { id, alias: held, account: null, host: "", operator: false };
  }
  return undefined;
}
