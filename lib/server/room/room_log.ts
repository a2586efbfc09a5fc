/**
 * The room log: the one place where room events get their order. The room
 * appends every line that everyone receives (messages, actions, joins,
 * leaves, renames, the topic, moderation); the log numbers it (a sequence
 * number that only grows, and a server timestamp), keeps it as its kind of
 * log keeps things, and hands committed events, in order, to its one
 * subscriber, which fans them out. Nothing else assigns order, so whatever
 * the log is, every member sees one order, and history is what the log
 * holds.
 *
 * Every log also keeps the most recent messages and actions in memory
 * ({@linkcode RecentEvents}), so that history on join is read at once, in
 * the same step as the member starts receiving live events: no line is
 * both in its history and live, and none falls between the two.
 *
 * Messages and actions carry an id, the client's or one the server made;
 * every log stores a line once per id, within a window of at least the last
 * `DEDUPE_MIN_LINES` lines and `DEDUPE_MIN_MS`
 * (`RecentIds` in memory, a set in Redis). An id names one line:
 * each is kept with the line's sign ({@linkcode lineSign}: its kind, alias
 * and text), and a line whose id it holds is reported as a `duplicate` (the
 * same line again: a resend) or as `reused` (another line under an id
 * already taken) instead of being stored.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { aliasKey } from "../../protocol.ts";
import { isNotice, type ServerLine } from "../../server_lines.ts";
import type { SharedSanction, Topic } from "../access/moderation.ts";
import type { RoomRecord } from "./room_record.ts";
import type { LogRange, SinceOptions } from "./since.ts";

export type { LogRange, Lost, SinceOptions } from "./since.ts";
export {
  CATCH_UP_SCAN_EVENTS,
  inRoom,
  MOD_FOR_EVERYONE,
  newEpoch,
  NOTHING_LOST,
  roomsOnly,
} from "./since.ts";

/** The line types that are room events (everyone receives them). */
export const ROOM_LINE_TYPES = [
  "MSG",
  "ME",
  "JOIN",
  "LEAVE",
  "NICK",
  "TOPIC",
  "MOD",
] as const;

/** A type of room event. */
export type RoomLineType = (typeof ROOM_LINE_TYPES)[number];

/** A line everyone in the room receives. */
export type RoomLine = ServerLine<RoomLineType>;

/** The room events replayed as history: messages and actions. */
export const HISTORY_TYPES: ReadonlySet<RoomLineType> = new Set(["MSG", "ME"]);

/** A room line in the log's order. */
export interface RoomEvent {
  /**
   * Position in the log: 1, 2, 3, ... with no gaps; a durable log never
   * reuses one, across restarts too.
   */
  readonly seq: number;
  /** When the log took it, in milliseconds since the epoch. */
  readonly time: number;
  readonly line: RoomLine;
  /** Id of the member it came from (a joiner does not get its own JOIN). */
  readonly origin: string;
  /**
   * What the event does beyond its line, for every server to carry out
   * before anyone hears of it (see {@linkcode EventEffect}).
   */
  readonly effect?: EventEffect;
  /** The line's id, when it was appended with one (see {@linkcode AppendOptions.id}). */
  readonly id?: string;
  /** The room it is about (see {@linkcode AppendOptions.room}). */
  readonly room?: string;
  /**
   * With a rename or a leave of the server (a `NICK` or `LEAVE` that names
   * no room): the rooms its member was in, as the log took it (the rooms
   * it reached), each once; absent in what an earlier release stored (the
   * default room's then).
   */
  readonly rooms?: readonly string[];
  /** The member a `MOD` names, by id (see {@linkcode AppendOptions.target}). */
  readonly target?: string;
}

/**
 * What a room event does beyond its line, typed by `kind`; each kind goes
 * with one line type, and every log stores it with the event and reads it
 * back (so that every server of a cluster ends with what the log says
 * last, and whoever sees "muted" is muted on every server).
 */
export type EventEffect =
  /** With a `MOD` line of a ban, unban, mute or unmute: those in force after it. */
  | {
    readonly kind: "sanctions";
    readonly sanctions: readonly SharedSanction[];
  }
  /** With a `TOPIC` line: the topic it sets. */
  | { readonly kind: "topic"; readonly topic: Topic }
  /**
   * With a `LEAVE` decided elsewhere in a cluster (a kick, a login from
   * another connection): the `BYE` text for the member, where it is.
   */
  | { readonly kind: "bye"; readonly text: string }
  /**
   * With a `MOD` or `TOPIC` line of a room other than the default one: the
   * room's whole record after it; with a `JOIN` in a room: the record as
   * the joiner's server knows it (the first creation in the log wins).
   */
  | { readonly kind: "room"; readonly record: RoomRecord }
  /** With `MOD expire`: an empty temporary room goes (`room_replica.ts`). */
  | { readonly kind: "expire" };

