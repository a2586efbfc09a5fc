/**
 * A joined client's lines, parsed: chat or command (one rule, for text and
 * for bytes), the commands, durations (their `/help` is `command_help.ts`'s).
 * Pure, like the rest of the wire format (`protocol.ts`): a bad command is
 * a {@linkcode ProtocolError} with its usage, never a crash.
 *
 * @module
 */

import { isBlank, sanitizeText } from "./text.ts";
import { HISTORY_REQUEST_LIMIT, ProtocolError } from "./protocol.ts";
import { parseResumeArgs, type ResumeRequest } from "./resume.ts";

/** A line from a joined client, parsed. Text fields are already sanitised. */
export type Command =
  /** A chat line; `notice`: `/notice TEXT` (never to be answered). */
  | { readonly kind: "say"; readonly text: string; readonly notice?: true }
  | { readonly kind: "me"; readonly text: string }
  /** `/msg`; `notice`: `/privnotice ALIAS TEXT`. */
  | {
    readonly kind: "msg";
    readonly to: string;
    readonly text: string;
    readonly notice?: true;
  }
  | { readonly kind: "nick"; readonly alias: string }
  | { readonly kind: "who" }
  | { readonly kind: "help" }
  | { readonly kind: "pong" }
  | { readonly kind: "quit"; readonly reason: string }
  /** Past messages; `count` null: the room's usual amount. */
  | { readonly kind: "history"; readonly count: number | null }
  | { readonly kind: "topic"; readonly text: string }
  | { readonly kind: "kick"; readonly target: string; readonly reason: string }
  | {
    readonly kind: "ban" | "mute";
    readonly target: string;
    /** How long; null: until lifted. */
    readonly durationMs: number | null;
    readonly reason: string;
  }
  | { readonly kind: "unban" | "unmute"; readonly target: string }
  | { readonly kind: "bans" }
  /** `/join #room [KEY]`: `room` as typed (checked where it is used). */
  | { readonly kind: "join"; readonly room: string; readonly key: string }
  /** `/part [#room] [REASON]`; `room` null: the current room. */
  | {
    readonly kind: "part";
    readonly room: string | null;
    readonly reason: string;
  }
  /** `/rooms [#room]`: `room` as typed (checked where it is used); null: all. */
  | { readonly kind: "rooms"; readonly room: string | null }
  | { readonly kind: "roombans" | "register" }
  | {
    readonly kind: "roomban";
    readonly target: string;
    readonly durationMs: number | null;
    readonly reason: string;
  }
  | {
    readonly kind: "roomunban" | "op" | "deop" | "invite";
    readonly target: string;
  }
  /** `/key KEY`; `key` null: `/key -` (no key). */
  | { readonly kind: "key"; readonly key: string | null }
  | { readonly kind: "inviteonly"; readonly on: boolean }
  /** `/read [#room] SEQ`; `room` null: the current room. */
  | {
    readonly kind: "read";
    readonly room: string | null;
    readonly seq: number;
  }
  /** Capabilities asked for (before the alias); unknown names included. */
  | { readonly kind: "cap"; readonly names: readonly string[] }
  /** `/search WORDS`: at most `SEARCH_MAX_WORDS`, `SEARCH_MAX_BYTES`. */
  | { readonly kind: "search"; readonly words: readonly string[] }
  /** Where the client was (before the alias, capability `resume`). */
  | { readonly kind: "resume"; readonly request: ResumeRequest }
  /** A password the server asked for; never sanitised, never forwarded. */
  | { readonly kind: "pass"; readonly password: string };

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `30s`, `10m`, `2h`, `7d` or `4w` into
 * milliseconds; null when `text` is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./commands.ts";
 *
 * assert.equal(parseDuration("10m"), 600_000);
 * assert.equal(parseDuration("spam"), null);
 * ```
 */
export function parseDuration(text: string): number | null {
  const match = /^(\d{1,6})([smhdw])$/.exec(text);
  return match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : null;
}

const SLASH = 0x2f;

/**
 * Whether a line from a joined client is a command: it starts with `/`,
 * but not with `//` (which escapes a chat line starting with `/`). The one
 * rule, for a line's text and for its bytes before they are decoded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCommand } from "./commands.ts";
 *
 * assert.equal(isCommand("/who"), true);
 * assert.equal(isCommand("//etc"), false);
 * assert.equal(isCommand(new TextEncoder().encode("/me waves")), true);
 * ```
 */
export function isCommand(line: string | Uint8Array): boolean {
  return typeof line === "string"
    ? line.startsWith("/") && !line.startsWith("//")
    : line[0] === SLASH && line[1] !== SLASH;
}

/**
 * Parses one line from a joined client. A line that does not start with `/`
 * (or starts with `//`) is a chat message; otherwise it is a command. Throws
 * a {@linkcode ProtocolError} for an unknown command or a missing argument.
 *
 * @example Chat lines, commands and escaping
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCommand } from "./commands.ts";
 *
 * assert.deepEqual(parseCommand("hello"), { kind: "say", text: "hello" });
 * assert.deepEqual(parseCommand("//etc"), { kind: "say", text: "/etc" });
 * assert.deepEqual(parseCommand("/msg bob hi there"), {
 *   kind: "msg",
 *   to: "bob",
 *   text: "hi there",
 * });
 * ```
 */
export function parseCommand(line: string): Command {
  if (!isCommand(line)) {
    const text = sanitizeText(line.startsWith("//") ? line.slice(1) : line);
    return { kind: "say", text: isBlank(text) ? "" : text };
  }
  const space = line.indexOf(" ");
  const name = (space === -1 ? line.slice(1) : line.slice(1, space))
    .toLowerCase();
  if (name === "pass") {
    // Exactly what follows the space: a password is compared, not shown.
    if (space === -1) throw usage("/pass PASSWORD");
    return { kind: "pass", password: line.slice(space + 1) };
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    throw new ProtocolError(
      "unknown-command",
      `Unknown command "/${
        sanitizeText(name)
      }": type /help for the list, or start the line with // to send it as text`,
    );
  }
  return COMMANDS[name]!(space === -1 ? "" : shown(line.slice(space + 1)));
}

