/**
 * Which numbers are each room's, kept in memory as the log hands events
 * on (and rebuilt when it opens), so that a catch-up (`RoomLog.since`)
 * counts a room's events in a range, and finds the newest of them, by
 * binary search, without reading any other room's lines: reading and
 * parsing every line after a position (every room's, up to
 * `CATCH_UP_SCAN_EVENTS`) held the event loop for hundreds of
 * milliseconds a catch-up, and a guest asks for one per room.
 *
 * An event is filed under each room it belongs to (as `inRoom` says): the
 * room it names; the rooms a rename or a leave of the server reached; or,
 * when it names none and says none, {@linkcode NO_ROOM} (the default
 * room's). The index holds the numbers above {@linkcode RoomSeqs.from}
 * (every one of them the log gave, whatever became of its line), at most
 * about `window` entries: older ones it lets go, and a range that begins
 * before `from` is one it cannot count.
 *
 * @module
 */

import type { RoomEvent } from "./room_log.ts";
import { CATCH_UP_SCAN_EVENTS, roomsOnly, type SinceOptions } from "./since.ts";

/** The key of the events that name no room and say no rooms. */
export const NO_ROOM = "";

/** What the index needs of an event. */
export interface FiledEvent {
  readonly seq: number;
  readonly room?: string;
  readonly rooms?: readonly string[];
  readonly line: { readonly type: string; readonly action?: string };
}

/** The rooms `event` is filed under (see the module's doc). */
export function roomKeys(event: Omit<FiledEvent, "line">): readonly string[] {
  if (event.room !== undefined) return [event.room];
  return event.rooms === undefined ? [NO_ROOM] : [...new Set(event.rooms)];
}

/** A room's numbers, sorted. */
class Seqs {
  seqs: number[] = [];
  /** Those only members with `rooms` see. */
  hidden: number[] = [];
}