/** The line types each kind of {@linkcode EventEffect} goes with. */
export const EFFECT_LINE_TYPES: {
  readonly [K in EventEffect["kind"]]: readonly RoomLineType[];
} = {
  sanctions: ["MOD"],
  topic: ["TOPIC"],
  bye: ["LEAVE"],
  room: ["MOD", "TOPIC", "JOIN"],
  expire: ["MOD"],
};

/** Receives committed events in log order. */
export type RoomEventSink = (event: RoomEvent) => void;

/** Options of {@linkcode RoomLog.append}. */
export interface AppendOptions {
  /** What the event does beyond its line (see {@linkcode RoomEvent.effect}). */
  readonly effect?: EventEffect;
  /**
   * The line's id, chosen before it is sent to the log (16 to 64 of
   * `A-Z a-z 0-9 _ -`): a log that already holds a line with this id does
   * not store it again. A log that needs one makes one
   * ({@linkcode newLineId}) when none is given.
   */
  readonly id?: string;
  /**
   * `id` was made for this line just now ({@linkcode LineIdMaker}: 132
   * random bits): no line holds it, so the log need not look it up.
   */
  readonly newId?: boolean;
  /**
   * The room the line is about, `#name`; absent: the default room (so
   * what a release without rooms stored belongs to the default room).
   */
  readonly room?: string;
  /**
   * With a `MOD`: the member it names, by id (a connected session), so
   * that a mute holds that member, not whoever holds its alias when the
   * line is stored or handed on, and a ban's member on another server is
   * not put out twice (its `LEAVE` follows: `room_targets.ts`,
   * `leaveFollows`); absent in what an earlier release stored.
   */
  readonly target?: string;
}

/**
 * A new line id made by the server: `s`, then 128 random bits in
 * base64url (23 characters).
 */
export function newLineId(): string {
  const bits = crypto.getRandomValues(new Uint8Array(16));
  return `s${bits.toBase64({ alphabet: "base64url", omitPadding: true })}`;
}

/** Ids a {@linkcode LineIdMaker} makes from one draw of random bytes. */
const IDS_PER_DRAW = 64;
/** Random bytes of two ids: 44 base64url characters, 22 (132 bits) each. */
const BYTES_PER_TWO_IDS = 33;

/**
 * Makes line ids of the same form as {@linkcode newLineId} (`s`, then 22
 * base64url characters, each of them random: 132 bits), 64 at a time
 * from one draw of random bytes: a tenth of the cost of one draw an id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LineIdMaker } from "./room_log.ts";
 *
 * const ids = new LineIdMaker();
 * const id = ids.next();
 * assert.match(id, /^s[A-Za-z0-9_-]{22}$/);
 * assert.notEqual(ids.next(), id);
 * ```
 */
export class LineIdMaker {
  #drawn = "";
  #at = 0;

  /** A new id. */
  next(): string {
    if (this.#at >= this.#drawn.length) {
      const bytes = new Uint8Array(IDS_PER_DRAW / 2 * BYTES_PER_TWO_IDS);
      this.#drawn = crypto.getRandomValues(bytes).toBase64({
        alphabet: "base64url",
      });
      this.#at = 0;
    }
    const id = `s${this.#drawn.slice(this.#at, this.#at + 22)}`;
    this.#at += 22;
    return id;
  }
}

/**
 * What a line with an id is, for telling a resend of it from another line
 * under the same id: a hash of its kind, its alias (case-folded) and its
 * text (for a line without text, of the whole line), 16 bytes in
 * base64url. A notice's kind is `NOTICE` (a message's sign is as it was).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lineSign } from "./room_log.ts";
 *
 * const sign = lineSign({ type: "MSG", alias: "Amy", text: "hi" });
 * assert.equal(sign, lineSign({ type: "MSG", alias: "amy", text: "hi" }));
 * assert.notEqual(sign, lineSign({ type: "ME", alias: "amy", text: "hi" }));
 * assert.notEqual(sign, lineSign({ type: "MSG", alias: "amy", text: "hi!" }));
 * ```
 */
export function lineSign(line: RoomLine): string {
  const kind = isNotice(line) ? "NOTICE" : line.type;
  const what = line.type === "MSG" || line.type === "ME"
    ? `${kind}\n${aliasKey(line.alias)}\n${line.text}`
    : JSON.stringify(line);
  return createHash("sha256").update(what).digest().subarray(0, 16)
    .toString("base64url");
}

