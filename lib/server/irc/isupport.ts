/**
 * What the IRC door's 005 (ISUPPORT) says, each length one the door holds
 * to: `NICKLEN` and `CHANNELLEN` the longest nick and channel it takes
 * (`names.ts`); `TOPICLEN` the longest topic that every line carrying one
 * (`TOPIC`, 332) holds whole within IRC's 512 bytes, for the longest nick
 * and channel and this server's name, which is also where the door cuts a
 * topic an IRC client sets; `CHANLIMIT` and `MAXLIST` (the door's settings)
 * the limits the session enforces. Pure.
 *
 * @module
 */

import { CHANNEL_LENGTH, NICK_LENGTH } from "./names.ts";
import { formatIrcLine, IRC_LINE_BYTES, type IrcMessage } from "./parse.ts";
import { type IrcSettings, MEMBER_HOST } from "./state.ts";
import { byteLength, splitBytes } from "./utf8_parts.ts";

/** The longest nick the door takes: a backtick, a digit and 31 more. */
const LONGEST_NICK = "`" + "9".repeat(NICK_LENGTH - 1);

/** The longest channel the door takes. */
const LONGEST_CHANNEL = "#" + "c".repeat(CHANNEL_LENGTH - 1);

/** Bytes a line leaves its empty last parameter, CR LF counted. */
function roomLeft(message: IrcMessage): number {
  return IRC_LINE_BYTES - 2 - byteLength(formatIrcLine(message));
}

/**
 * The longest topic (in bytes) every client gets whole from a server named
 * `server`: in a member's `TOPIC` (`:nick!nick@tlschat TOPIC #channel :`)
 * and in 332 (`:server 332 nick #channel :`), with the longest nick and
 * channel in each. (322, in `LIST`, carries the member count too: with a
 * server name of over 30 characters it may cut a topic a few bytes shorter.)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicBytes } from "./isupport.ts";
 *
 * assert.equal(topicBytes("tlschat"), 392); // TOPIC's source is the longer
 * assert.equal(topicBytes("x".repeat(64)), 371); // 332's is
 * ```
 */
export function topicBytes(server: string): number {
  const source = `${LONGEST_NICK}!${LONGEST_NICK}@${MEMBER_HOST}`;
  return Math.min(
    roomLeft({ source, command: "TOPIC", params: [LONGEST_CHANNEL, ""] }),
    roomLeft({
      source: server,
      command: "332",
      params: [LONGEST_NICK, LONGEST_CHANNEL, ""],
    }),
  );
}

/**
 * A topic an IRC client sets, cut to {@linkcode topicBytes} (between
 * graphemes), as IRC servers cut one over their `TOPICLEN`: what it set
 * is what every IRC client then sees.
 */
export function fitTopic(text: string, server: string): string {
  const most = topicBytes(server);
  return byteLength(text) <= most ? text : splitBytes(text, most)[0]!;
}

/** The tokens of 005, in order (`are supported by this server` follows). */
export function isupportTokens(settings: IrcSettings): string[] {
  return [
    "CHANTYPES=#",
    "PREFIX=(o)@",
    "CASEMAPPING=ascii",
    `NICKLEN=${NICK_LENGTH}`,
    `CHANNELLEN=${CHANNEL_LENGTH}`,
    `TOPICLEN=${topicBytes(settings.server)}`,
    ...settings.isupport,
    "CHANMODES=b,k,,i",
    "NETWORK=tlschat",
  ];
}