/** What a chat line says: a message (`MSG`), or a notice (`/notice`). */
export function saying(command: { readonly notice?: true }): "MSG" | "NOTICE" {
  return command.notice ? "NOTICE" : "MSG";
}

/** `/msg`'s (and `/privnotice`'s) target and text, or `usage`. */
function privateLine(rest: string, usageText: string): Command & {
  kind: "msg";
} {
  const [to = "", ...words] = rest.split(" ");
  const text = shown(words.join(" "));
  if (to === "" || text === "") throw usage(usageText);
  return { kind: "msg", to, text };
}

/**
 * Every command but `/pass`, by name: what its arguments (`rest`, shown
 * text) make of it, or the usage error when they are missing.
 */
const COMMANDS: Readonly<Record<string, (rest: string) => Command>> = {
  me: (rest) => ({ kind: "me", text: required(rest, "/me ACTION") }),
  msg: (rest) => privateLine(rest, "/msg ALIAS TEXT"),
  notice: (rest) => ({
    kind: "say",
    text: required(rest, "/notice TEXT"),
    notice: true,
  }),
  privnotice: (rest) => ({
    ...privateLine(rest, "/privnotice ALIAS TEXT"),
    notice: true,
  }),
  nick: (rest) => ({ kind: "nick", alias: required(rest, "/nick NEW") }),
  who: () => ({ kind: "who" }),
  help: () => ({ kind: "help" }),
  pong: () => ({ kind: "pong" }),
  quit: (rest) => ({ kind: "quit", reason: rest }),
  history: (rest) => {
    if (rest === "") return { kind: "history", count: null };
    if (!/^\d{1,6}$/.test(rest) || Number(rest) === 0) {
      throw usage(`/history [N] (N from 1 to ${HISTORY_REQUEST_LIMIT})`);
    }
    return {
      kind: "history",
      count: Math.min(Number(rest), HISTORY_REQUEST_LIMIT),
    };
  },
  topic: (rest) => ({ kind: "topic", text: rest }),
  kick: (rest) => {
    const [target = "", ...words] = rest.split(" ");
    if (target === "") throw usage("/kick ALIAS [REASON]");
    return { kind: "kick", target, reason: shown(words.join(" ")) };
  },
  ban: (rest) => sanction("ban", "ALIAS|ADDRESS[/PREFIX]", rest),
  mute: (rest) => sanction("mute", "ALIAS", rest),
  unban: (rest) => lift("unban", "ALIAS|ADDRESS[/PREFIX]", rest),
  unmute: (rest) => lift("unmute", "ALIAS", rest),
  bans: () => ({ kind: "bans" }),
  join: (rest) => {
    const [room = "", key = ""] = rest.split(" ");
    if (room === "") throw usage("/join #ROOM [KEY]");
    return { kind: "join", room, key };
  },
  part: (rest) => {
    const [first = "", ...words] = rest.split(" ");
    const named = first.startsWith("#");
    return {
      kind: "part",
      room: named ? first : null,
      reason: shown((named ? words : [first, ...words]).join(" ")),
    };
  },
  rooms: (rest) => ({ kind: "rooms", room: rest.split(" ")[0] || null }),
  roombans: () => ({ kind: "roombans" }),
  register: () => ({ kind: "register" }),
  roomban: (rest) => {
    const banned = sanction("ban", "ALIAS", rest);
    return { ...banned, kind: "roomban" } as Command;
  },
  roomunban: (rest) => target("roomunban", rest),
  op: (rest) => target("op", rest),
  deop: (rest) => target("deop", rest),
  invite: (rest) => target("invite", rest),
  key: (rest) => {
    const key = required(rest.split(" ")[0] ?? "", "/key KEY|-");
    return { kind: "key", key: key === "-" ? null : key };
  },
  inviteonly: (rest) => {
    if (rest !== "on" && rest !== "off") throw usage("/inviteonly on|off");
    return { kind: "inviteonly", on: rest === "on" };
  },
  search: (rest) => ({ kind: "search", words: searchWords(rest) }),
  read: (rest) => {
    const words = rest.split(" ");
    const room = words.length === 2 ? words[0]! : null;
    const seq = words.at(-1)!;
    if (
      words.length > 2 || (room !== null && !room.startsWith("#")) ||
      !/^\d{1,15}$/.test(seq)
    ) throw usage("/read [#ROOM] SEQ");
    return { kind: "read", room, seq: Number(seq) };
  },
  cap: (rest) => {
    const names = rest.split(" ").filter((name) => name !== "");
    if (names.length === 0) throw usage("/cap NAME [NAME ...]");
    return { kind: "cap", names };
  },
  resume: (rest) => ({ kind: "resume", request: parseResumeArgs(rest) }),
};

