/**
 * The window of ids every room log keeps in memory: the ids of the lines
 * it stored lately, each with its line's sign (`lineSign` in `room_log.ts`), so
 * that a line whose id it holds is not stored again (see `room_log.ts`).
 * It keeps at least the last {@linkcode DEDUPE_MIN_LINES} ids and those of
 * the last {@linkcode DEDUPE_MIN_MS}, at most {@linkcode DEDUPE_MAX_LINES}.
 *
 * @module
 */

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

/** A line's id in {@linkcode RecentIds}: when it was taken, and its sign. */
interface IdEntry {
  readonly id: string;
  readonly time: number;
  sign: HeldSign;
}

/**
 * The ids of the last lines a log stored, in the order stored: it keeps the
 * last `minLines`, and any taken less than `minMs` before the newest, up
 * to `maxLines` in all.
 */
export class RecentIds {
  #lines = new Map<string, IdEntry>();
  /**
   * The entries in the order added, oldest first from `#head` on: the
   * oldest is found without walking the map (a map whose oldest keys are
   * deleted one by one is walked past every deleted key again, tens of µs
   * an id once the window is full). Entries deleted or added again stay
   * here until they come up (see `#compact`).
   */
  #order: IdEntry[] = [];
  #head = 0;
  #minLines: number;
  #minMs: number;
  #maxLines: number;

  /** Creates an empty window. */
  constructor(options: RecentIdsOptions = {}) {
    this.#minLines = options.minLines ?? DEDUPE_MIN_LINES;
    this.#minMs = options.minMs ?? DEDUPE_MIN_MS;
    this.#maxLines = options.maxLines ?? DEDUPE_MAX_LINES;
  }

  /** How many ids it holds. */
  get size(): number {
    return this.#lines.size;
  }

  /** Whether a line with this id is in the window. */
  has(id: string): boolean {
    return this.#lines.has(id);
  }

  /**
   * What a line with this id and `sign` is: `new` (the id is free),
   * `duplicate` (the window holds the same line under it), or `reused`
   * (it holds another line under it).
   */
  check(id: string, sign: string): "new" | "duplicate" | "reused" {
    const held = this.#lines.get(id);
    if (held === undefined) return "new";
    return held.sign === sign ? "duplicate" : "reused";
  }

  /**
   * What the window holds for `id`: its line's sign, the number of its
   * line (its sign not computed yet), or undefined (the id is free).
   */
  held(id: string): HeldSign | undefined {
    return this.#lines.get(id)?.sign;
  }

  /** Records the sign computed for the line under `id`. */
  sign(id: string, sign: string): void {
    const entry = this.#lines.get(id);
    if (entry !== undefined) entry.sign = sign;
  }

  /**
   * Adds the id of a line taken at `time` (the newest) with its sign (or
   * its number: see {@linkcode HeldSign}), forgetting old ones.
   */
  add(id: string, time: number, sign: HeldSign): void {
    const lines = this.#lines;
    const entry = { id, time, sign };
    lines.set(id, entry);
    this.#order.push(entry);
    while (lines.size > this.#minLines) {
      const oldest = this.#order[this.#head]!;
      if (lines.get(oldest.id) === oldest) {
        if (lines.size <= this.#maxLines && oldest.time > time - this.#minMs) {
          break;
        }
        lines.delete(oldest.id);
      }
      this.#head++;
    }
    this.#compact();
  }

  /** Forgets an id (its line was not stored after all). */
  delete(id: string): void {
    this.#lines.delete(id);
  }

  /**
   * Drops the entries passed, and those deleted or added again, once they
   * are as many as those held: the order stays within twice the window.
   */
  #compact(): void {
    const order = this.#order;
    if (order.length - this.#head <= 2 * this.#lines.size + 64) {
      if (this.#head <= order.length / 2 || this.#head < 1024) return;
      this.#order = order.slice(this.#head);
    } else {
      this.#order = order.slice(this.#head).filter((entry) =>
        this.#lines.get(entry.id) === entry
      );
    }
    this.#head = 0;
  }
}
