/**
 * Tombstones in memory: the number and room of each event a log in memory
 * no longer holds (`memory_log.ts`: what its ring of events let go), the
 * newest `kept` of them, so that a catch-up says exactly how many of a
 * room's lines are missing ({@linkcode LogRange.lost}) while every event
 * lost after its position is remembered, and that it cannot know (a gap)
 * otherwise. One entry per room an event belongs to (a rename or a leave
 * of the server: each room it reached); a fixed ring, never more.
 *
 * @module
 */

import type { RoomEvent } from "./room_log.ts";
import { type Lost, roomsOnly, type SinceOptions } from "./since.ts";

/** Tombstones kept by default (`--history-tombstones`). */
export const DEFAULT_TOMBSTONES = 100_000;

/** A room's events no longer held (see the module). */
export class Tombstones {
  #seqs: number[] = [];
  /** Each one's room (undefined: the default room, it named none). */
  #rooms: (string | undefined)[] = [];
  #roomsOnly: boolean[] = [];
  #next = 0;
  #capacity: number;
  /** The newest number of an event let go that is not remembered. */
  #untold = 0;

  /** Remembers at most `capacity` (0: none, every loss then unknown). */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Remembers that the log no longer holds `event`. */
  add(event: RoomEvent): void {
    const hidden = roomsOnly(event.line);
    if (event.room !== undefined || event.rooms === undefined) {
      this.#put(event.seq, event.room, hidden);
    } else {
      for (const room of event.rooms) this.#put(event.seq, room, hidden);
    }
  }

  /**
   * How many of room `room`'s events numbered above `after` (and below
   * `options.before`) are no longer held, or null when some of those may
   * have gone unremembered.
   */
  count(room: string, after: number, options: SinceOptions): Lost | null {
    if (after < this.#untold) return null;
    const before = options.before ?? Infinity;
    let lines = 0;
    let hidden = 0;
    for (let i = 0; i < this.#seqs.length; i++) {
      const seq = this.#seqs[i]!;
      if (seq <= after || seq >= before) continue;
      const name = this.#rooms[i];
      const belongs = name === undefined
        ? options.defaultRoom ?? false
        : name === room;
      if (!belongs) continue;
      lines++;
      if (this.#roomsOnly[i]) hidden++;
    }
    return { lines, roomsOnly: hidden };
  }

  #put(seq: number, room: string | undefined, hidden: boolean): void {
    if (this.#capacity === 0) {
      this.#untold = Math.max(this.#untold, seq);
      return;
    }
    if (this.#seqs.length === this.#capacity) {
      this.#untold = Math.max(this.#untold, this.#seqs[this.#next]!);
    }
    this.#seqs[this.#next] = seq;
    this.#rooms[this.#next] = room;
    this.#roomsOnly[this.#next] = hidden;
    this.#next = (this.#next + 1) % this.#capacity;
  }
}
