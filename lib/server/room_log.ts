/**
 * The room log: the one place where room events get their order. The room
 * appends every line that everyone receives (messages, actions, joins,
 * leaves, renames, the topic, moderation); the log numbers it (a sequence
 * number that only grows, and a server timestamp), keeps it as its kind of
 * log keeps things, and hands committed events, in order, to its one
 * subscriber, which fans them out. Nothing else assigns order, so whatever
 * the log is, every member sees one order, and history is what the log
 * holds.
 *
 * Every log also keeps the most recent messages and actions in memory
 * ({@linkcode RecentEvents}), so that history on join is read at once, in
 * the same step as the member starts receiving live events: no line is
 * both in its history and live, and none falls between the two.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { ServerLine } from "../protocol.ts";

/** The line types that are room events (everyone receives them). */
export const ROOM_LINE_TYPES = [
  "MSG",
  "ME",
  "JOIN",
  "LEAVE",
  "NICK",
  "TOPIC",
  "MOD",
] as const;

/** A type of room event. */
export type RoomLineType = (typeof ROOM_LINE_TYPES)[number];

/** A line everyone in the room receives. */
export type RoomLine = ServerLine<RoomLineType>;

/** The room events replayed as history: messages and actions. */
export const HISTORY_TYPES: ReadonlySet<RoomLineType> = new Set(["MSG", "ME"]);

/** A room line in the log's order. */
export interface RoomEvent {
  /**
   * Position in the log: 1, 2, 3, ... with no gaps; a durable log never
   * reuses one, across restarts too.
   */
  readonly seq: number;
  /** When the log took it, in milliseconds since the epoch. */
  readonly time: number;
  readonly line: RoomLine;
  /** Id of the member it came from (a joiner does not get its own JOIN). */
  readonly origin: string;
  /**
   * What the other servers of a cluster need to carry the event out: for a
   * `LEAVE` decided elsewhere (a kick, a login from another connection),
   * the `BYE` text for the member, if it is there; for a `MOD` of a ban or
   * mute, the sanctions in force after it (JSON). Not stored on one server.
   */
  readonly note?: string;
}

/** Receives committed events in log order. */
export type RoomEventSink = (event: RoomEvent) => void;

/**
 * Told when appended lines could not be committed: they were never
 * delivered, and their senders should hear so.
 */
export type RoomLogFailure = (
  lost: readonly { readonly line: RoomLine; readonly origin: string }[],
  error: unknown,
) => void;

/** What a room needs from its log. */
export interface RoomLog {
  /** Sets the one consumer of committed events, and of failed appends. */
  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void;
  /**
   * Appends a line from member `origin`, with a `note` for the other
   * servers of a cluster. The log orders it and hands it to the subscriber
   * once it is committed (at once, or later, in order).
   */
  append(line: RoomLine, origin: string, note?: string): void;
  /**
   * Undefined when every line appended so far has been handed on;
   * otherwise a promise that resolves once they have been (or were
   * reported lost). A member waits on it before its next line, so that the
   * server answers its lines in the order they were sent.
   */
  settled(): Promise<void> | undefined;
  /**
   * The last `limit` committed messages and actions, oldest first, from
   * memory (at most as many as the log was made to keep at hand).
   */
  recent(limit: number): readonly RoomEvent[];
  /**
   * Committed events after sequence number `seq`, oldest first, at most
   * `limit` (as far as this log keeps them).
   */
  since(seq: number, limit: number): Promise<readonly RoomEvent[]>;
  /** Commits what is pending and stops. */
  close(): Promise<void>;
}

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

/**
 * A log in memory: it numbers each line and hands it to the subscriber at
 * once, inside `append`, and keeps only the last `keep` messages and
 * actions (a bounded ring: a restart forgets them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "../clock.ts";
 * import { MemoryLog } from "./room_log.ts";
 *
 * const log = new MemoryLog(systemClock, 10);
 * const seen: number[] = [];
 * log.subscribe((event) => seen.push(event.seq));
 * log.append({ type: "MSG", alias: "a", text: "hi" }, "1");
 * log.append({ type: "JOIN", alias: "b", online: "2" }, "2");
 * log.append({ type: "MSG", alias: "a", text: "again" }, "1");
 * assert.deepEqual(seen, [1, 2, 3]);
 * assert.deepEqual(log.recent(10).map((e) => e.seq), [1, 3]);
 * ```
 */
export class MemoryLog implements RoomLog {
  #clock: Clock;
  #sink: RoomEventSink = () => {};
  #seq = 0;
  #recent: RecentEvents;

  /** Creates an empty log that timestamps with `clock` and keeps `keep`. */
  constructor(clock: Clock, keep = 0) {
    this.#clock = clock;
    this.#recent = new RecentEvents(keep);
  }

  subscribe(sink: RoomEventSink): void {
    this.#sink = sink;
  }

  append(line: RoomLine, origin: string, note?: string): void {
    const event = {
      seq: ++this.#seq,
      time: this.#clock.now(),
      line,
      origin,
      note,
    };
    this.#recent.add(event);
    this.#sink(event);
  }

  settled(): undefined {
    return undefined; // handed on inside append
  }

  recent(limit: number): readonly RoomEvent[] {
    return this.#recent.last(limit);
  }

  since(seq: number, limit: number): Promise<readonly RoomEvent[]> {
    const kept = this.#recent.last(this.#recent.capacity);
    return Promise.resolve(kept.filter((e) => e.seq > seq).slice(0, limit));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
