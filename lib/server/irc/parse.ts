/**
 * IRC lines as messages and back (RFC 1459 framing with IRCv3 message
 * tags): `@tags :source COMMAND params :trailing`. Pure; it knows nothing
 * of tlschat. Parsing never throws: a line that holds no command is null.
 * What is received is bounded by the caller ({@linkcode IRC_LINE_BYTES}
 * for the part after the tags, {@linkcode IRC_TAG_BYTES} for the tags);
 * what is sent is fitted here ({@linkcode formatIrcLines}).
 *
 * @module
 */

import { byteLength, splitBytes } from "./utf8_parts.ts";

/** Longest IRC line without its tags, CR LF included (RFC 1459). */
export const IRC_LINE_BYTES = 512;

/** Longest tag block a client may send, `@` and its space included (IRCv3). */
export const IRC_TAG_BYTES = 8191;

/** One IRC message. */
export interface IrcMessage {
  /** IRCv3 tags, unescaped (a tag without a value is ""). */
  readonly tags?: Readonly<Record<string, string>>;
  /** The source (`nick!user@host` or a server), without its `:`. */
  readonly source?: string;
  /** The command, upper case, or a three-digit numeric. */
  readonly command: string;
  /** Its parameters, the trailing one included. */
  readonly params: readonly string[];
}

const UNESCAPES: Readonly<Record<string, string>> = {
  ":": ";",
  "s": " ",
  "\\": "\\",
  "r": "\r",
  "n": "\n",
};

/** A tag value with its IRCv3 escapes undone. */
function unescapeTag(value: string): string {
  return value.replace(/\\(.?)/g, (_, c: string) => UNESCAPES[c] ?? c);
}

/** A tag value with `; \ CR LF` and spaces escaped (IRCv3). */
function escapeTag(value: string): string {
  return value.replace(
    /[; \\\r\n]/g,
    (c) =>
      c === ";"
        ? "\\:"
        : c === " "
        ? "\\s"
        : c === "\\"
        ? "\\\\"
        : c === "\r"
        ? "\\r"
        : "\\n",
  );
}

/** The tag block of a line (after `@`), parsed. */
function parseTags(block: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const tag of block.split(";")) {
    if (tag === "") continue;
    const equals = tag.indexOf("=");
    const key = equals === -1 ? tag : tag.slice(0, equals);
    tags[key] = equals === -1 ? "" : unescapeTag(tag.slice(equals + 1));
  }
  return tags;
}

/**
 * The part of a line after its tag block (the whole line when it has none):
 * what the 512-byte limit applies to.
 */
export function withoutTags(line: string): string {
  if (!line.startsWith("@")) return line;
  const space = line.indexOf(" ");
  return space === -1 ? "" : line.slice(space + 1).replace(/^ +/, "");
}

/**
 * Whether a received line (without CR LF) is over IRC's limits: 510 bytes
 * after its tags, {@linkcode IRC_TAG_BYTES} of tags.
 */
export function tooLong(line: string): boolean {
  const body = withoutTags(line);
  return byteLength(body) > IRC_LINE_BYTES - 2 ||
    line.length - body.length > IRC_TAG_BYTES;
}

/**
 * Parses one IRC line (without CR LF); null when it holds no command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIrcLine } from "./parse.ts";
 *
 * assert.deepEqual(parseIrcLine("@time=x :bob!b@h privmsg #ops :hi there"), {
 *   tags: { time: "x" },
 *   source: "bob!b@h",
 *   command: "PRIVMSG",
 *   params: ["#ops", "hi there"],
 * });
 * assert.equal(parseIrcLine("   "), null);
 * ```
 */
export function parseIrcLine(line: string): IrcMessage | null {
  let rest = line;
  let tags: Record<string, string> | undefined;
  let source: string | undefined;
  if (rest.startsWith("@")) {
    const space = rest.indexOf(" ");
    if (space === -1) return null;
    tags = parseTags(rest.slice(1, space));
    rest = rest.slice(space + 1);
  }
  rest = rest.replace(/^ +/, "");
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    if (space === -1) return null;
    source = rest.slice(1, space);
    rest = rest.slice(space + 1);
  }
  const params: string[] = [];
  let command = "";
  while (rest !== "") {
    rest = rest.replace(/^ +/, "");
    if (rest === "") break;
    if (command !== "" && rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const space = rest.indexOf(" ");
    const word = space === -1 ? rest : rest.slice(0, space);
    rest = space === -1 ? "" : rest.slice(space + 1);
    if (command === "") command = word.toUpperCase();
    else params.push(word);
  }
  if (command === "") return null;
  return {
    ...(tags ? { tags } : {}),
    ...(source !== undefined ? { source } : {}),
    command,
    params,
  };
}

