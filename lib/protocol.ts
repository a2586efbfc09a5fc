/**
 * The tlschat wire protocol, implemented once, from the client's side:
 * alias rules, capabilities, line ids, the error a peer is shown, and
 * decoding a line. What a joined client's line means (its command) is
 * `commands.ts`'s. What the server sends (its lines, the greeting's
 * parameters) is `server_lines.ts`. `docs/protocol.md` is their written
 * form; they must agree. Everything here is pure (no I/O) and works on
 * decoded lines: framing bytes into lines is `framing.ts`'s job, making
 * text safe is `text.ts`'s.
 *
 * @module
 */

import { sanitizeText } from "./text.ts";
import { formatServerLine, type ServerLine } from "./server_lines.ts";

/** Protocol name and version sent in the greeting. */
export const PROTOCOL = "tlschat/1";

/** Longest alias, in characters. */
export const MAX_ALIAS_LENGTH = 32;

/**
 * Aliases nobody may take (compared case-insensitively). With them, the
 * nicks of IRC networks' services: IRC clients send `NickServ` passwords by
 * themselves (HexChat's NickServ login, irssi's and weechat's connect
 * commands), which a member holding that alias would receive.
 */
export const RESERVED_ALIASES: ReadonlySet<string> = new Set([
  "admin",
  "everyone",
  "nobody",
  "operator",
  "root",
  "server",
  "system",
  "nickserv",
  "chanserv",
  "memoserv",
  "operserv",
  "hostserv",
  "botserv",
  "saslserv",
  "helpserv",
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
  rooms:
    "many rooms: room lines start with #room, lines may start with #room, /join /part /rooms and room operators",
  seq:
    "room lines from the log start with @seq=N;time=T (after id=ID when there is one): their number and time",
  resume:
    "turns seq on too; /resume EPOCH POSITIONS [TOKEN] before the alias: what was missed, then RESUMED",
  notice:
    "notices come as NOTICE, PRIVNOTICE, SENTNOTICE and HIST kind NOTICE instead of MSG, PRIV, SENT and HIST kind MSG",
} as const satisfies Record<string, string>;

/** The name of a capability. */
export type Capability = keyof typeof CAPABILITIES;

/** Whether `name` is a capability this server offers. */
export function isCapability(name: string): name is Capability {
  return Object.hasOwn(CAPABILITIES, name);
}

/** The capabilities each one turns on too (`resume` needs `seq`). */
export const CAPABILITY_IMPLIES: {
  readonly [C in Capability]?: readonly Capability[];
} = { resume: ["seq"] };

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
    throw new ProtocolError(
      "usage",
      "Usage: @id=ID TEXT, where ID is 16 to 64 letters, digits, _ and -",
    );
  }
  return { id, rest: space === -1 ? "" : line.slice(space + 1) };
}

/** A line with the `@id=ID ` prefix put on (`id` well formed). */
export function tagLine(id: string, line: string): string {
  return `${LINE_ID_PREFIX}${id} ${line}`;
}

/** Longest room name after its `#`, in bytes. */
export const MAX_ROOM_NAME_BYTES = 32;

/** Any case, ASCII only: `toLowerCase` would fold the Kelvin sign into `k`. */
const ROOM_PATTERN = /^#[A-Za-z0-9_-]{1,32}$/;

/** What a client without the `rooms` capability gets for a room command. */
export const ROOMS_NEED_CAP =
  "Rooms need the rooms capability: send /cap rooms before your alias";

/**
 * Checks a room name (`#` and 1 to 32 of `a-z 0-9 - _`, case-folded: `#Ops`
 * is `#ops`) and returns it folded, or throws `room-invalid`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateRoomName } from "./protocol.ts";
 *
 * assert.equal(validateRoomName("#Ops"), "#ops");
 * assert.throws(() => validateRoomName("#no way"), /room-invalid|Room name/);
 * ```
 */
export function validateRoomName(name: string): string {
  if (!ROOM_PATTERN.test(name)) {
    throw new ProtocolError(
      "room-invalid",
      `Room name "${
        sanitizeText(name)
      }" is not allowed: # then 1 to ${MAX_ROOM_NAME_BYTES} of a-z, 0-9, "-" and "_"`,
    );
  }
  return name.toLowerCase();
}

/** Whether `name` is a well-formed room name (any case). */
export function isRoomName(name: string): boolean {
  return ROOM_PATTERN.test(name);
}

/** A client line with its `#room ` prefix taken off. */
export interface RoomPrefixed {
  /** The room named (folded); null when the line has no prefix. */
  readonly room: string | null;
  /** What follows the prefix (the whole line when there is none). */
  readonly rest: string;
}

/**
 * Takes the `#room ` prefix off a line of a client with `rooms`: only a
 * valid room name followed by one space (or the end of the line, which is
 * `ERR usage`) is a prefix, so `#1 priority` is a message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitRoomPrefix } from "./protocol.ts";
 *
 * assert.deepEqual(splitRoomPrefix("#Ops hi"), { room: "#ops", rest: "hi" });
 * assert.deepEqual(splitRoomPrefix("hi"), { room: null, rest: "hi" });
 * assert.deepEqual(splitRoomPrefix("#ops #1 x"), { room: "#ops", rest: "#1 x" });
 * assert.throws(() => splitRoomPrefix("#ops"), /Usage/);
 * ```
 */
export function splitRoomPrefix(line: string): RoomPrefixed {
  if (!line.startsWith("#")) return { room: null, rest: line };
  const space = line.indexOf(" ");
  const name = space === -1 ? line : line.slice(0, space);
  if (!isRoomName(name)) return { room: null, rest: line };
  if (space === -1) {
    throw new ProtocolError("usage", "Usage: #room TEXT or #room /COMMAND");
  }
  return { room: name.toLowerCase(), rest: line.slice(space + 1) };
}

/** A server line with the `#room ` prefix put on. */
export function roomLine(room: string, line: string): string {
  return `${room} ${line}`;
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
