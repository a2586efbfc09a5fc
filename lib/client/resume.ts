/**
 * The client's half of resuming (the `seq` and `resume` capabilities) as
 * pure logic: a server line's tag block (`@id=ID;seq=N;time=T `) taken off,
 * the log's epoch and the last number seen in each room, each room line
 * shown once (a number seen already in this epoch is not shown again; on an
 * epoch change the numbers are forgotten; on a first connection, the lines
 * below the member's own `JOIN` are a catch-up from the account's read
 * mark), the `/resume` line to send on reconnecting, the `RESUME`,
 * `RESUMED` and `READ` lines understood, and
 * the `/read` marks to send for lines shown. No sockets, no timers.
 *
 * @module
 */

import { isEpoch } from "../resume.ts";

/** The `epoch=` of a greeting's PARAMS field; null when absent or malformed. */
export function helloEpoch(params: string): string | null {
  for (const pair of params.split(",")) {
    const [key, value = ""] = pair.split("=");
    if (key === "epoch" && isEpoch(value)) return value;
  }
  return null;
}

/** A line of the resume features, its room prefix taken off. */
export type ResumeLine =
  /** `RESUME TOKEN SECONDS TEXT`: the token to resume with. */
  | { readonly type: "RESUME"; readonly token: string }
  /** `RESUMED LAST MISSING TEXT`: the catch-up of a room is over. */
  | {
    readonly type: "RESUMED";
    readonly last: number | null;
    /** Lines missed; null: an unknown number. */
    readonly missing: number | null;
  }
  /** `READ SEQ`: the account read up to SEQ (on another device). */
  | { readonly type: "READ"; readonly seq: number };

/**
 * Parses a `RESUME`, `RESUMED` or `READ` line (room prefix taken off);
 * null for any other line, or a malformed one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseResumeLine } from "./resume.ts";
 *
 * assert.deepEqual(parseResumeLine("RESUMED 130 12 Caught up"), {
 *   type: "RESUMED",
 *   last: 130,
 *   missing: 12,
 * });
 * assert.deepEqual(parseResumeLine("RESUMED - ? Caught up"), {
 *   type: "RESUMED",
 *   last: null,
 *   missing: null,
 * });
 * assert.equal(parseResumeLine("MSG bob RESUMED 1 2"), null);
 * ```
 */
export function parseResumeLine(body: string): ResumeLine | null {
  const [type, first = "", second = ""] = body.split(" ");
  const number = (text: string) =>
    /^\d{1,15}$/.test(text) ? Number(text) : null;
  if (type === "RESUME" && /^[A-Za-z0-9_-]{16,64}$/.test(first)) {
    return { type, token: first };
  }
  if (type === "RESUMED" && (first === "-" || number(first) !== null)) {
    if (second !== "?" && number(second) === null) return null;
    return { type, last: number(first), missing: number(second) };
  }
  const seq = number(first);
  if (type === "READ" && seq !== null) return { type, seq };
  return null;
}

/**
 * What the client shows for a room's `RESUMED`: how many of its lines it
 * missed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumedText } from "./resume.ts";
 *
 * assert.equal(resumedText(12), "Resumed: 12 lines missed");
 * assert.equal(resumedText(null), "Resumed: an unknown number of lines missed");
 * ```
 */
export function resumedText(missing: number | null): string {
  if (missing === null) return "Resumed: an unknown number of lines missed";
  if (missing === 0) return "Resumed: no lines missed";
  return `Resumed: ${missing} ${missing === 1 ? "line" : "lines"} missed`;
}

/** The key of a room in positions: its name, or "" without rooms. */
const roomKey = (room: string | null) => room ?? "";

/**
 * Where the client was: the log's epoch, the last number seen in each room
 * and the token to resume with. Each room line's number is seen once: a
 * line whose number is not above the room's last is one shown already.
 *
 * @example A reconnect sends the old epoch and positions, then forgets them when the epoch changed
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResumeState } from "./resume.ts";
 *
 * const state = new ResumeState();
 * assert.equal(state.greeted("e1", true), null); // first connection
 * assert.equal(state.see("#ops", 7), true);
 * assert.equal(state.see("#ops", 7), false); // shown already
 * state.see("#lobby", 3);
 * state.tokenGiven("AAAAAAAAAAAAAAAAAAAAAA");
 * assert.equal(
 *   state.greeted("e2", true),
 *   "/resume e1 #ops=7,#lobby=3 AAAAAAAAAAAAAAAAAAAAAA",
 * );
 * assert.equal(state.see("#ops", 7), true); // another epoch's 7
 * ```
 */
export class ResumeState {
  #epoch: string | null = null;
  #last = new Map<string, number>();
  #token: string | null = null;
  #catchingUp = new Set<string>();
  /**
   * Rooms being caught up in the same epoch: the number each was at, and
   * the numbers above it seen since. The server sends the member's own
   * `JOIN` first, then older lines, so numbers do not grow until `RESUMED`.
   */
  #from = new Map<string, { after: number; seen: Set<number> }>();
  /**
   * Rooms entered on this connection with no position given (a first
   * connection, a `/join`): the number of the member's own `JOIN`. A line
   * of the room numbered below it is a catch-up from the account's read
   * mark, which the server sends after that `JOIN` (until `RESUMED`).
   */
  #joinedAt = new Map<string, number>();

