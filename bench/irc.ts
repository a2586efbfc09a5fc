/**
 * The IRC the benchmark's load speaks for its IRC members (scenario ci):
 * the registration it sends, the `JOIN` that ends it, its messages as
 * `PRIVMSG`, and where a received `PRIVMSG`'s text starts, found in the
 * bytes without decoding them. Pure.
 *
 * @module
 */

import { parseIrcLine } from "../lib/server/irc/parse.ts";

/**
 * What an IRC member sends on connecting, at once: capabilities (the time
 * of each line, its own lines echoed, tags), its nick, and the end of
 * negotiation. The server answers 001 to 005, then the default room's
 * `JOIN`.
 */
export function ircRegistration(nick: string): string {
  return "CAP LS 302\r\n" +
    "CAP REQ :server-time echo-message message-tags\r\n" +
    `NICK ${nick}\r\nUSER ${nick} 0 * :${nick}\r\nCAP END\r\n`;
}

/**
 * The channel `nick` joined, if `line` (CR LF taken off or not) is its own
 * `JOIN`; else null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinedChannel } from "./irc.ts";
 *
 * assert.equal(joinedChannel(":m9!m9@tlschat JOIN #lobby\r", "m9"), "#lobby");
 * assert.equal(joinedChannel(":m8!m8@tlschat JOIN #lobby", "m9"), null);
 * ```
 */
export function joinedChannel(line: string, nick: string): string | null {
  const message = parseIrcLine(line.replace(/\r$/, ""));
  if (message?.command !== "JOIN") return null;
  if (message.source?.split("!")[0] !== nick) return null;
  return message.params[0] ?? null;
}

/** `text`'s lines (each ending in LF) as `PRIVMSG`s to `channel`. */
export function privmsgs(channel: string, text: string): string {
  let out = "";
  for (const line of text.split("\n")) {
    if (line !== "") out += `PRIVMSG ${channel} :${line}\r\n`;
  }
  return out;
}

const AT = 0x40;
const COLON = 0x3a;
const SPACE = 0x20;
const PRIVMSG = new TextEncoder().encode("PRIVMSG ");

/**
 * Where the text of the `PRIVMSG` in `line[start, end)` starts (after its
 * tags, source, command, target and `:`); -1 when the line is no
 * `PRIVMSG` with a trailing text. Reads bytes only: it runs for every
 * line an IRC member receives.
 */
export function privmsgText(
  line: Uint8Array,
  start: number,
  end: number,
): number {
  let at = start;
  // Past the tags and the source: a space that is not there is past `end`.
  if (line[at] === AT) at = afterSpace(line, at, end);
  if (line[at] === COLON) at = afterSpace(line, at, end);
  if (end - at < PRIVMSG.length) return -1;
  for (let i = 0; i < PRIVMSG.length; i++) {
    if (line[at + i] !== PRIVMSG[i]) return -1;
  }
  const space = line.indexOf(SPACE, at + PRIVMSG.length);
  if (space === -1 || space + 1 >= end || line[space + 1] !== COLON) return -1;
  return space + 2;
}

/** The index after the first space of `line[from, end)`; `end` if none. */
function afterSpace(line: Uint8Array, from: number, end: number): number {
  const space = line.indexOf(SPACE, from);
  return space === -1 || space >= end ? end : space + 1;
}
