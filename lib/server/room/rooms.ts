/**
 * The rooms of one server (capability `rooms`): a set of
 * {@linkcode RoomState}s keyed by name, with the default room always in
 * it, which room each member with `rooms` is in and which is its current
 * one, and where each event the log hands on goes. An event names its
 * room (none: the default room); a member's own rename and leave name no
 * room and go to every room it is in. Every room's members are its own
 * map, so a line in a room of ten touches ten members. Aliases stay
 * unique server-wide (the directory's); the log keeps one global order.
 * What members may ask of the rooms is `room_commands.ts`'s.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { HISTORY_REQUEST_LIMIT, ProtocolError } from "../../protocol.ts";
import type { LineArena } from "./line_arena.ts";
import type { ServerMetrics } from "../metrics/server_metrics.ts";
import { CreationCounts, GuestGrants, lookalikeText } from "./room_grants.ts";
import type { Member } from "./member.ts";
import type { Moderated } from "./moderator.ts";
import type { RoomEvent, RoomLine } from "./room_log.ts";
import type { Topic } from "../access/moderation.ts";
import { type JoinEntry, roomSkeleton, RoomState } from "./room_state.ts";
import {
  newRoomRecord,
  operatorKey,
  type RoomKeyLimits,
  type RoomRecord,
} from "./room_record.ts";
import { RoomKeeper, type RoomKeeperOptions } from "./room_keeper.ts";
import type { RoomRecordLimits } from "../config.ts";
import { RoomReplica } from "./room_replica.ts";
import { localSnapshot, type RoomsSnapshot } from "./rooms_snapshot.ts";

/** Who may create a room with `/join` (`--room-create`). */
export type RoomCreate = "any" | "accounts" | "operators";

/** The rooms limits, from the config. */
export interface RoomLimits extends RoomRecordLimits {
  /** `--default-room`. */
  readonly defaultRoom: string;
  /** `--room-create`. */
  readonly roomCreate: RoomCreate;
  /** `--max-rooms`: rooms on the server, the default one included. */
  readonly maxRooms: number;
  /** `--max-rooms-per-member`. */
  readonly maxRoomsPerMember: number;
  /** `--room-grace`: how long an empty temporary room lives on. */
  readonly roomGraceMs: number;
  /** `--max-room-entries`: operators, invites, bans and mutes, each. */
  readonly maxRoomEntries: number;
  /** `--room-creations`: rooms one account or address group creates an hour. */
  readonly roomCreations: number;
}

/** Options of {@linkcode RoomSet}. */
export interface RoomSetOptions extends RoomLimits, RoomKeeperOptions {
  readonly arena: LineArena;
  readonly announceLimit: number;
  /** Where each room's fan-out counts its deliveries. */
  readonly metrics: ServerMetrics;
  /** Lines of history each room keeps at hand. */
  readonly history: number;
  readonly clock: Clock;
  /** The default room's topic at start. */
  readonly topic?: Topic | null;
  /** Checks room keys under the login limits (the gate). @default {none} */
  readonly keys?: RoomKeyLimits;
  /**
   * What the rooms start from. @default {the keeper's registered rooms,
   * `events` by room}
   */
  readonly snapshot?: RoomsSnapshot;
  /** The last messages at start, without a snapshot. @default {none} */
  readonly events?: readonly RoomEvent[];
  /** Appends a line the rooms decide (`MOD expire`). @default {none} */
  readonly append?: (
    line: RoomLine,
    room: string,
    effect: { kind: "expire" },
  ) => void;
}

/** The rooms a member with `rooms` is in, in join order, and its current one. */
interface MemberRooms {
  readonly rooms: string[];
  current: string | null;
}

/** The rooms of this server (see the module). */
export class RoomSet<M extends Member> {
  readonly limits: RoomLimits;
  #options: RoomSetOptions;
  #rooms = new Map<string, RoomState<M>>();
  #skeletons = new Map<string, string>();
  #of = new Map<string, MemberRooms>();
  /** Joins appended and not handed on yet: rooms by member id. */
  #joining = new Map<string, Set<string>>();
  /** The room of each join's `JOIN` line on its way to the log. */
  #joinLines = new WeakMap<object, string>();
  /** Invitations of this server's members, by id (`room_grants.ts`). */
  readonly grants = new GuestGrants();
  /** Rooms created this hour, per account or address group. */
  #creations = new CreationCounts();
  readonly default: RoomState<M>;
  /** What the rooms keep across restarts. */
  readonly keeper: RoomKeeper;
  /** Every room's members and record as the log says (`room_replica.ts`). */
  readonly replica: RoomReplica<M>;

