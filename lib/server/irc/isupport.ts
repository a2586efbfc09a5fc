/**
 * What the IRC door's 005 (ISUPPORT) says, each length one the door holds
 * to: `NICKLEN` and `CHANNELLEN` the longest nick and channel it takes
 * (`names.ts`); `TOPICLEN` the longest topic that every line carrying one
 * (`TOPIC`, 332) holds whole within IRC's 512 bytes, for the longest nick
 * and channel and this server's name, which is also where the door cuts a
 * topic an IRC client sets; `KICKLEN` likewise for a kick's reason
 * (`KICK`); `CHANLIMIT` and `MAXLIST` (the door's settings) the limits the
 * session enforces; `TARGMAX` the targets each command takes. No
 * `AWAYLEN`: the door has no away state (`AWAY` is 421). Pure.
 *
 * @module
 */

import { sanitizeText } from "../../text.ts";
import { CHANNEL_LENGTH, NICK_LENGTH } from "./names.ts";
import { formatIrcLine, IRC_LINE_BYTES, type IrcMessage } from "./parse.ts";
import { type IrcSettings, MEMBER_HOST } from "./state.ts";
import { byteLength, splitBytes } from "./utf8_parts.ts";

/** The longest nick the door takes: a backtick, a digit and 31 more. */
const LONGEST_NICK = "`" + "9".repeat(NICK_LENGTH - 1);

/** The longest channel the door takes. */
const LONGEST_CHANNEL = "#" + "c".repeat(CHANNEL_LENGTH - 1);

/** The longest member's source, `nick!nick@tlschat`. */
const LONGEST_SOURCE = `${LONGEST_NICK}!${LONGEST_NICK}@${MEMBER_HOST}`;

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
  return Math.min(
    roomLeft({
      source: LONGEST_SOURCE,
      command: "TOPIC",
      params: [LONGEST_CHANNEL, ""],
    }),
    roomLeft({
      source: server,
      command: "332",
      params: [LONGEST_NICK, LONGEST_CHANNEL, ""],
    }),
  );
}

/**
 * The longest kick reason (in bytes) every client gets whole from a server
 * named `server`, in `KICK #channel nick :` from an operator
 * (`nick!nick@tlschat`) or from the server (a ban), with the longest nick
 * and channel: 359 (a server name is at most 64 characters).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kickBytes } from "./isupport.ts";
 *
 * assert.equal(kickBytes("tlschat"), 359);
 * ```
 */
export function kickBytes(server: string): number {
  const params = [LONGEST_CHANNEL, LONGEST_NICK, ""];
  return Math.min(
    roomLeft({ source: LONGEST_SOURCE, command: "KICK", params }),
    roomLeft({ source: server, command: "KICK", params }),
  );
}

/**
 * Text an IRC client sets, sanitised as the session will (a control
 * character becomes U+FFFD, three bytes) and cut to `most` bytes between
 * graphemes, as IRC servers cut what is over their `TOPICLEN`/`KICKLEN`:
 * what it set is what every IRC client then sees.
 */
function fit(text: string, most: number): string {
  const clean = sanitizeText(text);
  return byteLength(clean) <= most ? clean : splitBytes(clean, most)[0]!;
}

/** A topic an IRC client sets, fitted to {@linkcode topicBytes}. */
export function fitTopic(text: string, server: string): string {
  return fit(text, topicBytes(server));
}

/** A kick reason an IRC client gives, fitted to {@linkcode kickBytes}. */
export function fitKick(text: string, server: string): string {
  return fit(text, kickBytes(server));
}

/**
 * How many targets a command takes (none said: any number, each taking a
 * flood token as a line of its own): `PRIVMSG`, `NOTICE`, `JOIN`, `PART`,
 * `NAMES` and `KICK` (nicks; as many channels as pair up) take a
 * comma-separated list (`inbound.ts`), `WHOIS` one nick (the last
 * parameter).
 */
export const TARGMAX =
  "TARGMAX=JOIN:,KICK:,NAMES:,NOTICE:,PART:,PRIVMSG:,WHOIS:1";

/** The tokens of 005, in order (`are supported by this server` follows). */
export function isupportTokens(settings: IrcSettings): string[] {
  return [
    "CHANTYPES=#",
    "PREFIX=(o)@",
    "CASEMAPPING=ascii",
    `NICKLEN=${NICK_LENGTH}`,
    `CHANNELLEN=${CHANNEL_LENGTH}`,
    `TOPICLEN=${topicBytes(settings.server)}`,
    `KICKLEN=${kickBytes(settings.server)}`,
    ...settings.isupport,
    "CHANMODES=b,k,,i",
    "NETWORK=tlschat",
    TARGMAX,
  ];
}
