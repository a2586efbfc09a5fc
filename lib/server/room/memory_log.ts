/**
 * The room log in memory: the default when history is off, and the test
 * double of every other {@linkcode RoomLog}. It numbers each line and hands
 * it on inside `append`, keeps the last messages in a bounded ring, and
 * forgets everything (ids included) on restart.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import {
  type AppendOptions,
  lineSign,
  RecentEvents,
  RecentIds,
  type RecentIdsOptions,
  type RoomEvent,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
} from "./room_log.ts";

/**
 * A log in memory: it numbers each line and hands it to the subscriber at
 * once, inside `append`, and keeps only the last `keep` messages and
 * actions (a bounded ring: a restart forgets them, and the ids it stored).
 * A line whose id it holds is reported `duplicate` or `reused`, at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "../../clock.ts";
 * import { MemoryLog } from "./memory_log.ts";
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
  #failed: RoomLogFailure = () => {};
  #seq = 0;
  #recent: RecentEvents;
  #ids: RecentIds;

  /**
   * Creates an empty log that timestamps with `clock` and keeps `keep`
   * (`ids`: the window of ids, for tests).
   */
  constructor(clock: Clock, keep = 0, ids: RecentIdsOptions = {}) {
    this.#clock = clock;
    this.#recent = new RecentEvents(keep);
    this.#ids = new RecentIds(ids);
  }

  subscribe(sink: RoomEventSink, failed?: RoomLogFailure): void {
    this.#sink = sink;
    this.#failed = failed ?? (() => {});
  }

  append(line: RoomLine, origin: string, options: AppendOptions = {}): void {
    const { id } = options;
    const time = this.#clock.now();
    if (id !== undefined) {
      const sign = lineSign(line);
      const known = this.#ids.check(id, sign);
      if (known !== "new") {
        return this.#failed([{ line, origin, id }], known, null);
      }
      this.#ids.add(id, time, sign);
    }
    const event: { -readonly [K in keyof RoomEvent]: RoomEvent[K] } = {
      seq: ++this.#seq,
      time,
      line,
      origin,
      effect: options.effect,
      id,
    };
    if (options.room !== undefined) event.room = options.room;
    this.#recent.add(event);
    this.#sink(event);
  }

  settled(): undefined {
    return undefined; // handed on inside append
  }

  recent(limit: number): readonly RoomEvent[] {
    return this.#recent.last(limit);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
