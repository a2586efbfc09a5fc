/**
 * Many deadlines on one clock timer. Every member has a deadline (the idle
 * check), and a pending `setTimeout` costs about 0.7 KB of JavaScript heap
 * (1.3 KB of RSS) in Deno: {@linkcode Deadlines} keeps them in a min-heap,
 * ordered by time and then by when they were set (as timers run), with one
 * clock timer for the earliest. A cancelled deadline lets go of its callback
 * at once and leaves the heap when it comes up; once none is left, the clock
 * timer is cancelled too.
 *
 * @module
 */

import type { Clock, TimerId } from "../../clock.ts";

/** A deadline set with {@linkcode Deadlines.set}; pass it to `clear`. */
export interface Deadline {
  readonly at: number;
}

class Entry implements Deadline {
  constructor(
    readonly at: number,
    readonly order: number,
    public fn: (() => void) | null,
  ) {}
}

/** Deadlines on one clock, run in order of time, one clock timer for all. */
export class Deadlines {
  #clock: Clock;
  #heap: Entry[] = [];
  /** Deadlines set and neither run nor cleared. */
  #live = 0;
  #order = 0;
  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #running = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Calls `fn` once, `ms` from now, unless cleared before. */
  set(fn: () => void, ms: number): Deadline {
    const entry = new Entry(
      this.#clock.now() + Math.max(0, ms),
      this.#order++,
      fn,
    );
    this.#push(entry);
    this.#live++;
    if (!this.#running && entry.at < this.#timerAt) this.#arm();
    return entry;
  }

  /** Cancels a deadline; ignores `undefined` and deadlines already run. */
  clear(deadline: Deadline | undefined): void {
    if (!(deadline instanceof Entry) || deadline.fn === null) return;
    deadline.fn = null;
    if (--this.#live > 0) return;
    // Only cancelled ones are left: nothing more to wait for.
    this.#heap = [];
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** Deadlines set and neither run nor cleared. */
  get size(): number {
    return this.#live;
  }

  #arm(): void {
    this.#clock.clearTimeout(this.#timer);
    // Only cancelled ones left (the last live one just ran): a timer for
    // them would keep the process alive for nothing, after shutdown too.
    if (this.#live === 0) this.#heap = [];
    const first = this.#heap[0];
    if (first === undefined) {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      return;
    }
    this.#timerAt = first.at;
    this.#timer = this.#clock.setTimeout(
      () => this.#run(),
      first.at - this.#clock.now(),
    );
  }

  /** Runs every deadline that is due, then waits for the next one. */
  #run(): void {
    this.#timer = undefined;
    this.#running = true;
    try {
      const now = this.#clock.now();
      while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
        const entry = this.#pop();
        const fn = entry.fn;
        if (fn === null) continue;
        entry.fn = null;
        this.#live--;
        fn();
      }
    } finally {
      this.#running = false;
      this.#arm();
    }
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Entry {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    while (true) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!)
        ? right
        : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

const byClock = new WeakMap<Clock, Deadlines>();

/** The deadlines of a clock: one set (and one timer) per clock. */
export function deadlinesOf(clock: Clock): Deadlines {
  let deadlines = byClock.get(clock);
  if (deadlines === undefined) {
    deadlines = new Deadlines(clock);
    byClock.set(clock, deadlines);
  }
  return deadlines;
}