/** How many of sorted `seqs` are at most `seq`. */
function rank(seqs: readonly number[], seq: number): number {
  let low = 0;
  let high = seqs.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (seqs[mid]! <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** A room's events in a range, as the index counts them. */
export interface Counted {
  /** How many. */
  readonly count: number;
  /** Of those, the ones only members with `rooms` see. */
  readonly roomsOnly: number;
  /** Their numbers, newest first, as the reader asks for them. */
  newest(): Generator<number>;
}

/**
 * The rooms' numbers (see the module's doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoomSeqs } from "./room_seqs.ts";
 *
 * const index = new RoomSeqs();
 * index.add({ seq: 1, room: "#a", line: { type: "MSG" } });
 * index.add({ seq: 2, room: "#b", line: { type: "MSG" } });
 * index.add({ seq: 3, rooms: ["#a", "#b"], line: { type: "NICK" } });
 * const a = index.count("#a", 0, 10, false);
 * assert.equal(a.count, 2);
 * assert.deepEqual([...a.newest()], [3, 1]);
 * ```
 */
export class RoomSeqs {
  #rooms = new Map<string, Seqs>();
  /** One number an entry, in the order filed (for letting the oldest go). */
  #order: number[] = [];
  #head = 0;
  #from: number;
  #top: number;
  #window: number;

  /**
   * An empty index of the numbers above `from`, keeping about `window`
   * entries.
   */
  constructor(from = 0, window = CATCH_UP_SCAN_EVENTS) {
    this.#from = from;
    this.#top = from;
    this.#window = window;
  }

  /** It holds every number above this one (up to the last filed). */
  get from(): number {
    return this.#from;
  }

  /** The last number filed (or `from`). */
  get top(): number {
    return this.#top;
  }

  /** Files an event numbered above every one filed so far. */
  add(event: FiledEvent): void {
    const hidden = roomsOnly(event.line);
    // One room (every line said in a room): no list made a line.
    if (event.room !== undefined || event.rooms === undefined) {
      this.file(event.seq, event.room ?? NO_ROOM, hidden);
    } else this.file(event.seq, roomKeys(event), hidden);
  }

  /** Files number `seq` under room `keys` (or rooms: {@linkcode roomKeys}). */
  file(seq: number, keys: string | readonly string[], hidden: boolean): void {
    if (seq <= this.#top) return; // filed already (a reader's overlap)
    this.#top = seq;
    if (typeof keys === "string") this.#fileUnder(keys, seq, hidden);
    else for (const key of keys) this.#fileUnder(key, seq, hidden);
    const over = this.#order.length - this.#head - this.#window;
    if (over > 0) this.forgetThrough(this.#order[this.#head + over - 1]!);
  }

  #fileUnder(key: string, seq: number, hidden: boolean): void {
    let seqs = this.#rooms.get(key);
    if (seqs === undefined) this.#rooms.set(key, seqs = new Seqs());
    seqs.seqs.push(seq);
    if (hidden) seqs.hidden.push(seq);
    this.#order.push(seq);
  }

  /** Lets go of the numbers up to `seq`: it holds those above it only. */
  forgetThrough(seq: number): void {
    if (seq <= this.#from) return;
    this.#from = seq;
    this.#top = Math.max(this.#top, seq);
    while (this.#head < this.#order.length && this.#order[this.#head]! <= seq) {
      this.#head++;
    }
    if (this.#head > Math.max(1024, this.#order.length / 2)) this.#compact();
  }

  /** Forgets everything: it holds the numbers above `from` from now on. */
  restart(from: number): void {
    this.#rooms.clear();
    this.#order = [];
    this.#head = 0;
    this.#from = from;
    this.#top = from;
  }

  /**
   * Room `room`'s events numbered above `after` (and `from`) and below
   * `before`; with `defaultRoom`, those filed under {@linkcode NO_ROOM} too.
   */
  count(
    room: string,
    after: number,
    before: number,
    defaultRoom: boolean,
  ): Counted {
    const low = Math.max(after, this.#from);
    const high = before - 1;
    const lists = [this.#rooms.get(room)];
    if (defaultRoom && room !== NO_ROOM) lists.push(this.#rooms.get(NO_ROOM));
    let count = 0;
    let hidden = 0;
    const spans: [readonly number[], number, number][] = [];
    for (const seqs of lists) {
      if (seqs === undefined) continue;
      const start = rank(seqs.seqs, low);
      const end = rank(seqs.seqs, high);
      count += Math.max(0, end - start);
      hidden += Math.max(0, rank(seqs.hidden, high) - rank(seqs.hidden, low));
      spans.push([seqs.seqs, start, end]);
    }
    return { count, roomsOnly: hidden, newest: () => newestOf(spans) };
  }

  /** Drops the entries at or below `from` (now and then: amortized). */
  #compact(): void {
    this.#order = this.#order.slice(this.#head);
    this.#head = 0;
    for (const [key, seqs] of this.#rooms) {
      seqs.seqs = seqs.seqs.slice(rank(seqs.seqs, this.#from));
      seqs.hidden = seqs.hidden.slice(rank(seqs.hidden, this.#from));
      if (seqs.seqs.length === 0) this.#rooms.delete(key);
    }
  }
}

/** The numbers of sorted spans (`[list, start, end)`), newest first, merged. */
function* newestOf(
  spans: readonly [readonly number[], number, number][],
): Generator<number> {
  const at = spans.map(([, , end]) => end - 1);
  while (true) {
    let best = -1;
    for (let i = 0; i < spans.length; i++) {
      const [seqs, start] = spans[i]!;
      if (at[i]! < start) continue;
      if (best < 0 || seqs[at[i]!]! > spans[best]![0][at[best]!]!) best = i;
    }
    if (best < 0) return;
    yield spans[best]![0][at[best]!]!;
    at[best] = at[best]! - 1;
  }
}

/** Numbers a {@linkcode NewestReader} asks for at once, at most. */
const READ_PAGE = 64;

/**
 * Reads the newest of `counted`'s events that `options.limit` and `fits`
 * keep (no further back than the first whose size takes those kept past
 * `fits.bytes`), a page of numbers at a time, newest first: the log reads
 * the events of each page it still holds ({@linkcode NewestReader.take});
 * at most `misses` numbers asked for may be gone (retention, a trimmed
 * stream), and it asks for no more than the limit and those.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NewestReader, RoomSeqs } from "./room_seqs.ts";
 *
 * const index = new RoomSeqs();
 * for (let seq = 1; seq <= 5; seq++) {
 *   index.add({ seq, room: "#a", line: { type: "MSG" } });
 * }
 * const reader = new NewestReader(index.count("#a", 0, 9, false), { limit: 2 });
 * const page = reader.next();
 * assert.deepEqual(page, [5, 4]);
 * reader.take(page.map((seq) => ({ seq, time: 0, origin: "1", line: { type: "MSG", alias: "a", text: "" } })));
 * assert.deepEqual(reader.next(), []);
 * assert.deepEqual(reader.events.map((e) => e.seq), [4, 5]);
 * ```
 */
export class NewestReader {
  readonly #numbers: Generator<number>;
  readonly #limit: number;
  readonly #fits: SinceOptions["fits"];
  readonly #misses: number;
  readonly #kept: RoomEvent[] = [];
  #asked = 0;
  #bytes = 0;
  // Pages grow: a budget may take only a few of the longest lines.
  #pageSize = 8;
  #lastPage = 0;
  /** A number asked for was gone: the rest may be (deleted oldest first). */
  #missed = false;

  constructor(counted: Counted, { limit, fits }: SinceOptions, misses = 0) {
    this.#numbers = counted.newest();
    this.#limit = limit;
    this.#fits = fits;
    this.#misses = misses;
  }

  /** The numbers to read next, newest first; none: done. */
  next(): number[] {
    const page: number[] = [];
    if (this.#full()) return page;
    // Once numbers are found gone, pages are no longer cut to what the
    // limit lacks (one number a read, through thousands gone): a page past
    // it at most is read.
    const lacking = this.#missed ? Infinity : this.#limit - this.#kept.length;
    const most = Math.min(
      this.#pageSize,
      lacking,
      this.#limit + this.#misses - this.#asked,
    );
    this.#pageSize = Math.min(READ_PAGE, this.#pageSize * 2);
    while (page.length < most) {
      const next = this.#numbers.next();
      if (next.done) break;
      page.push(next.value);
    }
    this.#asked += page.length;
    this.#lastPage = page.length;
    return page;
  }

  /** The events of the page asked for that the log holds, newest first. */
  take(events: readonly RoomEvent[]): void {
    if (events.length < this.#lastPage) this.#missed = true;
    for (const event of events) {
      if (this.#full()) break;
      this.#kept.push(event);
      this.#bytes += this.#fits?.size(event) ?? 0;
    }
  }

  /** What was kept, oldest first. */
  get events(): RoomEvent[] {
    return this.#kept.toReversed();
  }

  #full(): boolean {
    return this.#kept.length >= this.#limit ||
      this.#bytes > (this.#fits?.bytes ?? Infinity);
  }
}

/**
 * {@linkcode NewestReader}'s events, read at once by `read` (a log that
 * holds them at hand: the caller's order of reads is the order answered).
 */
export function readNewest(
  counted: Counted,
  read: (seqs: readonly number[]) => readonly RoomEvent[],
  options: SinceOptions,
  misses = 0,
): RoomEvent[] {
  const reader = new NewestReader(counted, options, misses);
  for (let page = reader.next(); page.length > 0; page = reader.next()) {
    reader.take(read(page));
  }
  return reader.events;
}
