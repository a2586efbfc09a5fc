/**
 * A line of a member with `rooms`: its `#room ` prefix taken off (the
 * room it acts in; none: the current room), then what it asks of the
 * rooms (`/join`, `/part`, `/rooms`), of one room (chat, `/me`, `/who`,
 * `/topic`, `/history`, room operators' commands), or of the server
 * (everything else, as every member has it).
 *
 * @module
 */

import { splitRoomPrefix } from "../../protocol.ts";
import {
  type Command,
  parseCommand,
  ROOM_COMMANDS,
  saying,
} from "../../commands.ts";
import { describeSanction } from "../access/moderation.ts";
import { ProtocolError } from "../../protocol.ts";
import type { Moderated } from "./moderator.ts";
import {
  history,
  join,
  listRooms,
  part,
  type RoomCommandContext,
  scopeOf,
  topic,
  who,
} from "./room_commands.ts";
import { moderateRoom, type RoomModeratorCommand } from "./room_moderator.ts";
import type { RoomState } from "./room_state.ts";
import { findOrUnavailable } from "./room_targets.ts";

/** What the session lends a room line. */
export interface RoomLineHooks {
  /** Throws `ERR muted` while a server-wide mute applies. */
  checkMute(): void;
  /** A command as every member has it. */
  common(command: Command): Promise<void> | void;
}

/** Handles one line of a member with `rooms` (see the module). */
export function roomLine<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  self: M,
  text: string,
  hooks: RoomLineHooks,
): Promise<void> | void {
  const { room: named, rest } = splitRoomPrefix(text);
  const command = parseCommand(rest);
  const scope = () => scopeOf(ctx.router, self, named);
  switch (command.kind) {
    case "join":
      return join(ctx, self, command);
    case "part":
      // A muted member's parting words are not passed on (as /quit's).
      return part(ctx, self, command, named, () => !mayTalk(hooks));
    case "rooms":
      return listRooms(ctx, self, command.room);
    case "read":
      return hooks.common({ ...command, room: command.room ?? named });
    case "say":
    case "me": {
      if (command.text === "") return; // nothing that would show
      const state = scope();
      hooks.checkMute();
      checkRoomMute(ctx, self, state);
      // The default room's messages name no room (as stored before rooms).
      const room = ctx.router.rooms.eventRoom(state);
      if (command.kind === "say") {
        const type = saying(command);
        return ctx.room.speak(type, self, command.text, undefined, room);
      }
      return ctx.room.speak("ME", self, command.text, undefined, room);
    }
    case "who":
      return who(ctx, self, scope());
    case "history":
      return history(ctx, self, scope(), command.count);
    case "topic":
      return topic(ctx, self, scope(), command.text);
    case "kick":
      return kick(ctx, self, scope(), command);
    case "mute":
    case "unmute": {
      const state = scope();
      // The default room's are today's server-wide commands.
      if (state === ctx.router.rooms.default) return ctx.moderate(command);
      return moderateRoom(ctx, self, state, command as RoomModeratorCommand);
    }
    default:
      if (!ROOM_COMMANDS.has(command.kind)) return hooks.common(command);
      return moderateRoom(ctx, self, scope(), command as RoomModeratorCommand);
  }
}

/**
 * `/kick` in a room: out of it. In the default room a member without
 * `rooms` (it is in no other) is disconnected, as before: today's command.
 */
async function kick<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  self: M,
  state: RoomState<M>,
  command: Extract<Command, { kind: "kick" }>,
): Promise<void> {
  if (state === ctx.router.rooms.default) {
    const found = await findOrUnavailable(ctx, command.target);
    const target = found && "here" in found ? found.here : null;
    if (!target?.roomsOn) return ctx.moderate(command);
  }
  return moderateRoom(ctx, self, state, command);
}

/** Whether no server-wide mute applies (`checkMute` does not throw). */
function mayTalk(hooks: RoomLineHooks): boolean {
  try {
    hooks.checkMute();
    return true;
  } catch (error) {
    if (error instanceof ProtocolError && error.code === "muted") return false;
    throw error;
  }
}

/** Throws `ERR muted` while a mute of room `state` applies to `self`. */
export function checkRoomMute<M extends Moderated>(
  ctx: RoomCommandContext<M>,
  self: M,
  state: RoomState<M>,
): void {
  const mute = state.muteOf(self, ctx.now);
  if (mute) {
    throw new ProtocolError(
      "muted",
      `You are muted in ${state.name} ${describeSanction(mute)}`,
    );
  }
}
