/**
 * The tlschat wire protocol, implemented once, from the client's side:
 * alias rules, capabilities, line ids, and client command parsing (one
 * table of commands). What the server sends (its lines, the greeting's
 * parameters) is `server_lines.ts`. `docs/protocol.md` is their written
 * form; they must agree. Everything here is pure (no I/O) and works on
 * decoded lines: framing bytes into lines is `framing.ts`'s job, making
 * text safe is `text.ts`'s.
 *
 * @module
 */

import { isBlank, sanitizeText } from "./text.ts";
import { formatServerLine, type ServerLine } from "./server_lines.ts";

/** Protocol name and version sent in the greeting. */
export const PROTOCOL = "tlschat/1";

/** Longest alias, in characters. */
export const MAX_ALIAS_LENGTH = 32;

/** Aliases nobody may take (compared case-insensitively). */
export const RESERVED_ALIASES: ReadonlySet<string> = new Set([
  "admin",
  "everyone",
  "nobody",
  "operator",
  "root",
  "server",
  "system",
]);

/** At most this many aliases are listed in one `WHO` line. */
export const WHO_LIST_LIMIT = 100;

/** Most history lines one `/history N` asks for. */
export const HISTORY_REQUEST_LIMIT = 500;

/**
 * The capabilities a server offers (listed in the greeting's `caps`), by
 * name, with what each one turns on for a connection whose client asks for
 * it with `/cap NAME` before its alias. A client that asks for none sees
 * the protocol without any. A new capability is one more row here.
 */
export const CAPABILITIES = {
  ids:
    "chat lines and actions may start with @id=ID; its echo, and any ERR refusing it, carry that id",
} as const satisfies Record<string, string>;

/** The name of a capability. */
export type Capability = keyof typeof CAPABILITIES;

/** Whether `name` is a capability this server offers. */
export function isCapability(name: string): name is Capability {
  return Object.hasOwn(CAPABILITIES, name);
}

/** What starts a line that carries a line id (capability `ids`). */
export const LINE_ID_PREFIX = "@id=";

const LINE_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * Whether `id` is a well-formed line id: 16 to 64 characters of
 * `A-Z a-z 0-9 _ -` (a client should use 128 random bits in base64url).
 */
export function isLineId(id: string): boolean {
  return LINE_ID_PATTERN.test(id);
}

/** A line with its `@id=ID ` prefix taken off. */
export interface SplitLine {
  /** The line's id; null when the line has no prefix. */
  readonly id: string | null;
  /** What follows the prefix (the whole line when there is none). */
  readonly rest: string;
}

/**
 * Takes the `@id=ID ` prefix off a line (from a client with the `ids`
 * capability, or from the server to it). Throws a
 * {@linkcode ProtocolError} (`usage`) when the line starts with `@id=` but
 * the id is not well formed; any other line, `@` or not, has no id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitLineId } from "./protocol.ts";
 *
 * assert.deepEqual(splitLineId("@id=Qm9vb3Rz_-0123456 hi all"), {
 *   id: "Qm9vb3Rz_-0123456",
 *   rest: "hi all",
 * });
 * assert.deepEqual(splitLineId("@bob hi"), { id: null, rest: "@bob hi" });
 * assert.throws(() => splitLineId("@id=short hi"), /Usage: @id=ID/);
 * ```
 */
export function splitLineId(line: string): SplitLine {
  if (!line.startsWith(LINE_ID_PREFIX)) return { id: null, rest: line };
  const space = line.indexOf(" ");
  const id = line.slice(
    LINE_ID_PREFIX.length,
    space === -1 ? undefined : space,
  );
  if (!isLineId(id)) {
    throw usage(
      "@id=ID TEXT, where ID is 16 to 64 letters, digits, _ and -",
    );
  }
  return { id, rest: space === -1 ? "" : line.slice(space + 1) };
}

/** A line with the `@id=ID ` prefix put on (`id` well formed). */
export function tagLine(id: string, line: string): string {
  return `${LINE_ID_PREFIX}${id} ${line}`;
}

const ALIAS_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** An error the peer should see as an `ERR <code> <text>` line. */
export class ProtocolError extends Error {
  /** Machine-readable error code, a single token such as `alias-taken`. */
  readonly code: string;

  /** Creates an error with a code and a message shown to the peer. */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
  }
}

/** Returns the key under which an alias is unique (case-insensitive). */
export function aliasKey(alias: string): string {
  return alias.toLowerCase();
}

/**
 * Whether an alias follows the character rules (1 to 32 ASCII letters,
 * digits, `_`, `.` and `-`, not starting with `.` or `-`). Clients use it on
 * aliases a server sends before showing them anywhere.
 */
export function isWellFormedAlias(alias: string): boolean {
  return alias.length <= MAX_ALIAS_LENGTH && ALIAS_PATTERN.test(alias);
}

