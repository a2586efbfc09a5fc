/**
 * The text of `/help`, one source for every client: the commands a person
 * types, each line for every client or only for one with (or without) the
 * `rooms` capability. Pure; what clients send by themselves (`/read`,
 * `/cap`, `/resume`, `/pass`) is docs/protocol.md's, not here.
 *
 * @module
 */

import { HISTORY_REQUEST_LIMIT } from "./protocol.ts";

/**
 * One line of `/help`: its text, and (`rooms`) whether it is only for a
 * client with the `rooms` capability (true) or only for one without it
 * (false); absent, for every client.
 */
export interface HelpLine {
  readonly text: string;
  readonly rooms?: boolean;
}

/**
 * The commands a person types and their one-line help, in the order `/help`
 * lists them (what clients send by themselves, such as `/read`, `/cap`,
 * `/resume` and `/pass`, is in docs/protocol.md instead): the one source of
 * `/help`, for every client ({@linkcode commandHelp}).
 */
export const COMMAND_HELP: readonly HelpLine[] = [
  { text: "/nick NEW: change your alias" },
  { text: "/who: list who is online", rooms: false },
  { text: "/who: list who is in the room", rooms: true },
  { text: "/me ACTION: say that you do something" },
  { text: "/msg ALIAS TEXT: send TEXT to ALIAS only" },
  {
    text:
      "/notice TEXT, /privnotice ALIAS TEXT: a message or a /msg marked as never to be answered (for bots)",
  },
  { text: "/quit [REASON]: leave the server", rooms: false },
  {
    text: "/quit [REASON]: leave the server, and every room with it",
    rooms: true,
  },
  {
    text:
      `/history [N]: show the last N messages (at most ${HISTORY_REQUEST_LIMIT})`,
  },
  { text: "/topic: show the topic" },
  {
    text:
      "/search WORDS: find earlier messages holding every word, in your rooms",
  },
  { text: "/help: show this help" },
  {
    text:
      "Any other line is a message to everyone; start it with // to send a line that begins with /",
    rooms: false,
  },
  {
    text:
      "Any other line is a message to the room; start it with // to send a line that begins with /",
    rooms: true,
  },
  {
    text:
      "Rooms: /join #ROOM [KEY], /part [#ROOM] [REASON], /rooms [#ROOM]; start a line with #ROOM to send it there",
    rooms: true,
  },
  {
    text:
      "Room operators, in their room: /topic TEXT, /kick ALIAS [REASON], /mute ALIAS [DURATION] [REASON], /unmute ALIAS, /roomban ALIAS [DURATION] [REASON], /roomunban ALIAS, /roombans, /op ALIAS, /deop ALIAS, /key KEY|-, /invite ALIAS, /inviteonly on|off, /register",
  },
  {
    text:
      "Server operators, in every room: the above, and /ban ALIAS|ADDRESS[/PREFIX] [DURATION] [REASON], /unban ALIAS|ADDRESS[/PREFIX], /bans (server-wide; DURATION: 30s, 10m, 2h, 7d, 4w; none: until lifted)",
  },
];

/**
 * The lines of `/help` for a client with (`roomsOn`) or without the
 * `rooms` capability.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { commandHelp } from "./command_help.ts";
 *
 * assert.ok(commandHelp(true).some((line) => line.startsWith("Rooms: /join")));
 * assert.ok(!commandHelp(false).some((line) => line.includes("/join")));
 * ```
 */
export function commandHelp(roomsOn: boolean): string[] {
  return COMMAND_HELP.filter((line) => (line.rooms ?? roomsOn) === roomsOn)
    .map((line) => line.text);
}
