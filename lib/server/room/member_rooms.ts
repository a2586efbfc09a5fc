/**
 * The rooms each member is in, by member id, as the log's events say: a
 * `JOIN` puts its member in (in the default room when it names none), a
 * `LEAVE` of a room takes it out of that room, a `LEAVE` of the server out
 * of every room. The rooms' replica keeps one (`room_replica.ts`), and so
 * does a log of one server as it numbers events (`memory_log.ts`,
 * `sqlite_log.ts`), so that a rename or a leave of the server, which names
 * no room, is stored with the rooms it reaches (`RoomEvent.rooms`): the
 * catch-up of each of those rooms has it. Holds one entry per member in a
 * room; a change can be undone (a batch the log did not store), but a
 * leave of the server: its member is gone whether or not its `LEAVE` was
 * stored, and its entry with it.
 *
 * @module
 */

import type { RoomLine } from "./room_log.ts";

/** Each member's rooms, in the order it entered them (see the module). */
export class MemberRooms {
  /** The default room's name (a `JOIN` that names no room enters it). */
  readonly defaultRoom: string;
  #in = new Map<string, string[]>();
  /** How to undo the changes since {@linkcode begin}, newest last. */
  #undo: (() => void)[] | null = null;
  /** Members that left the server since {@linkcode begin}. */
  #gone: string[] = [];

  /** No member in any room; `defaultRoom` is the default room's name. */
  constructor(defaultRoom: string) {
    this.defaultRoom = defaultRoom;
  }

  /** The rooms member `id` is in, in the order it entered them. */
  of(id: string): readonly string[] {
    return this.#in.get(id) ?? [];
  }

  /** Every member's rooms. */
  all(): IterableIterator<readonly string[]> {
    return this.#in.values();
  }

  /** Puts member `id` in room `name` (once). */
  enter(id: string, name: string): void {
    const rooms = this.#in.get(id) ?? [];
    if (rooms.includes(name)) return;
    this.#set(id, [...rooms, name]);
  }

  /** Takes member `id` out of room `name`. */
  leave(id: string, name: string): void {
    const rooms = this.#in.get(id);
    if (!rooms?.includes(name)) return;
    this.#set(id, rooms.filter((room) => room !== name));
  }

  /** Takes member `id` out of every room. */
  leaveAll(id: string): void {
    if (this.#in.has(id)) this.#set(id, []);
  }

  /** Forgets everyone (not undone). */
  clear(): void {
    this.#in.clear();
  }

  /**
   * Applies an event as the log numbers it (`room`: the room it names);
   * returns, for a rename or a leave of the server, the rooms it reaches:
   * its member's, before it leaves them.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemberRooms } from "./member_rooms.ts";
   *
   * const rooms = new MemberRooms("#lobby");
   * const join = { type: "JOIN", alias: "amy", online: "1" } as const;
   * rooms.apply(join, "1"); // the default room
   * rooms.apply(join, "1", "#ops");
   * const nick = { type: "NICK", alias: "amy", newAlias: "a", online: "1" };
   * assert.deepEqual(rooms.apply({ ...nick, type: "NICK" }, "1"), [
   *   "#lobby",
   *   "#ops",
   * ]);
   * const part = { alias: "a", online: "1", reason: "part", text: "" };
   * rooms.apply({ ...part, type: "LEAVE" }, "1", "#lobby");
   * assert.deepEqual(rooms.apply({ ...nick, type: "NICK" }, "1"), ["#ops"]);
   * ```
   */
  apply(
    line: RoomLine,
    origin: string,
    room?: string,
  ): readonly string[] | undefined {
    if (line.type === "JOIN") this.enter(origin, room ?? this.defaultRoom);
    else if (line.type === "LEAVE" && room !== undefined) {
      this.leave(origin, room);
    } else if (room === undefined && line.type === "NICK") {
      return this.of(origin);
    } else if (room === undefined && line.type === "LEAVE") {
      const rooms = this.of(origin);
      this.leaveAll(origin);
      if (this.#undo !== null) this.#gone.push(origin);
      return rooms;
    }
    return undefined;
  }

  /** Keeps how to undo what changes from now on (see {@linkcode end}). */
  begin(): void {
    this.#undo = [];
  }

  /**
   * Ends what {@linkcode begin} started: kept, or undone (`undo`) but for
   * the leaves of the server.
   */
  end(undo: boolean): void {
    const changes = this.#undo ?? [];
    const gone = this.#gone;
    this.#undo = null;
    this.#gone = [];
    if (!undo) return;
    for (const change of changes.reverse()) change();
    for (const id of gone) this.#in.delete(id);
  }

  #set(id: string, rooms: string[]): void {
    const was = this.#in.get(id);
    this.#undo?.push(() =>
      was === undefined ? this.#in.delete(id) : this.#in.set(id, was)
    );
    if (rooms.length === 0) this.#in.delete(id);
    else this.#in.set(id, rooms);
  }
}
