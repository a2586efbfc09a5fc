/**
 * The fan-out of a server with rooms on: each event the log hands on goes
 * to the members of its room only (a rename or a leave of the server to
 * every room of its member, each with that room's count), prefixed with
 * the room for members with `rooms` and as today for the others. A `JOIN`
 * with a room puts its member in (it gets its own `JOIN`, then the room's
 * topic, history and `CURRENT`, in the same step, so no line is both
 * history and live); a part's `LEAVE` reaches its member too. Each room
 * keeps its own recent lines and counts its own `PRESENCE`.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { aliasKey } from "../../protocol.ts";
import type { ServerLine } from "../../server_lines.ts";
import type { Member } from "./member.ts";
import type { Moderated } from "./moderator.ts";
import { NEW_EPOCH_TEXT, type StartingPoints } from "./catch_up.ts";
import type { Replies } from "./replies.ts";
import type { ReplayBudget } from "./replay.ts";
import {
  type AppendOutcome,
  HISTORY_TYPES,
  type RoomEvent,
  type RoomLine,
  type UnsentLine,
} from "./room_log.ts";
import { type InDoubtJoin, JoinDoubts } from "./join_doubts.ts";
import { whyDropped } from "./room_mutes.ts";
import { droppedError } from "./unsent.ts";
import { leaveFollows } from "./room_targets.ts";
import type { RoomState } from "./room_state.ts";
import type { RoomSet } from "./rooms.ts";

/** What the router needs of its room. */
export interface RouterHost<M extends Member> {
  /** The members of this server, by id. */
  readonly here: ReadonlyMap<string, M>;
  /** Sends one line to one member (dropped if it cannot take it). */
  send(member: M, line: ServerLine): void;
  /** The same, with the `#room ` prefix. */
  sendIn(member: M, room: string, line: ServerLine): void;

  readonly replies: Replies<M>;
  /** Lines of history replayed on entering a room. */
  readonly history: number;
  /** The number of the last event handed on. */
  handedOn(): number;
  /** A resuming member's start in a room it gave no position for. */
  readonly startingPoints?: StartingPoints<M>;
  /** The time, and a line appended for a member (`#barred`). */
  readonly barring?: {
    readonly clock: Clock;
    append(room: string, line: RoomLine, member: M): void;
  };
}

/** Options of {@linkcode RoomRouter.enter}. */
export interface EnterOptions {
  /**
   * The last event the catch-up covers (the member gets those after it
   * live). @default {the one before the last handed on: its own JOIN}
   */
  readonly through?: number;
  /**
   * What its history or catch-up may take, shared with the others sent in
   * the same go. @default {a budget of its own}
   */
  readonly budget?: ReplayBudget;
}

/** Routes events to the rooms' members (see the module). */
export class RoomRouter<M extends Member> {
  readonly rooms: RoomSet<M>;
  #host: RouterHost<M>;
  /** Each member's budget at login: its rooms rejoined then share it. */
  #logins = new WeakMap<M, ReplayBudget>();
  /** Each member's joins left in doubt (`unknown`), not handed on yet. */
  #doubts: JoinDoubts<M>;

  /** A router over `rooms`. */
  constructor(rooms: RoomSet<M>, host: RouterHost<M>) {
    this.rooms = rooms;
    this.#host = host;
    this.#doubts = new JoinDoubts(rooms, host);
  }

  /** The member of this server with id `id`, if any. */
  member(id: string): M | undefined {
    return this.#host.here.get(id);
  }

  /** Sends a line about room `state` to one member, prefixed if it has `rooms`. */
  tellIn(member: M, state: RoomState<M>, line: ServerLine): void {
    if (member.roomsOn) this.#host.sendIn(member, state.name, line);
    else this.#host.send(member, line);
  }

  /** Tells a member with `rooms` its current room (`CURRENT`). */
  tellCurrent(member: M): void {
    if (!member.roomsOn) return;
    const room = this.rooms.current(member) ?? "-";
    this.#host.send(member, { type: "CURRENT", room });
  }

  /**
   * A member entering the default room at login: that room's history or
   * catch-up and those of the rooms it rejoins then (as their `JOIN`s are
   * handed on) share one budget, so that together they never make it slow.
   */
  login(member: M): void {
    const budget = this.#host.replies.budget(member);
    this.#logins.set(member, budget);
    this.enter(member, this.rooms.default, { budget });
  }