  /** The epoch of the numbers kept; null: none yet. */
  get epoch(): string | null {
    return this.#epoch;
  }

  /**
   * A server greeted with `epoch` (null: none), offering `resume` or not:
   * the `/resume` line to send before the alias (null: none, on a first
   * connection or without `resume`). The numbers kept are forgotten when
   * the epoch is not theirs; the token is used up.
   */
  greeted(epoch: string | null, offered: boolean): string | null {
    let line: string | null = null;
    this.#catchingUp.clear();
    this.#from.clear();
    this.#joinedAt.clear();
    if (offered && this.#epoch !== null) {
      const token = this.#token === null ? "" : ` ${this.#token}`;
      line = `/resume ${this.#epoch} ${this.positions()}${token}`;
      for (const [room, after] of this.#last) {
        this.#catchingUp.add(room);
        if (epoch === this.#epoch) {
          this.#from.set(room, { after, seen: new Set() });
        }
      }
    }
    this.#token = null;
    if (epoch !== this.#epoch) this.#last.clear();
    this.#epoch = epoch;
    return line;
  }

  /** `#lobby=120,#ops=98` (a bare number without rooms), or `-`. */
  positions(): string {
    const all = [...this.#last].map(([room, seq]) =>
      room === "" ? String(seq) : `${room}=${seq}`
    );
    return all.length === 0 ? "-" : all.join(",");
  }

  /** The last number seen in `room`; null: none. */
  last(room: string | null): number | null {
    return this.#last.get(roomKey(room)) ?? null;
  }

  /**
   * A line of `room` numbered `seq` came: true when it is new (to show),
   * false when a line with this number was seen already in this epoch.
   */
  see(room: string | null, seq: number): boolean {
    if (this.fromMark(room, seq)) return true;
    const from = this.#from.get(roomKey(room));
    if (from !== undefined) {
      if (seq <= from.after || from.seen.has(seq)) return false;
      from.seen.add(seq);
      const last = this.#last.get(roomKey(room)) ?? 0;
      this.#last.set(roomKey(room), Math.max(last, seq));
      return true;
    }
    const last = this.#last.get(roomKey(room));
    if (last !== undefined && seq <= last) return false;
    this.#last.set(roomKey(room), seq);
    return true;
  }

  /** The server sent a token to resume with next time (`RESUME`). */
  tokenGiven(token: string): void {
    this.#token = token;
  }

  /**
   * Whether lines of `room` come from the log's catch-up (its `RESUMED`
   * has not come yet): the own joins and leaves among them are past ones.
   */
  catchingUp(room: string | null, seq: number | null = null): boolean {
    return this.#catchingUp.has(roomKey(room)) || this.fromMark(room, seq);
  }

  /**
   * The member's own `JOIN` of `room`, numbered `seq`, came where it gave
   * no position for the room: lines numbered below it that follow are a
   * catch-up from the account's read mark (see {@linkcode fromMark}).
   */
  entered(room: string | null, seq: number): void {
    if (this.#catchingUp.has(roomKey(room))) return; // its own catch-up
    this.#joinedAt.set(roomKey(room), seq);
  }

  /**
   * Whether a line of `room` numbered `seq` (null: the catch-up's end, its
   * `RESUMED`) is of a catch-up from the account's read mark, not asked
   * for by a position: said before the member came, as history is.
   */
  fromMark(room: string | null, seq: number | null): boolean {
    const joined = this.#joinedAt.get(roomKey(room));
    return joined !== undefined && (seq === null || seq < joined);
  }

  /** The catch-up of `room` ended at `last` (null: unknown). */
  resumed(room: string | null, last: number | null): void {
    this.#catchingUp.delete(roomKey(room));
    this.#from.delete(roomKey(room));
    this.#joinedAt.delete(roomKey(room));
    if (last !== null) this.see(room, last);
  }
}

/**
 * The read marks to send (`/read #room SEQ`): the last number shown in
 * each room since the last ones were taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReadMarks } from "./resume.ts";
 *
 * const marks = new ReadMarks();
 * marks.shown("#ops", 4);
 * marks.shown("#ops", 5);
 * marks.shown(null, 9);
 * assert.deepEqual(marks.take(), ["/read #ops 5", "/read 9"]);
 * assert.deepEqual(marks.take(), []);
 * ```
 */
export class ReadMarks {
  #marks = new Map<string, number>();

  /** Whether marks wait to be taken. */
  get waiting(): boolean {
    return this.#marks.size > 0;
  }

  /** A line of `room` numbered `seq` was shown. */
  shown(room: string | null, seq: number): void {
    const key = roomKey(room);
    this.#marks.set(key, Math.max(seq, this.#marks.get(key) ?? 0));
  }

  /** A room left: its mark is not sent (`/read` there is refused). */
  forget(room: string | null): void {
    this.#marks.delete(roomKey(room));
  }

  /** The `/read` lines to send now; forgets them. */
  take(): string[] {
    const lines = [...this.#marks].map(([room, seq]) =>
      room === "" ? `/read ${seq}` : `/read ${room} ${seq}`
    );
    this.#marks.clear();
    return lines;
  }
}
