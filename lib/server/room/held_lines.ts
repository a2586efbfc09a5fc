/**
 * A member's lines held while a catch-up is read (`RoomLog.since` may
 * answer later): what it is sent meanwhile waits, in order, behind a
 * slot the catch-up fills; once the slot is filled, everything up to the
 * next unfilled slot goes out. Bounded: it holds at most `limitBytes`
 * (the member's queue limit); past that the member is too slow.
 *
 * @module
 */

/** A place among held lines for lines that come later. */
interface Slot {
  lines: readonly Uint8Array[] | null;
}

/**
 * Lines held in order, with slots to fill.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeldLines } from "./held_lines.ts";
 *
 * const line = (text: string) => new TextEncoder().encode(text);
 * const held = new HeldLines(100);
 * const fill = held.slot();
 * held.add(line("live"));
 * assert.deepEqual(held.ready(), []);
 * fill([line("missed")]);
 * assert.deepEqual(held.ready(), [line("missed"), line("live")]);
 * assert.equal(held.empty, true);
 * ```
 */
export class HeldLines {
  #items: (Uint8Array | Slot)[] = [];
  #bytes = 0;
  #limitBytes: number;

  /** Holds at most `limitBytes`. */
  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  /** Holds a line; false when that makes more than the limit. */
  add(line: Uint8Array): boolean {
    this.#items.push(line);
    this.#bytes += line.length;
    return this.#bytes <= this.#limitBytes;
  }

  /** A slot after what is held; call the function it returns to fill it. */
  slot(): (lines: readonly Uint8Array[]) => void {
    const slot: Slot = { lines: null };
    this.#items.push(slot);
    return (lines) => {
      slot.lines = lines;
    };
  }

  /** Takes what can go out now: everything before the first unfilled slot. */
  ready(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.#items.length > 0) {
      const item = this.#items[0]!;
      if (item instanceof Uint8Array) {
        this.#bytes -= item.length;
        out.push(item);
      } else if (item.lines === null) {
        break;
      } else {
        out.push(...item.lines);
      }
      this.#items.shift();
    }
    return out;
  }

  /** Whether nothing is held (and no slot waits). */
  get empty(): boolean {
    return this.#items.length === 0;
  }
}