/**
 * Checks an alias against the rules: 1 to 32 characters, ASCII letters,
 * digits, `_`, `.` and `-`, not starting with `.` or `-`, not reserved.
 * Returns the alias or throws a {@linkcode ProtocolError}.
 */
export function validateAlias(alias: string): string {
  if (alias.length === 0) {
    throw new ProtocolError("alias-invalid", "Alias is empty");
  }
  if (alias.length > MAX_ALIAS_LENGTH) {
    throw new ProtocolError(
      "alias-invalid",
      `Alias is too long: at most ${MAX_ALIAS_LENGTH} characters`,
    );
  }
  if (!ALIAS_PATTERN.test(alias)) {
    throw new ProtocolError(
      "alias-invalid",
      `Alias "${
        sanitizeText(alias)
      }" is not allowed: use letters, digits, "_", "." and "-", starting with a letter, digit or "_"`,
    );
  }
  if (RESERVED_ALIASES.has(aliasKey(alias))) {
    throw new ProtocolError(
      "alias-reserved",
      `Alias "${alias}" is reserved`,
    );
  }
  return alias;
}

/** A line from a joined client, parsed. Text fields are already sanitised. */
export type Command =
  | { readonly kind: "say"; readonly text: string }
  | { readonly kind: "me"; readonly text: string }
  | { readonly kind: "msg"; readonly to: string; readonly text: string }
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
  /** Capabilities asked for (before the alias); unknown names included. */
  | { readonly kind: "cap"; readonly names: readonly string[] }
  /** A password the server asked for; never sanitised, never forwarded. */
  | { readonly kind: "pass"; readonly password: string };

/** The commands and their one-line help, in the order `/help` lists them. */
export const COMMAND_HELP: readonly string[] = [
  "/nick NEW: change your alias",
  "/who: list who is online",
  "/me ACTION: say that you do something",
  "/msg ALIAS TEXT: send TEXT to ALIAS only",
  "/quit [REASON]: leave the room",
  `/history [N]: show the last N messages (at most ${HISTORY_REQUEST_LIMIT})`,
  "/topic: show the topic",
  "/help: show this help",
  "Any other line is a message to everyone; start it with // to send a line that begins with /",
  "Operators: /kick ALIAS [REASON], /ban ALIAS|ADDRESS[/PREFIX] [DURATION] [REASON], /unban ALIAS|ADDRESS[/PREFIX], /bans, /mute ALIAS [DURATION] [REASON], /unmute ALIAS, /topic TEXT (DURATION: 30s, 10m, 2h, 7d, 4w; none: until lifted)",
];

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
 * import { parseDuration } from "./protocol.ts";
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
 * import { isCommand } from "./protocol.ts";
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
 * import { parseCommand } from "./protocol.ts";
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

/**
 * Every command but `/pass`, by name: what its arguments (`rest`, shown
 * text) make of it, or the usage error when they are missing.
 */
const COMMANDS: Readonly<Record<string, (rest: string) => Command>> = {
  me: (rest) => ({ kind: "me", text: required(rest, "/me ACTION") }),
  msg: (rest) => {
    const [to = "", ...words] = rest.split(" ");
    const text = shown(words.join(" "));
    if (to === "" || text === "") throw usage("/msg ALIAS TEXT");
    return { kind: "msg", to, text };
  },
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
  cap: (rest) => {
    const names = rest.split(" ").filter((name) => name !== "");
    if (names.length === 0) throw usage("/cap NAME [NAME ...]");
    return { kind: "cap", names };
  },
};

/** `/ban` or `/mute TARGET [DURATION] [REASON]`. */
function sanction(
  kind: "ban" | "mute",
  target: string,
  rest: string,
): Command {
  const [who = "", first = "", ...words] = rest.split(" ");
  if (who === "") throw usage(`/${kind} ${target} [DURATION] [REASON]`);
  const durationMs = parseDuration(first);
  const reason = shown(
    (durationMs === null ? [first, ...words] : words).join(" "),
  );
  return { kind, target: who, durationMs, reason };
}

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

const encoder = new TextEncoder();

/**
 * Encodes a server line with the `@id=ID ` prefix (see
 * {@linkcode splitLineId}), as `encodeServerLine` (`server_lines.ts`) does.
 */
export function encodeTaggedLine(id: string, line: ServerLine): Uint8Array {
  return encoder.encode(tagLine(id, formatServerLine(line)) + "\n");
}

const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

/**
 * Decodes one received line as UTF-8, rejecting invalid bytes with a
 * {@linkcode ProtocolError} so the sender learns the line was dropped.
 */
export function decodeLine(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch (e) {
    throw new ProtocolError(
      "bad-utf8",
      "Line dropped: it is not valid UTF-8",
      { cause: e },
    );
  }
}
