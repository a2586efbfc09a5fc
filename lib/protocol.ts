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
  rooms:
    "many rooms: room lines start with #room, lines may start with #room, /join /part /rooms and room operators",
  seq:
    "room lines from the log start with @seq=N;time=T (after id=ID when there is one): their number and time",
  resume:
    "turns seq on too; /resume EPOCH POSITIONS [TOKEN] before the alias: what was missed, then RESUMED",
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

/**
 * The tags a server line may start with (IRCv3-like, one block, in this
 * order): its id (`ids`, the client's own line), its log number and
 * time (`seq`).
 */
export interface LineTags {
  /** The line's id; null when it has none. */
  readonly id: string | null;
  /** Its number in the room log (`seq`); null when it has none. */
  readonly seq: number | null;
  /** Its time in the log, UTC ISO 8601 with milliseconds; null: none. */
  readonly time: string | null;
}

/** A server line with its tag block taken off. */
export interface TaggedLine extends LineTags {
  /** What follows the tags (the whole line when there are none). */
  readonly rest: string;
}

/**
 * The `@seq=N;time=T ` tags of a log event (number `seq`, time `timeMs`
 * in ms since 1970), after `id=ID;` when it has an id for its receiver.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seqTags } from "./protocol.ts";
 *
 * assert.equal(seqTags(42, 0), "@seq=42;time=1970-01-01T00:00:00.000Z ");
 * assert.equal(
 *   seqTags(7, 0, "Qm9vb3Rz_-0123456"),
 *   "@id=Qm9vb3Rz_-0123456;seq=7;time=1970-01-01T00:00:00.000Z ",
 * );
 * ```
 */
export function seqTags(seq: number, timeMs: number, id?: string): string {
  const time = new Date(timeMs).toISOString();
  return id === undefined
    ? `@seq=${seq};time=${time} `
    : `@id=${id};seq=${seq};time=${time} `;
}

const SEQ_PATTERN = /^[0-9]{1,15}$/;

/**
 * Takes the tag block off a server line (`@id=ID ` or
 * `@id=ID;seq=N;time=T ` or `@seq=N;time=T `): a client reads each line
 * with it. Unknown tags are ignored; a line that does not start with `@`
 * has none. Throws a {@linkcode ProtocolError} (`usage`) when the block is
 * not well formed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitTags } from "./protocol.ts";
 *
 * assert.deepEqual(splitTags("@seq=42;time=2026-11-26T15:04:05.123Z MSG bob hi"), {
 *   id: null,
 *   seq: 42,
 *   time: "2026-11-26T15:04:05.123Z",
 *   rest: "MSG bob hi",
 * });
 * assert.deepEqual(splitTags("@id=Qm9vb3Rz_-0123456 ERR muted No"), {
 *   id: "Qm9vb3Rz_-0123456",
 *   seq: null,
 *   time: null,
 *   rest: "ERR muted No",
 * });
 * assert.equal(splitTags("MSG bob hi").rest, "MSG bob hi");
 * ```
 */
export function splitTags(line: string): TaggedLine {
  if (!line.startsWith("@")) {
    return { id: null, seq: null, time: null, rest: line };
  }
  const space = line.indexOf(" ");
  const block = line.slice(1, space === -1 ? undefined : space);
  let id: string | null = null;
  let seq: number | null = null;
  let time: string | null = null;
  for (const tag of block.split(";")) {
    const equals = tag.indexOf("=");
    const key = equals === -1 ? tag : tag.slice(0, equals);
    const value = equals === -1 ? "" : tag.slice(equals + 1);
    if (key === "id" && isLineId(value)) id = value;
    else if (key === "seq" && SEQ_PATTERN.test(value)) seq = Number(value);
    else if (key === "time" && value !== "") time = value;
    else if (key === "id" || key === "seq" || key === "time") {
      throw new ProtocolError("usage", `Malformed tag: "${sanitizeText(tag)}"`);
    }
  }
  return { id, seq, time, rest: space === -1 ? "" : line.slice(space + 1) };
}

/** A log's epoch: 1 to 32 of `A-Z a-z 0-9 _ -`. */
const EPOCH_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Whether `epoch` is a well-formed log epoch (HELLO's `epoch=E`). */
export function isEpoch(epoch: string): boolean {
  return EPOCH_PATTERN.test(epoch);
}

/**
 * Where a client was, as `/resume EPOCH POSITIONS [TOKEN]` says: the log's
 * epoch, the last number it saw in each room, and its resume token.
 */
export interface ResumeRequest {
  readonly epoch: string;
  /** Last number seen by room; the key null is the default room (a bare SEQ). */
  readonly positions: ReadonlyMap<string | null, number>;
  /** The token of a `RESUME` line; null: none. */
  readonly token: string | null;
}

const RESUME_USAGE =
  "Usage: /resume EPOCH POSITIONS [TOKEN], POSITIONS - or SEQ or #room=SEQ,#room=SEQ";

/**
 * Parses what follows `/resume `: `EPOCH POSITIONS [TOKEN]`, POSITIONS
 * `-` (none), a bare `SEQ` (the default room), or `#room=SEQ,...`
 * (rooms folded). Throws a {@linkcode ProtocolError} (`usage`) when
 * malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseResumeArgs } from "./protocol.ts";
 *
 * const request = parseResumeArgs("3fA9x #lobby=120,#Ops=98 tok");
 * assert.equal(request.epoch, "3fA9x");
 * assert.deepEqual([...request.positions], [["#lobby", 120], ["#ops", 98]]);
 * assert.equal(request.token, "tok");
 * assert.deepEqual([...parseResumeArgs("3fA9x 120").positions], [[null, 120]]);
 * assert.throws(() => parseResumeArgs("3fA9x #ops=x"), /Usage/);
 * ```
 */
export function parseResumeArgs(args: string): ResumeRequest {
  const words = args.split(" ").filter((word) => word !== "");
  const [epoch = "", list = "", token, ...more] = words;
  const usage = new ProtocolError("usage", RESUME_USAGE);
  if (!isEpoch(epoch) || list === "" || more.length > 0) throw usage;
  if (token !== undefined && !isEpoch(token)) throw usage;
  const positions = new Map<string | null, number>();
  if (SEQ_PATTERN.test(list)) positions.set(null, Number(list));
  else if (list !== "-") {
    for (const pair of list.split(",")) {
      const [room = "", seq = "", extra] = pair.split("=");
      if (!isRoomName(room) || !SEQ_PATTERN.test(seq) || extra !== undefined) {
        throw usage;
      }
      positions.set(room.toLowerCase(), Number(seq));
    }
  }
  return { epoch, positions, token: token ?? null };
}

/**
 * The `/resume` line of a request (a client's side of
 * {@linkcode parseResumeArgs}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatResume } from "./protocol.ts";
 *
 * const positions = new Map([["#lobby", 120], ["#ops", 98]]);
 * assert.equal(
 *   formatResume({ epoch: "3fA9x", positions, token: null }),
 *   "/resume 3fA9x #lobby=120,#ops=98",
 * );
 * ```
 */
export function formatResume(request: ResumeRequest): string {
  const entries = [...request.positions];
  const list = entries.length === 0
    ? "-"
    : entries.map(([room, seq]) => room === null ? `${seq}` : `${room}=${seq}`)
      .join(",");
  const token = request.token === null ? "" : ` ${request.token}`;
  return `/resume ${request.epoch} ${list}${token}`;
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
