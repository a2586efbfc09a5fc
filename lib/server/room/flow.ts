/**
 * Flow control of the room: when it is congested, and who holds it up.
 * The room is congested while some member's queue is above its watermark,
 * or while the lines appended and not yet handed on by the log pass
 * `backlogBytes`; senders wait ({@linkcode Flow.uncongested}) until it is
 * not. A member whose queue stays above its watermark for `stallMs`
 * without a break holds everyone up: it is dropped as slow. Only draining
 * below the watermark restarts that time; a peer that reads a little now
 * and then does not.
 *
 * @module
 */

import type { Clock, TimerId } from "../../clock.ts";
import type { RoomLine } from "./room_log.ts";

/** Options of {@linkcode Flow}. */
export interface FlowOptions<M> {
  /** Time, for the stall rule. */
  readonly clock: Clock;
  /** How long a queue may stay above its watermark (`--stall-timeout`). */
  readonly stallMs: number;
  /** Bytes appended and not handed on above which the room is congested. */
  readonly backlogBytes: number;
  /** The log's `settled()`: undefined when everything was handed on. */
  readonly settled: () => Promise<void> | undefined;
  /** Whether the member is still in the room. */
  readonly has: (member: M) => boolean;
  /** Drops members as too slow (the room's one decision about them). */
  readonly dropSlow: (members: readonly M[]) => void;
}

/** The room's congestion: queues above their watermark, and the backlog. */
export class Flow<M> {
  #options: FlowOptions<M>;
  /** Members whose queue is above its watermark, and since when it is. */
  #above = new Map<M, number>();
  #stallTimer: TimerId | undefined;
  /** About how many bytes were appended since the log last settled. */
  #backlog = 0;
  /** The backlog passed `backlogBytes`: waiting for the log to settle. */
  #backlogFull = false;
  /** Resolved once the room is no longer congested. */
  #free: PromiseWithResolvers<void> | null = null;
  /** Resolved once no member's queue is above its watermark. */
  #clear: PromiseWithResolvers<void> | null = null;

  /** Flow control with nobody above a watermark and nothing appended. */
  constructor(options: FlowOptions<M>) {
    this.#options = options;
  }

  /** Whether senders should wait. */
  get congested(): boolean {
    return this.#above.size > 0 || this.#backlogFull;
  }

  /** Resolves once the room is no longer {@linkcode congested}. */
  uncongested(): Promise<void> {
    if (!this.congested) return Promise.resolve();
    this.#free ??= Promise.withResolvers();
    return this.#free.promise;
  }

  /**
   * Undefined while no member's queue is above its watermark; otherwise
   * a promise that resolves once none is (each drained, or dropped as
   * slow after `stallMs`). What the log hands on from elsewhere waits on
   * it (`RoomLog.pace`); not on the backlog, which only its handing on
   * clears.
   */
  queuesClear(): Promise<void> | undefined {
    if (this.#above.size === 0) return undefined;
    this.#clear ??= Promise.withResolvers();
    return this.#clear.promise;
  }

  /**
   * A member's queue went above its watermark (`above` true), or is back
   * at or below it (false). Its time above counts from the first report
   * since it was last below.
   */
  reportQueue(member: M, above: boolean): void {
    if (!above) return this.forget(member);
    if (!this.#options.has(member) || this.#above.has(member)) return;
    this.#above.set(member, this.#options.clock.now());
    if (this.#stallTimer === undefined && this.#options.stallMs !== Infinity) {
      this.#stallTimer = this.#options.clock.setTimeout(
        () => this.#dropStalled(),
        this.#options.stallMs,
      );
    }
  }

  /** A member is no longer above its watermark (or gone). */
  forget(member: M): void {
    if (!this.#above.delete(member)) return;
    if (this.#above.size === 0) {
      this.#options.clock.clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
    }
    this.#release();
  }

  /** Counts a line just appended to the log toward the backlog. */
  appended(line: RoomLine): void {
    this.#backlog += "text" in line ? line.text.length + 64 : 64;
    if (this.#backlog < this.#options.backlogBytes || this.#backlogFull) {
      return;
    }
    const settled = this.#options.settled();
    if (settled === undefined) {
      this.#backlog = 0;
      return;
    }
    this.#backlogFull = true;
    settled.then(() => this.handedOn());
  }

  /**
   * The log handed lines on (or settled, or reported lines lost): what
   * was appended before has reached the queues.
   */
  handedOn(): void {
    this.#backlog = 0;
    if (!this.#backlogFull) return;
    this.#backlogFull = false;
    this.#release();
  }

  /** Whether anything appended is counted as not handed on yet. */
  get backlogged(): boolean {
    return this.#backlog !== 0;
  }

  /** Stops the stall timer (at shutdown). */
  close(): void {
    this.#options.clock.clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  /** Lets waiting senders go on, once the room is not congested. */
  #release(): void {
    if (this.#clear !== null && this.#above.size === 0) {
      this.#clear.resolve();
      this.#clear = null;
    }
    if (this.#free === null || this.congested) return;
    this.#free.resolve();
    this.#free = null;
  }

  /**
   * Drops the members whose queue has stayed above its watermark for
   * `stallMs` without a break (they hold everyone up), and watches the
   * others.
   */
  #dropStalled(): void {
    const { clock, stallMs, has } = this.#options;
    this.#stallTimer = undefined;
    const now = clock.now();
    const stalled: M[] = [];
    let next = Infinity;
    for (const [member, since] of this.#above) {
      if (!has(member)) this.#above.delete(member); // gone meanwhile
      else if (now - since >= stallMs) stalled.push(member);
      else next = Math.min(next, since + stallMs - now);
    }
    this.#options.dropSlow(stalled);
    if (next !== Infinity) {
      this.#stallTimer = clock.setTimeout(() => this.#dropStalled(), next);
    }
    this.#release();
  }
}