  /**
   * What a member sees on entering `state`, right after its `JOIN`: the
   * topic, the room's history (or, for a position it gave, the catch-up:
   * `catch_up.ts`), and `CURRENT` (with `rooms`).
   */
  enter(member: M, state: RoomState<M>, options: EnterOptions = {}): void {
    const topic = state.record.topic;
    const room = member.roomsOn ? state.name : undefined;
    if (topic) this.#host.replies.tellTopic(member, topic, room);
    const host = this.#host;
    const position = this.#positionIn(member, state);
    const budget = options.budget ?? host.replies.budget(member);
    if (position?.epoch === host.replies.epoch) {
      const through = options.through ?? host.handedOn() - 1;
      host.replies.catchUp(member, position.seq, {
        name: state.name,
        defaultRoom: state === this.rooms.default,
        prefix: room,
        before: through + 1,
        since: state.since,
      }, budget);
    } else {
      if (host.history > 0) {
        host.replies.history(member, host.history, false, {
          recent: state.recent,
          room,
        }, budget);
      }
      if (position) {
        this.tellIn(member, state, {
          type: "RESUMED",
          last: "-",
          missing: "?",
          text: NEW_EPOCH_TEXT,
        });
      }
    }
    host.startingPoints?.entered?.(member, state.name);
    this.tellCurrent(member);
  }

  /**
   * Where `member` starts in `state`: the position it gave, else (with
   * `resume`) the starting point the server knows (a read marker).
   */
  #positionIn(member: M, state: RoomState<M>) {
    const given = member.takePosition?.(
      state.name,
      state === this.rooms.default,
    );
    if (given !== undefined || !member.resumeOn) return given;
    const seq = this.#host.startingPoints?.start(member, state.name);
    if (seq === undefined) return undefined;
    return { epoch: this.#host.replies.epoch, seq };
  }

  /**
   * Lines the log did not store: room changes it refused are undone
   * (`room_replica.ts`), and pending joins end, each joiner told why
   * (`join_doubts.ts`).
   */
  lost(lost: readonly UnsentLine[], outcome: AppendOutcome): void {
    if (outcome === "refused") this.rooms.replica.undoRefused(lost);
    this.#doubts.lost(lost, outcome);
  }

  /**
   * The `JOIN` of `member` in room `name` left in doubt and not handed on
   * since, with its id (`join_doubts.ts`).
   */
  inDoubt(member: M, name: string): InDoubtJoin | undefined {
    return this.#doubts.of(member, name);
  }

  /** The number of the last event handed on (a takeover's `through`). */
  handedOn(): number {
    return this.#host.handedOn();
  }

  /**
   * Applies a committed event to the rooms' replica, then delivers it to
   * its rooms; returns who could not take it.
   */
  fanOut(event: RoomEvent): M[] | undefined {
    if (this.#outsider(event)) return undefined;
    let slow: M[] | undefined;
    const { line } = event;
    for (const state of this.rooms.apply(event)) {
      const full = this.#toRoom(state, event);
      if (full) (slow ??= []).push(...full);
      if (line.type === "MOD" && line.action === "invite") {
        this.#invited(state, line.alias, line.by);
      }
    }
    return slow;
  }

  /**
   * Whether `event` is a message or action in a room (not the default
   * one) from someone the room no longer has: its server handled it before
   * it read the kick or ban (and `LEAVE`) that the log put first; or from
   * a member a room mute the log put first holds (`room_mutes.ts`). It
   * reaches nobody and is not kept, on every server; its sender, if here,
   * hears so (tagged with its id): `ERR unavailable`, or `ERR muted`.
   */
  #outsider(event: RoomEvent): boolean {
    const { line, room, origin, id } = event;
    if (room === undefined || (line.type !== "MSG" && line.type !== "ME")) {
      return false;
    }
    const state = this.rooms.get(room);
    const why = state && whyDropped(state, event, state !== this.rooms.default);
    if (!why) return false;
    const sender = this.#host.here.get(origin);
    const tagged = sender?.lineIds && id !== undefined;
    const error = droppedError(why, room, !tagged);
    if (tagged) {
      this.#host.replies.deliver(sender, [state!.fan.encodeTagged(id, error)]);
    } else if (sender) this.#host.send(sender, error);
    return true;
  }