  /** The set with its default room and the snapshot's rooms and members. */
  constructor(options: RoomSetOptions) {
    this.#options = options;
    this.limits = options;
    // The default room reaches back as far as /history does, as before.
    const deep = options.history > 0 ? HISTORY_REQUEST_LIMIT : 0;
    const name = options.defaultRoom;
    this.default = this.#add(newRoomRecord(name), deep);
    this.keeper = new RoomKeeper(name, options, (r) => this.#rooms.get(r));
    this.replica = new RoomReplica<M>({
      default: this.default,
      clock: options.clock,
      graceMs: options.roomGraceMs,
      get: (room) => this.#rooms.get(room),
      add: (record) => this.#add(record),
      drop: ({ name }) => {
        this.#rooms.delete(name);
        const skeleton = roomSkeleton(name);
        if (this.#skeletons.get(skeleton) === name) {
          this.#skeletons.delete(skeleton);
        }
        this.keeper.forget((room) => room === name);
      },
      changed: (record, since) => this.keeper.changed(record, since),
      joining: (room) => [...this.#joining.values()].some((r) => r.has(room)),
      append: options.append ?? (() => {}),
    });
    this.#start(
      options.snapshot ??
        localSnapshot(this.keeper.registered(), options.events ?? [], name),
    );
    this.default.record.topic = options.topic ?? null;
  }

  /** Takes on what the rooms start from. */
  #start({ records, members, recent, since }: RoomsSnapshot): void {
    for (const record of records) {
      const copy = structuredClone(record);
      if (record.name === this.default.name) this.default.record = copy;
      else this.#add(copy).since = since?.get(record.name) ?? 0;
    }
    this.keeper.forget((room) => !this.#rooms.has(room)); // vanished meanwhile
    for (const { id, alias, rooms, muted } of members) {
      for (const room of rooms) {
        const state = this.#rooms.get(room);
        if (state) this.replica.enter(state, id, alias, muted?.[room]);
      }
    }
    for (const [room, events] of recent) {
      const state = this.#rooms.get(room);
      for (const event of state ? events : []) state!.recent.add(event);
    }
  }

  /** Starts again from `snapshot` (this server was counted lost). */
  restart(snapshot: RoomsSnapshot): void {
    this.replica.forgetEveryone();
    for (const state of this.#rooms.values()) this.replica.stop(state);
    const { name, everyone, recent } = this.default;
    everyone.clear();
    recent.forgetUpTo(Infinity);
    this.#rooms = new Map([[name, this.default]]);
    this.#skeletons = new Map([[roomSkeleton(name), name]]);
    this.#start(snapshot);
  }

  /** Every room, in no order. */
  all(): IterableIterator<RoomState<M>> {
    return this.#rooms.values();
  }

  /** How many rooms there are. */
  get size(): number {
    return this.#rooms.size;
  }

  /** The room called `name`, if it exists. */
  get(name: string): RoomState<M> | undefined {
    return this.#rooms.get(name);
  }

  /** The room for an event's `room` field (none: the default room). */
  ofEvent(room: string | undefined): RoomState<M> | undefined {
    return room === undefined ? this.default : this.#rooms.get(room);
  }

  /** The `room` field of an event in `state` (none for the default room). */
  eventRoom(state: RoomState<M>): string | undefined {
    return state === this.default ? undefined : state.name;
  }

  /** The rooms `member` is in, in the order it joined them. */
  roomsOf(member: M): readonly string[] {
    const inDefault = this.default.members.has(member.id);
    return this.#of.get(member.id)?.rooms ??
      (inDefault ? [this.default.name] : []);
  }

  /** The member's current room (where unprefixed lines go); null: none. */
  current(member: M): string | null {
    if (!member.roomsOn) return this.default.name;
    return this.#of.get(member.id)?.current ?? null;
  }

  /** Makes `name` the member's current room (one it is in). */
  setCurrent(member: M, name: string): void {
    const entry = this.#of.get(member.id);
    if (entry) entry.current = name;
  }

  /** The member entered the server (its `JOIN` handed on): the default room. */
  enterServer(member: M): void {
    this.#addMember(this.default, member);
    this.replica.enter(this.default, member.id, member.alias);
  }

  /**
   * The member left the server: out of every room here (the replica takes
   * it out once its `LEAVE` is handed on; none comes when it `moved` to
   * another server, where it is still in them).
   */
  depart(member: M, moved = false): void {
    for (const name of [...this.roomsOf(member)]) {
      const state = this.#rooms.get(name);
      if (state) this.#removeMember(state, member);
    }
    this.#of.delete(member.id);
    if (!moved) this.replica.gone.add(member.id);
    this.keeper.departed(member.id);
    this.#joining.delete(member.id);
    this.grants.departed(member);
  }

  /** Applies a handed-on event to the replica; returns the rooms it goes to. */
  apply(event: RoomEvent): RoomState<M>[] {
    return this.replica.apply(event);
  }

  /**
   * Checks that `member` may join `name` with `key` (creating the room when
   * absent and allowed) and returns it, or null when it is in already.
   * The caller appends its `JOIN`; {@linkcode joined} adds it once the log
   * hands that on.
   */
  prepareJoin(
    member: M & Moderated,
    name: string,
    entry: JoinEntry = {},
  ): RoomState<M> | null {
    const existing = this.#rooms.get(name);
    if (existing?.members.has(member.id)) return null;
    const pending = this.#joining.get(member.id);
    if (pending?.has(name)) return null;
    const held = this.roomsOf(member).length + (pending?.size ?? 0);
    if (held >= this.limits.maxRoomsPerMember) {
      throw new ProtocolError(
        "too-many-rooms",
        `Cannot join ${name}: you are in ${held} rooms, the most one member may be in: /part one first`,
      );
    }
    const now = this.#options.clock.now();
    const state = existing ?? this.#create(member, name, now);
    const keys = this.#options.keys;
    if (existing) state.checkEntry(member, { ...entry, nowMs: now, keys });
    if (entry.rejoin) this.keeper.rejoining(member.id, name);
    if (pending) pending.add(name);
    else this.#joining.set(member.id, new Set([name]));
    return state;
  }

  /** Whether a join of `member` is on its way to the log (its lines wait). */
  joining(member: M): boolean {
    return this.#joining.has(member.id);
  }

  /** `line` is the `JOIN` of a pending join of room `name`. */
  noteJoin(line: object, name: string): void {
    this.#joinLines.set(line, name);
  }

  /** A line the log did not store: a pending join (or rejoin) it was ends. */
  lost(line: object, origin: string): RoomState<M> | undefined {
    const name = this.#joinLines.get(line);
    if (name !== undefined) this.#joinDone(origin, name, true);
    return name === undefined ? undefined : this.#rooms.get(name);
  }

  /** A join's `JOIN` was handed on, or not stored (`lost`): not pending. */
  #joinDone(id: string, name: string, lost = false): void {
    if (lost) this.keeper.rejoined(id, name); // nor a rejoin, if it was
    const pending = this.#joining.get(id);
    pending?.delete(name);
    if (pending?.size === 0) this.#joining.delete(id);
  }

  /**
   * The `JOIN` of `member` in `state` was handed on: it is in. Returns
   * whether it was a rejoin at login.
   */
  joined(member: M, state: RoomState<M>): boolean {
    this.#joinDone(member.id, state.name);
    this.#addMember(state, member);
    const rejoined = this.keeper.rejoined(member.id, state.name);
    if (!rejoined) this.setCurrent(member, state.name);
    this.keeper.inRooms(member, this.roomsOf(member));
    return rejoined;
  }

  /**
   * Takes `member` out of `state` (a part, a kick, a room ban); its current
   * room becomes the last one it still holds, or none. Returns whether it
   * was in.
   */
  remove(member: M, state: RoomState<M>): boolean {
    if (!state.members.has(member.id)) return false;
    this.#removeMember(state, member);
    const entry = this.#of.get(member.id);
    const last = entry?.rooms.at(-1) ?? null;
    if (entry?.current === state.name) entry.current = last;
    this.keeper.inRooms(member, this.roomsOf(member));
    return true;
  }

  /** A `JOIN` of `state` surely not stored: a room gone counts no more. */
  refused(state: RoomState<M>): void {
    const made = this.replica.refused(state) ? state.made : undefined;
    if (made) this.#creations.giveBack(made);
  }

  /** Stops every room's expiry timer (at shutdown). */
  close(): void {
    for (const state of this.#rooms.values()) this.replica.stop(state);
  }

  /** Creates room `name` for `member`, who operates it, if allowed. */
  #create(member: M & Moderated, name: string, now: number): RoomState<M> {
    const { roomCreate, maxRooms, roomCreations } = this.limits;
    const allowed = roomCreate === "any" ||
      (roomCreate === "accounts" && member.account !== null) ||
      member.operator;
    if (!allowed) {
      throw new ProtocolError(
        "no-such-room",
        `No room is called ${name}, and only ${roomCreate} may create one`,
      );
    }
    const lookalike = this.#skeletons.get(roomSkeleton(name));
    if (lookalike !== undefined) {
      throw new ProtocolError("room-taken", lookalikeText(name, lookalike));
    }
    if (this.#rooms.size >= maxRooms) {
      throw new ProtocolError(
        "rooms-full",
        `Cannot create ${name}: the server has ${this.#rooms.size} rooms, its most: join one of them`,
      );
    }
    const made = this.#creations.take(member, name, now, roomCreations);
    const state = this.#add(newRoomRecord(name));
    state.made = made;
    state.confirmed = false; // until a JOIN of it is handed on
    state.record.operators.push(operatorKey(member));
    this.replica.created(state);
    return state;
  }

  #add(record: RoomRecord, history = this.#options.history): RoomState<M> {
    const name = record.name;
    const state = new RoomState<M>(record, { ...this.#options, history });
    this.#rooms.set(name, state);
    this.#skeletons.set(roomSkeleton(name), name);
    return state;
  }

  #addMember(state: RoomState<M>, member: M): void {
    state.members.set(member.id, member);
    if (!member.roomsOn) return;
    const entry = this.#of.get(member.id) ?? { rooms: [], current: null };
    this.#of.set(member.id, entry);
    if (!entry.rooms.includes(state.name)) entry.rooms.push(state.name);
    entry.current ??= state.name;
  }

  #removeMember(state: RoomState<M>, member: M): void {
    state.members.delete(member.id);
    const rooms = this.#of.get(member.id)?.rooms;
    const at = rooms?.indexOf(state.name) ?? -1;
    if (at !== -1) rooms!.splice(at, 1);
  }
}