/** Commands whose last parameter is text: always sent after a `:`. */
const TEXT_LAST = new Set([
  "PRIVMSG",
  "NOTICE",
  "TOPIC",
  "PART",
  "QUIT",
  "KICK",
  "ERROR",
  "PING",
  "PONG",
]);

/**
 * Formats a message as one line (without CR LF): the last parameter gets a
 * `:` when it is empty, holds a space or starts with `:`, and always when it
 * is text (a numeric's, a `PRIVMSG`'s...), as servers send it. It may be
 * longer than IRC allows: {@linkcode formatIrcLines} fits it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIrcLine } from "./parse.ts";
 *
 * assert.equal(
 *   formatIrcLine({ tags: { time: "T" }, source: "tlschat", command: "001", params: ["bob", "Welcome, bob"] }),
 *   "@time=T :tlschat 001 bob :Welcome, bob",
 * );
 * ```
 */
export function formatIrcLine(message: IrcMessage): string {
  return tagBlock(message) + formatBody(message);
}

/** `@key=value;... ` of a message's tags, or "" when it has none. */
function tagBlock(message: IrcMessage): string {
  const tags = Object.entries(message.tags ?? {});
  if (tags.length === 0) return "";
  return "@" +
    tags.map(([key, value]) =>
      value === "" ? key : `${key}=${escapeTag(value)}`
    ).join(";") + " ";
}

/**
 * A message's line after its tags: what {@linkcode IRC_LINE_BYTES} bounds.
 * A NUL, CR or LF in it (none should get this far: text is sanitised when
 * it is said) becomes U+FFFD, so no text can make a line of its own.
 */
function formatBody(message: IrcMessage): string {
  let out = message.source === undefined ? "" : `:${message.source} `;
  out += message.command;
  const { params, command } = message;
  const text = TEXT_LAST.has(command) || /^[0-9]{3}$/.test(command);
  params.forEach((param, i) => {
    const last = i === params.length - 1;
    const trailing = (text && i > 0) || param === "" || param.includes(" ") ||
      param.startsWith(":");
    if (last && trailing) out += ` :${unbroken(param)}`;
    else out += ` ${last ? unbroken(param) : middle(param)}`;
  });
  return out;
}

/**
 * A parameter before the last as one word: `*` for an empty one, U+FFFD
 * for a space or a leading `:` (what a client sent and a numeric echoes,
 * `PRIVMSG ,bob` or `KICK #a :x y`), which would end the parameters early
 * or shift them, and the client would read the reply wrong.
 */
function middle(param: string): string {
  if (param === "") return "*";
  return unbroken(param).replace(/^:| /g, "\uFFFD");
}

/** NUL, CR and LF: an IRC client ends a line at any of them. */
const LINE_BREAKS = /[\0\r\n]/;
const LINE_BREAKS_ALL = /[\0\r\n]/g;

/** A parameter with every NUL, CR and LF made U+FFFD. */
function unbroken(param: string): string {
  return LINE_BREAKS.test(param)
    ? param.replace(LINE_BREAKS_ALL, "\uFFFD")
    : param;
}

/** Longest line after the tags, without its CR LF. */
const BODY_BYTES = IRC_LINE_BYTES - 2;

/** Commands whose text goes on over several lines; others' is cut. */
const SPLIT_TEXT = new Set(["PRIVMSG", "NOTICE"]);

/** A CTCP message (`\x01ACTION text\x01`): its opening, text, closing. */
// deno-lint-ignore no-control-regex
const CTCP = /^(\x01[A-Z]+ )(.*?)(\x01?)$/s;

