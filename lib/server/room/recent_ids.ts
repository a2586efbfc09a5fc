/**
 * The window of ids every room log keeps in memory: the ids of the lines
 * it stored lately, each with its line's sign (`lineSign` in `room_log.ts`), so
 * that a line whose id it holds is not stored again (see `room_log.ts`).
 * It keeps at least the last {@linkcode DEDUPE_MIN_LINES} ids and those of
 * the last {@linkcode DEDUPE_MIN_MS}, at most {@linkcode DEDUPE_MAX_LINES}.
 *
 * It holds them in a ring of columns and a table of its own (typed arrays,
 * open addressing), not in a `Map` of entries: at a busy room's rate every
 * id lives seconds, long enough for the garbage collector to move each entry
 * to its old generation, and a `Map` with an id in and an id out per line
 * rebuilds its table every few tens of thousands of lines; both made the
 * window the largest part of what a busy durable server promoted (see
 * `docs/performance.md`, "c's tail in 250-ms slices").
 *
 * @module
 */

import type { StoredAt } from "./room_log.ts";

/** A log remembers the ids of at least the last this many lines. */
export const DEDUPE_MIN_LINES = 10_000;
/** It also remembers those of lines taken this recently (milliseconds). */
export const DEDUPE_MIN_MS = 600_000;
/** It remembers no more than this many ids (each about 100 bytes). */
export const DEDUPE_MAX_LINES = 100_000;

/** Options of {@linkcode RecentIds}, for tests. */
export interface RecentIdsOptions {
  /** @default {DEDUPE_MIN_LINES} */
  readonly minLines?: number;
  /** @default {DEDUPE_MIN_MS} */
  readonly minMs?: number;
  /** @default {DEDUPE_MAX_LINES} */
  readonly maxLines?: number;
}

/**
 * What {@linkcode RecentIds} holds for an id: the line's sign, or the
 * number of the line in its log (a log that can read its lines back
 * computes the sign only when the id comes again: see
 * {@linkcode RecentIds.held}).
 */
export type HeldSign = string | number;

/** Places in the ring at first (it doubles as needed). */
const FIRST_CAPACITY = 1024;

/**
 * The ids of the last lines a log stored, in the order stored: it keeps the
 * last `minLines`, and any taken less than `minMs` before the newest, up
 * to `maxLines` in all.
 */
export class RecentIds {
  /**
   * The ring: place `i` holds an id (undefined once forgotten: deleted,
   * added again, or past), the time it was taken, its sign and its hash.
   * Places from `#head` to `#tail` (counted from the first id ever, the
   * ring's place being the count masked) are in the order added.
   */
  #ids: (string | undefined)[];
  #times: Float64Array;
  /** The number of the line in its log (0: not known). */
  #seqs: Float64Array;
  #signs: HeldSign[];
  #hashes: Int32Array;
  #head = 0;
  #tail = 0;
  /**
   * Open addressing with linear probing, twice the ring's size: each cell
   * the ring place of an id held, plus one (0: empty).
   */
  #table: Int32Array;
  #size = 0;
  /** Random for each window: ids a client chose cannot be made to collide. */
  #seed = crypto.getRandomValues(new Int32Array(1))[0]!;
  #minLines: number;
  #minMs: number;
  #maxLines: number;

  /** Creates an empty window. */
  constructor(options: RecentIdsOptions = {}) {
    this.#minLines = Math.max(0, options.minLines ?? DEDUPE_MIN_LINES);
    this.#minMs = options.minMs ?? DEDUPE_MIN_MS;
    this.#maxLines = options.maxLines ?? DEDUPE_MAX_LINES;
    this.#ids = new Array(FIRST_CAPACITY);
    this.#times = new Float64Array(FIRST_CAPACITY);
    this.#seqs = new Float64Array(FIRST_CAPACITY);
    this.#signs = new Array(FIRST_CAPACITY);
    this.#hashes = new Int32Array(FIRST_CAPACITY);
    this.#table = new Int32Array(2 * FIRST_CAPACITY);
  }

  /** How many ids it holds. */
  get size(): number {
    return this.#size;
  }

  /** Whether a line with this id is in the window. */
  has(id: string): boolean {
    return this.#find(id, this.#hash(id)) >= 0;
  }

  /**
   * What a line with this id and `sign` is: `new` (the id is free),
   * `duplicate` (the window holds the same line under it), or `reused`
   * (it holds another line under it).
   */
  check(id: string, sign: string): "new" | "duplicate" | "reused" {
    const held = this.held(id);
    if (held === undefined) return "new";
    return held === sign ? "duplicate" : "reused";
  }

  /**
   * What the window holds for `id`: its line's sign, the number of its
   * line (its sign not computed yet), or undefined (the id is free).
   */
  held(id: string): HeldSign | undefined {
    const cell = this.#find(id, this.#hash(id));
    return cell < 0 ? undefined : this.#signs[this.#table[cell]! - 1];
  }

