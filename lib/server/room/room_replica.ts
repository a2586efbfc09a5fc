/**
 * The rooms' replica: every room's state as the log says, changed only
 * when an event is handed on (before anyone gets it), by the same rules on
 * every server, so that all servers of a cluster agree (one server: the
 * same path). A `MOD` or `TOPIC` of a room replaces its record with the
 * one its effect carries (and a registered one is kept); a `JOIN` in a
 * room puts its member in (creating the room from its effect when the log
 * knows none yet: the first creation wins); a `LEAVE` takes it out (of
 * that room, or of every room when it leaves the server), and a guest's
 * operator right (`~alias`) goes with it; a `NICK` renames it everywhere.
 * An empty temporary room goes by an event too (`MOD expire`), appended
 * once it stayed empty for the grace: the first one handed on removes it,
 * if it is still empty.
 *
 * A room made again after it vanished is a new room: the event that makes
 * the log know it again (its first `JOIN`) begins its current incarnation,
 * and what was said before it is read from it by nobody
 * (`RoomState.since`, {@linkcode incarnationStart}): every server takes
 * the same number from the same event, and a server that starts later
 * from the cluster's snapshot (`rooms_at_start.ts`).
 *
 * @module
 */

import type { Clock, TimerId } from "../../clock.ts";
import type { Member } from "./member.ts";
import { MemberRooms } from "./member_rooms.ts";
import type { RoomEvent, RoomLine, UnsentLine } from "./room_log.ts";
import { heldByMute } from "./room_mutes.ts";
import { operatorKey, type RoomRecord } from "./room_record.ts";
import type { RoomState } from "./room_state.ts";

/** What the replica needs of the room set. */
export interface ReplicaHost<M extends Member> {
  readonly default: RoomState<M>;
  readonly clock: Clock;
  /** `--room-grace`. */
  readonly graceMs: number;
  get(name: string): RoomState<M> | undefined;
  /** Adds a room the log knows, with `record`. */
  add(record: RoomRecord): RoomState<M>;
  /** Removes a room. */
  drop(state: RoomState<M>): void;
  /**
   * Keeps a registered room's record and where its incarnation began
   * (`RoomState.since`): the keeper.
   */
  changed(record: RoomRecord, since: number): void;
  /** Whether a join of this server into `name` is on its way to the log. */
  joining(name: string): boolean;
  /** Appends a line about room `room` with the server as its origin. */
  append(line: RoomLine, room: string, event: { kind: "expire" }): void;
}

/** The `MOD` line that removes an empty temporary room (nobody sees it). */
export function expireLine(): RoomLine {
  return { type: "MOD", action: "expire", alias: "-", by: "-", text: "" };
}

/**
 * The number of the last event before the incarnation of a room that
 * `event` begins (the room's `RoomState.since`): the event is its first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { incarnationStart } from "./room_replica.ts";
 *
 * assert.equal(incarnationStart({ seq: 42 }), 41);
 * ```
 */
export function incarnationStart(event: Pick<RoomEvent, "seq">): number {
  return event.seq - 1;
}

/** The replica of every room's members and record (see the module). */
export class RoomReplica<M extends Member> {
  #host: ReplicaHost<M>;
  /** The rooms each member on any server is in, by id (the default too). */
  #in: MemberRooms;
  /**
   * Members of this server that left it, until their `LEAVE` is handed
   * on: this server's `/who` lists them no more.
   */
  readonly gone = new Set<string>();

  /** A replica over `host`'s rooms. */
  constructor(host: ReplicaHost<M>) {
    this.#host = host;
    this.#in = new MemberRooms(host.default.name);
  }

  /** The rooms member `id` is in, on any server, in join order. */
  roomsOfId(id: string): readonly string[] {
    return this.#in.of(id);
  }

  /**
   * Puts member `id` (as `alias`) in `state`; `muted`: the mute of the
   * room's record that holds it (its `muteKey`), from a cluster's snapshot.
   */
  enter(state: RoomState<M>, id: string, alias: string, muted?: string): void {
    if (!state.everyone.has(id)) state.everyone.set(id, alias);
    if (muted !== undefined) state.mutedIds.set(id, muted);
    this.#in.enter(id, state.name);
    this.#host.clock.clearTimeout(state.expiry as TimerId | undefined);
    state.expiry = undefined;
  }

  /**
   * Applies a handed-on event to the replica; returns the rooms it goes
   * to (none for `MOD expire`, which nobody sees).
   */
  apply(event: RoomEvent): RoomState<M>[] {
    const { line, effect, origin } = event;
    const host = this.#host;
    if (effect?.kind === "expire") {
      this.#expire(event.room);
      return [];
    }
    if (event.room === undefined) {
      if (line.type === "JOIN") {
        this.enter(host.default, origin, line.alias);
      }
      if (line.type === "LEAVE") this.gone.delete(origin);
      if (line.type !== "NICK" && line.type !== "LEAVE") return [host.default];
      const states = this.roomsOfId(origin).flatMap((n) => host.get(n) ?? []);
      for (const state of states) {
        if (line.type === "LEAVE") this.#leave(state, origin, line.alias);
        else this.#rename(state, origin, line.alias, line.newAlias);
      }
      return states;
    }
    let state = host.get(event.room);
    // A JOIN's record counts only while the log knows no such room.
    const record = effect?.kind === "room" && state !== host.default &&
        !(line.type === "JOIN" && state?.confirmed)
      ? structuredClone(effect.record)
      : null;
    const begins = record !== null && !state?.confirmed;
    if (record) {
      if (state) state.record = record;
      else state = host.add(record);
    }
    if (begins) state!.since = incarnationStart(event);
    if (!state) return [];
    // A LEAVE of one not in the room is nobody's news: an operator's
    // server appends a kick's or ban's on behalf of a member of another
    // server, who may have left first (a part, another operator's kick).
    if (line.type === "LEAVE" && !state.everyone.has(origin)) return [];
    if (line.type === "JOIN") this.enter(state, origin, line.alias);
    else if (line.type === "LEAVE") this.#leave(state, origin, line.alias);
    if (record || line.type === "JOIN") state.confirmed = true;
    if (record) {
      keepGuestOperators(state);
      const before = state.logged;
      state.logged = structuredClone(state.record);
      heldByMute(state, before, event);
      host.changed(state.record, state.since);
    }
    return [state];
  }

