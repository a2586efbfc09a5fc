/**
 * The room log: the one place where room events get their order. The room
 * appends every line that everyone receives (messages, actions, joins,
 * leaves, renames, the topic, moderation); the log numbers it, keeps it as its kind of log keeps
 * things, and hands committed events, in order, to its one subscriber, which
 * fans them out. Nothing else assigns order, so whatever the log is (memory
 * today; a database or a Redis stream later), every member sees one order.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { ServerLine } from "../protocol.ts";

/** The line types that are room events (everyone receives them). */
export type RoomLineType =
  | "MSG"
  | "ME"
  | "JOIN"
  | "LEAVE"
  | "NICK"
  | "TOPIC"
  | "MOD";

/** A line everyone in the room receives. */
export type RoomLine = ServerLine<RoomLineType>;

/** A room line in the log's order. */
export interface RoomEvent {
  /** Position in the log: 1, 2, 3, ... with no gaps. */
  readonly seq: number;
  /** When the log took it, in milliseconds since the epoch. */
  readonly time: number;
  readonly line: RoomLine;
  /** Id of the member it came from (a joiner does not get its own JOIN). */
  readonly origin: string;
}

/** Receives committed events in log order. */
export type RoomEventSink = (event: RoomEvent) => void;

/** What a room needs from its log. */
export interface RoomLog {
  /** Sets the one consumer of committed events. */
  subscribe(sink: RoomEventSink): void;
  /**
   * Appends a line from member `origin`. The log orders it and hands it to
   * the subscriber once it is committed (at once, or later, in order).
   */
  append(line: RoomLine, origin: string): void;
  /** Commits what is pending and stops. */
  close(): Promise<void>;
}

/**
 * A log that keeps nothing: it numbers each line and hands it to the
 * subscriber at once, inside `append`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "../clock.ts";
 * import { MemoryLog } from "./room_log.ts";
 *
 * const log = new MemoryLog(systemClock);
 * const seen: number[] = [];
 * log.subscribe((event) => seen.push(event.seq));
 * log.append({ type: "MSG", alias: "a", text: "hi" }, "1");
 * log.append({ type: "MSG", alias: "a", text: "again" }, "1");
 * assert.deepEqual(seen, [1, 2]);
 * ```
 */
export class MemoryLog implements RoomLog {
  #clock: Clock;
  #sink: RoomEventSink = () => {};
  #seq = 0;

  /** Creates an empty log that timestamps with `clock`. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  subscribe(sink: RoomEventSink): void {
    this.#sink = sink;
  }

  append(line: RoomLine, origin: string): void {
    this.#sink({ seq: ++this.#seq, time: this.#clock.now(), line, origin });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
