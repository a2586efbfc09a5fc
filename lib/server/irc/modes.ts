/**
 * `MODE` from a registered IRC client: a channel's modes (324) and ban
 * list (367, 368) asked of the session, the modes an operator may set
 * (`+o -o +b -b +k -k +i -i`) as its commands, the client's own modes
 * (221, none). Pure: what to send goes to an {@linkcode IrcSink}.
 *
 * @module
 */

import { aliasOf } from "./names.ts";
import { request } from "./replies.ts";
import {
  inRoom,
  type IrcSink,
  type IrcState,
  MEMBER_HOST,
  needMore,
} from "./state.ts";

/**
 * Most keys kept for channels a client set them in and has not seen them
 * set: a key refused (not in the room, not its operator) is never seen
 * set, and would otherwise stay, one more for each channel name tried.
 */
const KEYS_KEPT = 32;

/** A key the client set, kept to show it back (the oldest goes first). */
function remember(state: IrcState, room: string, key: string): void {
  state.keys.delete(room);
  state.keys.set(room, key);
  for (const oldest of state.keys.keys()) {
    if (state.keys.size <= KEYS_KEPT) break;
    state.keys.delete(oldest);
  }
}

/**
 * `+k KEY` or `-k`: `/key KEY`, or `/key -`. A key the room could not
 * keep as given (empty, holding a space, or `-`, which removes it) is 525.
 */
function key(
  state: IrcState,
  room: string,
  on: boolean,
  given: string | undefined,
  sink: IrcSink,
): void {
  if (!on) return sink.native(`${room} /key -`);
  if (given === undefined) return needMore(state, "MODE", sink);
  if (given === "" || given === "-" || given.includes(" ")) {
    return sink.irc(state.numeric("525", room, "Key is not well-formed"));
  }
  remember(state, room, given);
  sink.native(`${room} /key ${given}`);
}

/**
 * The nick a `+o` or ban mask names: `nick` or `nick!...`, or, with any
 * nick, the user part of `*!nick@tlschat`, as every member is
 * `nick!nick@tlschat`: irssi's `/ban` sends `*!*nick@tlschat`, weechat's
 * `*!nick@tlschat`. A user part's leading `*` or `~` is dropped (the ban
 * is then that nick's alone, narrower than the mask); another host, or
 * a wildcard left, names nobody.
 */
function maskNick(mask: string): string {
  const byUser = /^\*!(?:\*|~)?([^!@*?]+)@(.+)$/.exec(mask);
  if (byUser === null) return mask.replace(/!.*$/, "");
  const [, user, host] = byUser;
  return host === MEMBER_HOST || host === "*" ? user! : "*";
}

/**
 * `+o -o +b -b` given `mask` (a nick, or a ban mask): `command` for the
 * nick it names, 401 when it names none, 461 when none was given.
 */
function onNick(
  state: IrcState,
  command: string,
  mask: string | undefined,
  sink: IrcSink,
): void {
  if (mask === undefined) return needMore(state, "MODE", sink);
  const nick = maskNick(mask);
  const alias = aliasOf(nick);
  if (alias === null) {
    return sink.irc(state.numeric("401", nick || "*", "No such nick"));
  }
  sink.native(`${command} ${alias}`);
}

/** The native command of each channel mode a client may set. */
const MODE_COMMANDS: Readonly<Record<string, [string, string]>> = {
  o: ["/op", "/deop"],
  b: ["/roomban", "/roomunban"],
};

/**
 * `MODE`: a channel's modes (324) or ban list (367, 368) asked of the
 * session; `+o -o +b -b +k -k +i -i` as its operators' commands; the
 * client's own modes (221, none); 472 for any other mode.
 */
export function mode(
  state: IrcState,
  params: readonly string[],
  sink: IrcSink,
): void {
  const [target = "", changes = "", ...args] = params;
  if (!target.startsWith("#")) {
    // Nicks compare in ASCII case (005's CASEMAPPING=ascii).
    if (target.toLowerCase() === state.nick.toLowerCase()) {
      return sink.irc(state.numeric("221", "+"));
    }
    return sink.irc(state.numeric("502", "Cannot change mode for other users"));
  }
  const room = inRoom(state, target, sink);
  if (room === null) return;
  if (changes === "") {
    if (room === state.settings.defaultRoom) {
      return sink.irc(state.numeric("324", room, "+"));
    }
    // That room's line alone.
    return request(state, { kind: "mode", room }, `/rooms ${room}`, sink);
  }
  // `b` without a mask, in any sign: the list, as servers answer.
  if (/^[+-]?b$/.test(changes) && args.length === 0) {
    // The default room's bans are the server's (`/bans`, operators only).
    if (room === state.settings.defaultRoom) {
      return sink.irc(state.numeric("368", room, "End of channel ban list"));
    }
    return request(state, { kind: "bans", room }, `${room} /roombans`, sink);
  }
  let sign = "+";
  for (const char of changes) {
    if (char === "+" || char === "-") {
      sign = char;
      continue;
    }
    const on = sign === "+";
    if (char === "i") sink.native(`${room} /inviteonly ${on ? "on" : "off"}`);
    else if (char === "k") key(state, room, on, args.shift(), sink);
    else if (Object.hasOwn(MODE_COMMANDS, char)) {
      const command = MODE_COMMANDS[char]![on ? 0 : 1];
      onNick(state, `${room} ${command}`, args.shift(), sink);
    } else {
      sink.irc(state.numeric("472", char, "is an unknown mode char to me"));
    }
  }
}
