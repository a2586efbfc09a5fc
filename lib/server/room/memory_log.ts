/**
 * The room log in memory: the default when history is off, and the test
 * double of every other {@linkcode RoomLog}. It numbers each line and hands
 * it on inside `append`, keeps the last messages in a bounded ring (and
 * the last events of every kind in another, for catch-up, with tombstones
 * of those it let go), and forgets everything (ids included) on restart:
 * its epoch is new in each process. It follows each member's rooms, so
 * that a rename or a leave of the server carries the rooms it reaches.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import {
  type AppendOptions,
  lineSign,
  type LogRange,
  newEpoch,
  NOTHING_LOST,
  type RoomEvent,
  type RoomEventSink,
  type RoomLine,
  type RoomLog,
  type RoomLogFailure,
  roomsOnly,
  type SinceOptions,
} from "./room_log.ts";
import { readNewest, RoomSeqs } from "./room_seqs.ts";
import { RecentEvents } from "./recent_events.ts";
import { RecentIds, type RecentIdsOptions } from "./recent_ids.ts";
import { MemberRooms } from "./member_rooms.ts";
import { ONE_ROOM } from "./room_options.ts";
import { DEFAULT_TOMBSTONES, Tombstones } from "./tombstones.ts";

/** Events of every kind a {@linkcode MemoryLog} keeps for catch-up by default. */
export const DEFAULT_CATCH_UP_EVENTS = 10_000;

/** Options of {@linkcode MemoryLog}: the window of ids (tests), and more. */
export interface MemoryLogOptions extends RecentIdsOptions {
  /**
   * The last events of every kind kept for {@linkcode MemoryLog.since}.
   * @default {DEFAULT_CATCH_UP_EVENTS}
   */
  readonly catchUp?: number;
  /**
   * Events let go of that it remembers by number and room
   * (`--history-tombstones`). @default {DEFAULT_TOMBSTONES}
   */
  readonly tombstones?: number;
  /** The default room's name (`--default-room`). @default {"#lobby"} */
  readonly defaultRoom?: string;
}

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
  /** New in each process: its numbers start again from 1. */
  readonly epoch: string = newEpoch();
  #clock: Clock;
  #sink: RoomEventSink = () => {};
  #failed: RoomLogFailure = () => {};
  #seq = 0;
  #recent: RecentEvents;
  #ids: RecentIds;
  /** The last events of every kind, for `since` (a ring). */
  #held: RoomEvent[] = [];
  #heldNext = 0;
  #heldCapacity: number;
  #gone: Tombstones;
  /** Each room's numbers among those held. */
  #index = new RoomSeqs(0, Infinity);
  #members: MemberRooms;

  /**
   * Creates an empty log that timestamps with `clock` and keeps `keep`
   * messages at hand (`options`: the events kept for catch-up; the window
   * of ids, for tests).
   */
  constructor(clock: Clock, keep = 0, options: MemoryLogOptions = {}) {
    this.#clock = clock;
    this.#recent = new RecentEvents(keep);
    this.#ids = new RecentIds(options);
    this.#heldCapacity = options.catchUp ?? DEFAULT_CATCH_UP_EVENTS;
    this.#gone = new Tombstones(options.tombstones ?? DEFAULT_TOMBSTONES);
    this.#members = new MemberRooms(
      options.defaultRoom ?? ONE_ROOM.defaultRoom,
    );
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
      const known = options.newId ? "new" : this.#ids.check(id, sign);
      if (known !== "new") {
        const { room } = options;
        const first = known === "duplicate" ? this.#ids.stored(id) : undefined;
        return this.#failed([{ line, origin, id, room, first }], known, null);
      }
      this.#ids.add(id, time, sign, this.#seq + 1);
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
    if (options.target !== undefined) event.target = options.target;
    const rooms = this.#members.apply(line, origin, options.room);
    if (rooms !== undefined) event.rooms = rooms;
    this.#recent.add(event);
    this.#hold(event);
    this.#sink(event);
  }

  /** Keeps `event` in the ring of events for catch-up. */
  #hold(event: RoomEvent): void {
    this.#index.add(event);
    if (this.#heldCapacity === 0) return this.#letGo(event);
    if (this.#held.length < this.#heldCapacity) this.#held.push(event);
    else {
      this.#letGo(this.#held[this.#heldNext]!);
      this.#held[this.#heldNext] = event;
    }
    this.#heldNext = (this.#heldNext + 1) % this.#heldCapacity;
  }

  #letGo(event: RoomEvent): void {
    this.#gone.add(event);
    this.#index.forgetThrough(event.seq);
  }

  /** The held event numbered `seq` (the ring holds a run of numbers). */
  #at(seq: number): RoomEvent | undefined {
    const held = this.#held;
    const oldest = held.length < this.#heldCapacity ? 0 : this.#heldNext;
    const first = held[oldest]?.seq ?? Infinity;
    const event = held[(oldest + seq - first) % this.#heldCapacity];
    return event?.seq === seq ? event : undefined;
  }

  /**
   * Counts and finds the room's events by its numbers
   * ({@linkcode RoomSeqs}): no other room's are looked at.
   */
  since(
    room: string,
    after: number,
    options: SinceOptions,
  ): Promise<LogRange> {
    const first = this.#index.from + 1;
    const letGo = after + 1 < first && after < this.#seq;
    const lost = letGo ? this.#gone.count(room, after, options) : NOTHING_LOST;
    const before = options.before ?? Infinity;
    const defaultRoom = options.defaultRoom ?? false;
    const counted = this.#index.count(room, after, before, defaultRoom);
    const at = (seqs: readonly number[]) =>
      seqs.flatMap((seq) => this.#at(seq) ?? []);
    const events = readNewest(counted, at, options);
    const shown = events.filter((event) => roomsOnly(event.line)).length;
    return Promise.resolve({
      events,
      over: counted.count - events.length,
      overRoomsOnly: counted.roomsOnly - shown,
      gap: lost === null,
      lost: lost ?? NOTHING_LOST,
    });
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
