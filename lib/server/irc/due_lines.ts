/**
 * The lines the IRC door hands its session, not yet read by it, and when
 * each is due: a line handed is due at once unless it is paid for with a
 * flood token ({@linkcode DueLines.pay}), then when that token is. Pure
 * (the time is given).
 *
 * @module
 */

import type { InboundLine } from "../room/connection.ts";

/** Lines for the session, each with the time it is due. */
export class DueLines {
  #lines: InboundLine[] = [];
  #dueMs: number[] = [];

  /** Lines handed and not yet taken. */
  get length(): number {
    return this.#lines.length;
  }

  /** A line, due now (until paid for). */
  push(line: InboundLine): void {
    this.#lines.push(line);
    this.#dueMs.push(0);
  }

  /**
   * The lines from `from` on, each due once its token is: `take` takes a
   * token and says in how many ms it is due.
   */
  pay(from: number, now: number, take: () => number): void {
    for (let i = from; i < this.#lines.length; i++) {
      this.#dueMs[i] = now + take();
    }
  }

  /** The lines due at `now`, in order, or how long until the first is. */
  due(now: number): InboundLine[] | number {
    const late = this.#dueMs.findIndex((ms) => ms > now);
    const n = late === -1 ? this.#dueMs.length : late;
    if (n === 0) return this.#dueMs[0]! - now;
    this.#dueMs.splice(0, n);
    return this.#lines.splice(0, n);
  }
}
