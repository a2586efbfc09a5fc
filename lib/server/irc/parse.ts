/**
 * IRC lines as messages and back (RFC 1459 framing with IRCv3 message
 * tags): `@tags :source COMMAND params :trailing`. Pure; it knows nothing
 * of tlschat. Parsing never throws: a line that holds no command is null.
 * Limits are the caller's: {@linkcode IRC_LINE_BYTES} for the part after
 * the tags, {@linkcode IRC_TAG_BYTES} for the tags.
 *
 * @module
 */

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
 * is text (a numeric's, a `PRIVMSG`'s...), as servers send it.
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
  let out = "";
  const tags = Object.entries(message.tags ?? {});
  if (tags.length > 0) {
    out = "@" + tags.map(([key, value]) =>
      value === "" ? key : `${key}=${escapeTag(value)}`
    ).join(";") + " ";
  }
  if (message.source !== undefined) out += `:${message.source} `;
  out += message.command;
  const { params, command } = message;
  const text = TEXT_LAST.has(command) || /^[0-9]{3}$/.test(command);
  params.forEach((param, i) => {
    const last = i === params.length - 1;
    const trailing = (text && i > 0) || param === "" || param.includes(" ") ||
      param.startsWith(":");
    out += last && trailing ? ` :${param}` : ` ${param}`;
  });
  return out;
}

/**
 * Text cut into parts of at most `maxBytes` UTF-8 bytes, never inside a
 * character.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitBytes } from "./parse.ts";
 *
 * assert.deepEqual(splitBytes("abcdé", 5), ["abcd", "é"]);
 * ```
 */
export function splitBytes(text: string, maxBytes: number): string[] {
  const parts: string[] = [];
  let part = "";
  let bytes = 0;
  for (const char of text) {
    const size = char.length === 2
      ? 4
      : char.charCodeAt(0) < 0x80
      ? 1
      : char.charCodeAt(0) < 0x800
      ? 2
      : 3;
    if (bytes + size > maxBytes && part !== "") {
      parts.push(part);
      part = "";
      bytes = 0;
    }
    part += char;
    bytes += size;
  }
  if (part !== "" || parts.length === 0) parts.push(part);
  return parts;
}