  /**
   * Room changes the log refused (`MOD`, `TOPIC`: Redis was down): each
   * room's record goes back to what the log last said, so that the next
   * change, which carries the whole record, does not bring a refused one
   * to every server (a change of this server still on its way goes too:
   * it comes back as it is handed on).
   */
  undoRefused(lost: readonly UnsentLine[]): void {
    for (const { line, room } of lost) {
      if (line.type !== "MOD" && line.type !== "TOPIC") continue;
      const state = room === undefined ? undefined : this.#host.get(room);
      if (state === undefined || state === this.#host.default) continue;
      state.record = structuredClone(state.logged);
    }
  }

  #leave(state: RoomState<M>, id: string, alias: string): void {
    state.everyone.delete(id);
    this.#in.leave(id, state.name);
    // A guest operates a room only while in it (the log's record says so
    // too: a refused change that puts it back must not bring the right).
    for (const { operators } of [state.record, state.logged]) {
      remove(operators, operatorKey({ account: null, alias }));
    }
    this.#expireLater(state);
  }

  #rename(state: RoomState<M>, id: string, from: string, to: string): void {
    state.everyone.delete(id);
    state.everyone.set(id, to);
    for (const { operators: ops } of [state.record, state.logged]) {
      const at = ops.indexOf(operatorKey({ account: null, alias: from }));
      if (at !== -1) ops[at] = operatorKey({ account: null, alias: to });
    }
  }

  /** An empty temporary room goes once it stayed empty for the grace. */
  #expireLater(state: RoomState<M>): void {
    const host = this.#host;
    if (!expirable(state, host.default)) return;
    host.clock.clearTimeout(state.expiry as TimerId | undefined);
    state.expiry = host.clock.setTimeout(() => {
      state.expiry = undefined;
      if (host.get(state.name) !== state || !expirable(state, host.default)) {
        return;
      }
      if (host.joining(state.name)) return this.#expireLater(state);
      // One the log never knew goes here alone; any other by the log.
      if (!state.confirmed) host.drop(state);
      else host.append(expireLine(), state.name, { kind: "expire" });
    }, host.graceMs);
  }

  /**
   * Forgets everyone in every room (the shared state was lost; the members
   * here were dismissed): empty temporary rooms then expire.
   */
  forgetEveryone(): void {
    const states = new Set(
      [...this.#in.all()].flat().flatMap((n) => this.#host.get(n) ?? []),
    );
    this.#in.clear();
    this.gone.clear();
    for (const state of states) {
      state.everyone.clear();
      this.#expireLater(state);
    }
  }

  /** Starts the grace of a room just made here (it may stay empty). */
  created(state: RoomState<M>): void {
    this.#expireLater(state);
  }

  /**
   * The log refused the creation of `state` (its name looks like a room's
   * created first elsewhere, or it surely stored no `JOIN` of it): a room
   * it never knew, with nobody in it or joining it, goes now, not after
   * the grace. Returns whether it went.
   */
  refused(state: RoomState<M>): boolean {
    const host = this.#host;
    if (state.confirmed || !expirable(state, host.default)) return false;
    if (host.joining(state.name) || host.get(state.name) !== state) {
      return false;
    }
    this.stop(state);
    host.drop(state);
    return true;
  }

  /** Stops the room's timer. */
  stop(state: RoomState<M>): void {
    this.#host.clock.clearTimeout(state.expiry as TimerId | undefined);
    state.expiry = undefined;
  }

  #expire(name: string | undefined): void {
    const state = name === undefined ? undefined : this.#host.get(name);
    if (state && expirable(state, this.#host.default)) {
      this.stop(state);
      this.#host.drop(state);
    }
  }
}

/** Whether `state` is a temporary room with nobody in it, on any server. */
function expirable<M extends Member>(
  state: RoomState<M>,
  defaultRoom: RoomState<M>,
): boolean {
  return state !== defaultRoom && state.everyone.size === 0 &&
    state.record.registeredBy === null;
}

/**
 * Drops the guests' operator rights (`~alias`) of guests not in the room
 * (a record decided before its guest left must not bring them back).
 */
function keepGuestOperators<M extends Member>(state: RoomState<M>): void {
  const here = new Set<string>();
  for (const alias of state.everyone.values()) {
    here.add(operatorKey({ account: null, alias }));
  }
  state.record.operators = state.record.operators.filter((key) =>
    !key.startsWith("~") || here.has(key)
  );
}

function remove(list: string[], item: string): void {
  const at = list.indexOf(item);
  if (at !== -1) list.splice(at, 1);
}