/** The name of every command the server knows, but `/pass` (`/help` names those a person types). */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** Most bytes of a `/search`'s words (spaces between them included). */
export const SEARCH_MAX_BYTES = 200;

/**
 * Most words of a `/search`, counted as the search index splits them (its
 * tokens: `don't` and `a.b` are two each), since each costs the index a
 * pass over that word's lines: a "word" of a hundred one-letter parts
 * cost it about 100 times a common search.
 */
export const SEARCH_MAX_WORDS = 8;

/**
 * The characters of a word the search index keeps (FTS5 `unicode61`):
 * letters, digits and private use, as its tables (Unicode 6.1) say, so
 * without the 21 letters that were spacing marks there (New Tai Lue's vowel
 * signs U+19B0-U+19C0, U+19C8, U+19C9; U+1CF2, U+1CF3), which the index
 * takes for separators: a word joined by them is many parts to it.
 */
export const SEARCH_TOKEN_CHARACTER =
  /[[\p{L}\p{N}\p{Co}]--[\u19B0-\u19C0\u19C8\u19C9\u1CF2\u1CF3]]/v;

/** Runs of {@linkcode SEARCH_TOKEN_CHARACTER}: the parts the index makes. */
export const SEARCH_TOKENS = new RegExp(
  `${SEARCH_TOKEN_CHARACTER.source}+`,
  "gv",
);

/** The words of `/search WORDS`, within its limits. */
function searchWords(rest: string): string[] {
  const words = rest.split(/\s+/).filter((word) => word !== "");
  const bytes = new TextEncoder().encode(words.join(" ")).length;
  const tokens = words.join(" ").match(SEARCH_TOKENS)?.length ?? 0;
  if (
    words.length === 0 || tokens > SEARCH_MAX_WORDS ||
    bytes > SEARCH_MAX_BYTES
  ) {
    throw usage(
      `/search WORDS (1 to ${SEARCH_MAX_WORDS} words, parts of words counted: "don't" is 2; at most ${SEARCH_MAX_BYTES} bytes)`,
    );
  }
  return words;
}

/** `/ban` or `/mute TARGET [DURATION] [REASON]`. */
function sanction(
  kind: "ban" | "mute",
  target: string,
  rest: string,
): Command {
  const [who = "", first = "", ...words] = rest.split(" ");
  if (who === "") throw usage(`/${kind} ${target} [DURATION] [REASON]`);
  const durationMs = parseDuration(first);
  // "1y", "10min", "5": meant as one, not the reason of a sanction until
  // lifted ("2nd warning" is a reason).
  if (durationMs === null && /^\d+(?!st$|nd$|rd$|th$)[a-z]*$/i.test(first)) {
    throw usage(
      `/${kind} ${target} [DURATION] [REASON] (DURATION: 30s, 10m, 2h, 7d or 4w)`,
    );
  }
  const reason = shown(
    (durationMs === null ? [first, ...words] : words).join(" "),
  );
  return { kind, target: who, durationMs, reason };
}

/** A command that names one alias. */
function target(
  kind: "roomunban" | "op" | "deop" | "invite",
  rest: string,
): Command {
  return { kind, target: required(rest.split(" ")[0] ?? "", `/${kind} ALIAS`) };
}

/** The commands that need the `rooms` capability. */
export const ROOM_COMMANDS: ReadonlySet<Command["kind"]> = new Set([
  "join",
  "part",
  "rooms",
  "roomban",
  "roomunban",
  "roombans",
  "op",
  "deop",
  "key",
  "invite",
  "inviteonly",
  "register",
]);

/** `/unban` or `/unmute TARGET`. */
function lift(kind: "unban" | "unmute", target: string, rest: string): Command {
  return {
    kind,
    target: required(rest.split(" ")[0] ?? "", `/${kind} ${target}`),
  };
}

/**
 * Text as it may be shown: sanitised, trimmed, and empty when nothing of it
 * would show (only spaces, invisible or filler characters).
 */
function shown(text: string): string {
  const clean = sanitizeText(text).trim();
  return isBlank(clean) ? "" : clean;
}

function required(value: string, form: string): string {
  if (value === "") throw usage(form);
  return value;
}

function usage(form: string): ProtocolError {
  return new ProtocolError("usage", `Usage: ${form}`);
}
