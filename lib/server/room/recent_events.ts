/**
 * The ring of a room's (or a log's) last messages and actions, what history
 * on join reads whatever the log behind it: bounded, forgetting what
 * retention deleted.
 *
 * @module
 */

import { HISTORY_TYPES, type RoomEvent } from "./room_log.ts";

/**
 * The last messages and actions, in a bounded ring: what history on join
 * reads, whatever the log behind it.
 */
export class RecentEvents {
  readonly capacity: number;
  #ring: (RoomEvent | undefined)[];
  #next = 0;
  #size = 0;

  /** Creates a ring for `capacity` events (0 keeps none). */
  constructor(capacity: number) {
    this.capacity = capacity;
    this.#ring = new Array(capacity);
  }

  /** Keeps `event` if it is a message or an action. */
  add(event: RoomEvent): void {
    if (this.capacity === 0 || !HISTORY_TYPES.has(event.line.type)) return;
    this.#ring[this.#next] = event;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** Forgets the events numbered `seq` or lower (retention deleted them). */
  forgetUpTo(seq: number): void {
    while (this.#size > 0) {
      const oldest = (this.#next - this.#size + this.capacity) % this.capacity;
      if (this.#ring[oldest]!.seq > seq) return;
      this.#ring[oldest] = undefined;
      this.#size--;
    }
  }

  /** The last `limit` kept, oldest first. */
  last(limit: number): RoomEvent[] {
    const count = Math.min(limit, this.#size);
    const out: RoomEvent[] = [];
    for (let i = count; i > 0; i--) {
      out.push(this.#ring[(this.#next - i + this.capacity) % this.capacity]!);
    }
    return out;
  }
}