/** Why appended lines were not handed on. */
export type AppendOutcome =
  /**
   * Certainly not stored (the store said no, or was never asked): nobody
   * received them, and sending them again is safe.
   */
  | "refused"
  /**
   * Perhaps stored, perhaps not: the store did not answer, even when asked
   * again for as long as the log waits. Stored ones are handed on like any
   * other (perhaps after this report); sending again with the same id is
   * safe, without one it may store the line twice.
   */
  | "unknown"
  /**
   * Not stored: their member is no longer in the room as the log knows it
   * (a cluster counted its server lost, or removed it elsewhere).
   */
  | "gone"
  /**
   * Not stored again: the log already holds this line under its id (a
   * resend), handed on when it was first stored.
   */
  | "duplicate"
  /**
   * Not stored: the log holds another line under its id (an id names one
   * line; the sender must choose a new one).
   */
  | "reused"
  /**
   * Not stored: it would create a room whose name looks like that of one
   * the log knows (`UnsentLine.taken`), created first elsewhere (a
   * cluster's other server, at the same instant).
   */
  | "lookalike"
  /**
   * Not stored: a message or action in a room its member is no longer in
   * as the log knows it (a kick, ban or part the log put first, which its
   * server had not read yet when it sent the line).
   */
  | "outside"
  /**
   * Not stored: a message or action in a room from a member a room mute
   * the log put first holds (its server had not read it yet).
   */
  | "muted";

/** An appended line that was not handed on. */
export interface UnsentLine {
  readonly line: RoomLine;
  readonly origin: string;
  readonly id?: string;
  /** The room it was appended to (see {@linkcode AppendOptions.room}). */
  readonly room?: string;
  /** The room it looks like (outcome `lookalike`). */
  readonly taken?: string;
  /**
   * Outcome `duplicate`: the number and time the log gave the line stored
   * first under its id (what its echo carried), when the log still knows
   * them.
   */
  readonly first?: StoredAt;
}

/** Where a line stored under an id is in the log: its number and time. */
export interface StoredAt {
  readonly seq: number;
  readonly time: number;
}

/**
 * Told of appended lines that were not handed on, and why; for every
 * outcome but `duplicate`, their senders should hear so (for a `duplicate`,
 * the sender gets its echo again).
 */
export type RoomLogFailure = (
  lines: readonly UnsentLine[],
  outcome: AppendOutcome,
  error: unknown,
) => void;

/** What a room needs from its log. */
export interface RoomLog {
  /**
   * The log's epoch (1 to 32 of `A-Z a-z 0-9 _ -`): it changes whenever
   * its numbering starts again (a log in memory restarted, a cluster
   * whose state Redis lost), so numbers are compared only within one.
   */
  readonly epoch: string;
  /**
   * Whether the log's writes fail now (what `/readyz` says); absent: a log
   * whose failures another probe sees (Redis's) or that cannot fail.
   */
  readonly failing?: boolean;
  /**
   * The events of room `room` numbered
   * above `after` (and below `options.before`) that the log holds, the
   * newest `options.limit` of them, oldest first; with how many more it
   * holds there, and whether it lost any after `after`. Only committed
   * events (those handed on, or being handed on).
   */
  since(
    room: string,
    after: number,
    options: SinceOptions,
  ): Promise<LogRange>;
  /** Sets the one consumer of committed events, and of failed appends. */
  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void;
  /**
   * Has a log that hands on events it did not append itself (a cluster's:
   * another server's lines, read in batches) wait before each one while
   * `ready` returns a promise (a member's queue is above its watermark),
   * so that a member that keeps reading is not sent a batch faster than
   * it reads. Absent: a log that hands on only what the room appended,
   * whose senders the room holds back itself.
   */
  pace?(ready: () => Promise<void> | undefined): void;
  /**
   * Appends a line from member `origin`. The log orders it and hands it to
   * the subscriber once it is committed (at once, or later, in order), or
   * reports it to the one told of failures.
   */
  append(line: RoomLine, origin: string, options?: AppendOptions): void;
  /**
   * Undefined when every line appended so far has been handed on;
   * otherwise a promise that resolves once they have been (or were
   * reported lost). A member waits on it before its next line, so that the
   * server answers its lines in the order they were sent.
   */
  settled(): Promise<void> | undefined;
  /**
   * The last `limit` committed messages and actions, oldest first, from
   * memory (at most as many as the log was made to keep at hand).
   */
  recent(limit: number): readonly RoomEvent[];
  /** Commits what is pending and stops. */
  close(): Promise<void>;
}