  /**
   * The number and time of the line held under `id`, when it was added
   * with its number; undefined otherwise (or when the id is free).
   */
  stored(id: string): StoredAt | undefined {
    const cell = this.#find(id, this.#hash(id));
    if (cell < 0) return undefined;
    const place = this.#table[cell]! - 1;
    const seq = this.#seqs[place]!;
    return seq > 0 ? { seq, time: this.#times[place]! } : undefined;
  }

  /** Records the sign computed for the line under `id`. */
  sign(id: string, sign: string): void {
    const cell = this.#find(id, this.#hash(id));
    if (cell >= 0) this.#signs[this.#table[cell]! - 1] = sign;
  }

  /**
   * Adds the id of a line taken at `time` (the newest) with its sign (or
   * its number: see {@linkcode HeldSign}) and its number in its log (`seq`,
   * for {@linkcode RecentIds.stored}; 0: not known), forgetting old ones.
   */
  add(id: string, time: number, sign: HeldSign, seq = 0): void {
    if (this.#tail - this.#head === this.#ids.length) this.#resize();
    const hash = this.#hash(id);
    const place = this.#tail++ & (this.#ids.length - 1);
    this.#ids[place] = id;
    this.#times[place] = time;
    this.#seqs[place] = seq;
    this.#signs[place] = sign;
    this.#hashes[place] = hash;
    const cell = this.#find(id, hash);
    if (cell >= 0) {
      // Added again: the newer place holds it, the older one is passed.
      this.#forget(this.#table[cell]! - 1);
      this.#table[cell] = place + 1;
    } else {
      this.#table[~cell] = place + 1;
      this.#size++;
    }
    this.#forgetOld(time);
  }

  /** Forgets an id (its line was not stored after all). */
  delete(id: string): void {
    const cell = this.#find(id, this.#hash(id));
    if (cell < 0) return;
    this.#forget(this.#table[cell]! - 1);
    this.#remove(cell);
  }

  /** Forgets the oldest ids past the window, `time` being the newest's. */
  #forgetOld(time: number): void {
    const mask = this.#ids.length - 1;
    while (this.#size > this.#minLines) {
      const place = this.#head & mask;
      const id = this.#ids[place];
      if (id !== undefined) {
        if (
          this.#size <= this.#maxLines &&
          this.#times[place]! > time - this.#minMs
        ) {
          break;
        }
        this.#remove(this.#find(id, this.#hashes[place]!));
      }
      this.#forget(place);
      this.#head++;
    }
  }

  /** Lets a place's id and sign go (a sign string with it). */
  #forget(place: number): void {
    this.#ids[place] = undefined;
    this.#signs[place] = 0;
  }

  /**
   * The ring is full: twice the size, or the same size without the places
   * passed when they are half of it (many ids deleted: a long outage); the
   * places held keep their order, and the table is made again.
   */
  #resize(): void {
    const old = this.#ids.length;
    const capacity = this.#size > old / 2 ? 2 * old : old;
    const ids: (string | undefined)[] = new Array(capacity);
    const times = new Float64Array(capacity);
    const seqs = new Float64Array(capacity);
    const signs: HeldSign[] = new Array(capacity);
    const hashes = new Int32Array(capacity);
    let kept = 0;
    for (let at = this.#head; at < this.#tail; at++) {
      const place = at & (old - 1);
      if (this.#ids[place] === undefined) continue;
      ids[kept] = this.#ids[place];
      times[kept] = this.#times[place]!;
      seqs[kept] = this.#seqs[place]!;
      signs[kept] = this.#signs[place]!;
      hashes[kept] = this.#hashes[place]!;
      kept++;
    }
    this.#ids = ids;
    this.#times = times;
    this.#seqs = seqs;
    this.#signs = signs;
    this.#hashes = hashes;
    this.#head = 0;
    this.#tail = kept;
    this.#table = new Int32Array(2 * capacity);
    for (let place = 0; place < kept; place++) {
      this.#table[~this.#find(ids[place]!, hashes[place]!)] = place + 1;
    }
  }

  /**
   * The table's cell holding `id` (of `hash`), or, when it holds none,
   * minus one minus the empty cell where it would go: `~cell` (not
   * `-cell - 1`, whose `-0` for cell 0 is not a small integer: V8 threw
   * its optimized lookups away the first time, and compiled them again).
   */
  #find(id: string, hash: number): number {
    const table = this.#table;
    const mask = table.length - 1;
    for (let cell = hash & mask;; cell = (cell + 1) & mask) {
      const entry = table[cell]!;
      if (entry === 0) return ~cell;
      if (this.#hashes[entry - 1] === hash && this.#ids[entry - 1] === id) {
        return cell;
      }
    }
  }

  /**
   * Empties a cell, moving back the ids after it that their probe would no
   * longer reach (linear probing keeps no tombstones).
   */
  #remove(cell: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    this.#size--;
    let hole = cell;
    for (let next = (hole + 1) & mask;; next = (next + 1) & mask) {
      const entry = table[next]!;
      if (entry === 0) break;
      const home = this.#hashes[entry - 1]! & mask;
      // Moved back when its home is not within (hole, next], cyclically.
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        table[hole] = entry;
        hole = next;
      }
    }
    table[hole] = 0;
  }

  /**
   * A seeded 32-bit hash of an id's characters, mixed at the end (ids that
   * differ in their last character only spread as well as any).
   */
  #hash(id: string): number {
    let hash = this.#seed;
    for (let i = 0; i < id.length; i++) {
      hash = Math.imul(hash ^ id.charCodeAt(i), 0x9e3779b1);
      hash ^= hash >>> 15;
    }
    hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
    hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
    return hash ^ (hash >>> 16);
  }
}