/**
 * A message as the lines that carry it to a client (without CR LF), each
 * within {@linkcode IRC_LINE_BYTES} once its tags are set aside: the one
 * owner of that limit for what the door sends. The text of a `PRIVMSG` or
 * `NOTICE` goes on over as many lines as it takes (a CTCP `ACTION` wrapped
 * anew in each), `353` names over several lines, and the last parameter of
 * any other command (a topic, a kick or quit reason) is cut: between
 * characters, never inside one (between graphemes where one fits). What a
 * client sent and is echoed before it (a 421's command) is cut first, to
 * 64 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIrcLines } from "./parse.ts";
 *
 * const lines = formatIrcLines({ command: "TOPIC", params: ["#a", "é".repeat(300)] });
 * assert.equal(lines.length, 1);
 * assert.equal(new TextEncoder().encode(lines[0]).length, 510);
 * assert.deepEqual(
 *   formatIrcLines({ command: "PRIVMSG", params: ["#a", "hi"] }),
 *   ["PRIVMSG #a :hi"],
 * );
 * ```
 */
export function formatIrcLines(whole: IrcMessage): string[] {
  const tags = tagBlock(whole);
  let body = formatBody(whole);
  // Three bytes a UTF-16 unit at most: most lines need no counting.
  if (body.length * 3 <= BODY_BYTES || byteLength(body) <= BODY_BYTES) {
    return [tags + body];
  }
  const message = cutEchoes(whole);
  if (message !== whole) body = formatBody(message);
  if (byteLength(body) <= BODY_BYTES) return [tags + body];
  const init = message.params.slice(0, -1);
  const last = unbroken(message.params.at(-1) ?? "");
  const budget = BODY_BYTES - (byteLength(body) - byteLength(last));
  if (budget <= 0) return [tags + body]; // no parameter to shorten
  return fitLast(message, last, budget).map((param, part) =>
    (part === 0 ? tags : partTags(whole, part)) +
    formatBody({ ...message, params: [...init, param] })
  );
}

/**
 * The tags of a message's further line `part` (from 1): its `msgid` made
 * its own (`ID-part2`, ...), as every message's must be: a client that
 * drops a message whose id it has seen would drop the rest of the text.
 */
function partTags(whole: IrcMessage, part: number): string {
  const msgid = whole.tags?.msgid;
  if (msgid === undefined) return tagBlock(whole);
  return tagBlock({
    ...whole,
    tags: { ...whole.tags, msgid: `${msgid}-part${part + 1}` },
  });
}

/** The last parameter as one or more that fit in `budget` bytes. */
function fitLast(message: IrcMessage, last: string, budget: number) {
  if (message.command === "353") return splitWords(last, budget);
  if (!SPLIT_TEXT.has(message.command)) return [splitBytes(last, budget)[0]!];
  const [, open = "", text = last, close = ""] = CTCP.exec(last) ?? [];
  const room = Math.max(1, budget - byteLength(open + close));
  return splitBytes(text, room).map((part) => open + part + close);
}

/**
 * Longest parameter kept before the last one of a line that does not fit:
 * longer ones are what a client sent, echoed back (a 421's command, a 432's
 * nick, a 315's mask), and are cut to it. The door's own (nicks, channels,
 * numbers) are shorter.
 */
const ECHO_BYTES = 64;

/** The message with each parameter but the last cut to ECHO_BYTES. */
function cutEchoes(message: IrcMessage): IrcMessage {
  const { params } = message;
  const last = params.length - 1;
  if (!params.some((param, i) => i < last && param.length > ECHO_BYTES / 3)) {
    return message; // most lines: no counting
  }
  return {
    ...message,
    params: params.map((param, i) =>
      i < last && byteLength(param) > ECHO_BYTES
        ? splitBytes(param, ECHO_BYTES)[0]!
        : param
    ),
  };
}

/** Space-separated words in runs of at most `budget` bytes. */
function splitWords(text: string, budget: number): string[] {
  const runs: string[] = [];
  for (const word of text.split(" ")) {
    const run = runs.at(-1);
    if (run !== undefined && byteLength(`${run} ${word}`) <= budget) {
      runs[runs.length - 1] = `${run} ${word}`;
    } else runs.push(word);
  }
  return runs;
}