  /**
   * A `MOD invite` was handed on: the invitee, if it is a member of this
   * server, is told `INVITE` (with `rooms`: without, it could not /join),
   * and its invitation is kept here by its id (`room_grants.ts`).
   */
  #invited(state: RoomState<M>, alias: string, by: string): void {
    const key = aliasKey(alias);
    for (const member of this.#host.here.values()) {
      if (aliasKey(member.alias) !== key) continue;
      this.rooms.grants.invited(state, member);
      if (member.roomsOn) {
        this.#host.send(member, { type: "INVITE", room: state.name, by });
      }
      return;
    }
  }

  /** Sends an event's line about `state` to one member with `rooms` (tagged with `seq`). */
  #tellEvent(
    member: M,
    state: RoomState<M>,
    line: ServerLine,
    event: RoomEvent,
  ): void {
    if (!member.seqOn) return this.#host.sendIn(member, state.name, line);
    this.#host.replies.deliver(member, [
      state.fan.encodeEvent(event, line, state.name),
    ]);
  }

  /**
   * Whether `member`, whose `JOIN` of `state` was just handed on, or who
   * is in it as a `MOD` that changes its record is, is banned from it now
   * (decided before the ban, stored after it: a join left in doubt that
   * the store ran late; a race with a ban elsewhere; a ban decided on a
   * server that had not read its `JOIN` yet; not the one a ban names,
   * whose `LEAVE` follows: `leaveFollows`). It is out at once (see
   * {@linkcode #putOut}): every server applies the ban and the `JOIN` in
   * the log's order.
   */
  #barred(member: M, state: RoomState<M>): boolean {
    const barring = this.#host.barring;
    if (barring === undefined || state === this.rooms.default) return false;
    const now = barring.clock.now();
    if (state.banOf(member as M & Moderated, now) === null) return false;
    this.#putOut(member, state, "banned");
    return true;
  }

  /**
   * Whether `member`, whose `JOIN` of `state` was just handed on, is in
   * more rooms than `--max-rooms-per-member` with it: one left in doubt
   * (not counted then) that the store ran after it had joined others.
   * That room it leaves at
   * once (see {@linkcode #putOut}), told why (`INFO`): the cap holds
   * whatever lands late.
   */
  #overCap(member: M, state: RoomState<M>): boolean {
    const held = this.rooms.roomsOf(member).length;
    const max = this.rooms.limits.maxRoomsPerMember;
    if (this.#host.barring === undefined || held <= max) return false;
    // INFO, not ERR too-many-rooms: that would answer a /join it waits for.
    this.#host.send(member, {
      type: "INFO",
      text:
        `Not in ${state.name}: your join of it was stored once you were in ${
          held - 1
        } rooms, the most one member may be in`,
    });
    this.#putOut(member, state, "part");
    return true;
  }

  /**
   * Takes `member` out of `state` at once, its `LEAVE reason` appended on
   * its behalf after the event being handed on went out to the room (its
   * server alone knows why; the others take it out as that is handed on).
   */
  #putOut(member: M, state: RoomState<M>, reason: "banned" | "part"): void {
    const barring = this.#host.barring!;
    this.rooms.remove(member, state);
    // Once the event went out (a log in memory hands on at once).
    queueMicrotask(() =>
      barring.append(state.name, {
        type: "LEAVE",
        alias: member.alias,
        online: String(state.everyone.size - 1),
        reason,
        text: "",
      }, member)
    );
  }

  #toRoom(state: RoomState<M>, event: RoomEvent): M[] | undefined {
    const { line } = event;
    const origin = event.room === undefined
      ? undefined
      : this.#host.here.get(event.origin);
    let joiner: M | undefined;
    let parter: M | undefined;
    let budget: ReplayBudget | undefined;
    if (origin && line.type === "JOIN") {
      this.#doubts.handedOn(origin, state.name);
    }
    if (origin && line.type === "JOIN" && !state.members.has(origin.id)) {
      joiner = origin;
      if (this.rooms.joined(origin, state)) budget = this.#logins.get(origin);
      if (this.#barred(origin, state) || this.#overCap(origin, state)) {
        joiner = undefined;
      }
    } else if (origin && line.type === "LEAVE") {
      // Out already (a part), or decided on another server (a kick).
      this.rooms.remove(origin, state);
      parter = origin;
    }
    const out = recount(line, state);
    if (HISTORY_TYPES.has(line.type)) state.recent.add(event);
    if (event.effect?.kind === "topic") state.record.topic = event.effect.topic;
    let slow: M[] | undefined;
    if (!state.fan.countsAsPresence(out)) {
      const summary = state.fan.takeSummary();
      if (summary !== null) {
        slow = state.fan.toRoom(state.members, summary, state.name);
      }
      const more = state.fan.toRoom(state.members, out, state.name, event);
      if (more) (slow ??= []).push(...more);
    } else if (joiner?.roomsOn) {
      this.#tellEvent(joiner, state, out, event);
    }
    if (line.type === "MOD" && event.effect?.kind === "room") {
      for (const member of [...state.members.values()]) {
        if (!leaveFollows(event, member)) this.#barred(member, state);
      }
    }
    if (parter?.roomsOn) {
      this.#tellEvent(parter, state, out, event);
      this.tellCurrent(parter);
    }
    if (joiner) this.enter(joiner, state, { budget });
    return slow;
  }
}

/**
 * A join, leave or rename with the count of the room it is shown in (its
 * members on every server).
 */
function recount<M extends Member>(
  line: RoomLine,
  state: RoomState<M>,
): RoomLine {
  if (line.type === "JOIN" || line.type === "LEAVE" || line.type === "NICK") {
    return { ...line, online: String(state.everyone.size) };
  }
  return line;
}
