/**
 * The wire of capabilities `seq` and `resume`, both sides: the tag block
 * of a log line (`@id=ID;seq=N;time=T `, made and taken off), a log's
 * epoch, and `/resume EPOCH POSITIONS [TOKEN]` (parsed, formatted, and a
 * position taken from it). Pure, like `protocol.ts`, which it builds on.
 *
 * @module
 */

import { isLineId, isRoomName, ProtocolError } from "./protocol.ts";

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
 * import { seqTags } from "./resume.ts";
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
 * Takes the tag block off a server line (`@id=ID `, `@id=ID;seq=N;time=T `
 * or `@seq=N;time=T `): a client reads each line with it. Unknown tags are
 * ignored; a line that does not start with `@`, or whose block is not
 * well formed, is kept whole (shown as it came, never an error).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitTags } from "./resume.ts";
 *
 * assert.deepEqual(splitTags("@seq=42;time=2026-11-26T15:04:05.123Z MSG bob hi"), {
 *   id: null,
 *   seq: 42,
 *   time: "2026-11-26T15:04:05.123Z",
 *   rest: "MSG bob hi",
 * });
 * assert.equal(splitTags("@id=Qm9vb3Rz_-0123456 ERR muted No").id, "Qm9vb3Rz_-0123456");
 * assert.equal(splitTags("@seq=x MSG bob hi").rest, "@seq=x MSG bob hi");
 * assert.equal(splitTags("MSG bob @seq=1 hi").rest, "MSG bob @seq=1 hi");
 * ```
 */
export function splitTags(line: string): TaggedLine {
  const none = { id: null, seq: null, time: null, rest: line };
  const space = line.indexOf(" ");
  if (!line.startsWith("@") || space === -1) return none;
  let id: string | null = null;
  let seq: number | null = null;
  let time: string | null = null;
  for (const tag of line.slice(1, space).split(";")) {
    const equals = tag.indexOf("=");
    if (equals === -1) return none;
    const [key, value] = [tag.slice(0, equals), tag.slice(equals + 1)];
    if (key === "id") {
      if (!isLineId(value)) return none;
      id = value;
    } else if (key === "seq") {
      if (!SEQ_PATTERN.test(value)) return none;
      seq = Number(value);
    } else if (key === "time") {
      time = value;
    }
  }
  return { id, seq, time, rest: line.slice(space + 1) };
}

/** The text of `ERR resume-expired`: a resume token that does not hold. */
export const RESUME_EXPIRED_TEXT =
  "Your session ended; choose your alias again";

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
 * import { parseResumeArgs } from "./resume.ts";
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
 * import { formatResume } from "./resume.ts";
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

/**
 * Takes, once, the position `request` gives for room `room` (`inDefault`:
 * the server's default room, which a bare SEQ names): `{ epoch, seq }`,
 * or undefined when it gives none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseResumeArgs, takePosition } from "./resume.ts";
 *
 * const request = parseResumeArgs("E1 7");
 * assert.deepEqual(takePosition(request, "#lobby", true), { epoch: "E1", seq: 7 });
 * assert.equal(takePosition(request, "#lobby", true), undefined);
 * ```
 */
export function takePosition(
  request: ResumeRequest,
  room: string,
  inDefault: boolean,
): { readonly epoch: string; readonly seq: number } | undefined {
  const positions = request.positions as Map<string | null, number>;
  const key = positions.has(room) ? room : inDefault ? null : undefined;
  const seq = key === undefined ? undefined : positions.get(key);
  if (seq === undefined) return undefined;
  positions.delete(key!);
  return { epoch: request.epoch, seq };
}
