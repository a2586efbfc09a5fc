/**
 * Where registered rooms ({@linkcode RoomRecord}) and the rooms each
 * account is in are kept between runs: the {@linkcode RoomStore} seam, and
 * {@linkcode MemoryRoomStore}, the default without a data directory and
 * the test double (`storage/room_table.ts` is the SQLite one). A store
 * keeps copies, never the caller's objects, and refuses what is over the
 * limits ({@linkcode RoomStoreLimits}) with a `RangeError`, keeping nothing.
 *
 * @module
 */

import { aliasKey } from "../../protocol.ts";
import {
  isRoomName,
  recordProblem,
  type RoomRecord,
  type RoomStoreLimits,
} from "./room_record.ts";

/**
 * Registered rooms and accounts' rooms. Synchronous: the rooms are built
 * with the server, and a change is kept (or refused) before it is
 * announced; a store shared by servers would load into memory at start
 * and write through.
 */
export interface RoomStore {
  /** Every registered room, by name. */
  load(): RoomRecord[];
  /**
   * Where each registered room's current incarnation begins
   * (`RoomState.since`), by name: rooms kept without one are absent.
   */
  starts(): Map<string, number>;
  /**
   * Keeps `record` (a new room, or a change to one) and, if given, `since`
   * (where its current incarnation begins: a room kept with one keeps it,
   * as a registered room never vanishes to begin again). Throws a
   * `RangeError` when it would be over a limit, a `TypeError` for a bad
   * name.
   */
  save(record: RoomRecord, since?: number): void;
  /** Forgets a registered room; nothing when there is none. */
  remove(name: string): void;
  /**
   * The rooms `account` is in, in the order it joined them, each with the
   * incarnation it joined.
   */
  accountRooms(account: string): AccountRoom[];
  /**
   * Replaces the rooms `account` is in (an empty list forgets them).
   * Throws like {@linkcode save}.
   */
  setAccountRooms(account: string, rooms: readonly AccountRoom[]): void;
  /**
   * Takes every room that `gone` says vanished off every account's list
   * (a room made again is a new room: its old members are not in it).
   */
  forgetRooms(gone: (room: string) => boolean): void;
  /**
   * The accounts that joined `room` at incarnation `from` are in it at
   * `to`: the same room under the start its registration stored.
   */
  renumberRoom(room: string, from: number, to: number): void;
}

/**
 * The rooms of each account where several servers share them (a cluster's
 * Redis), beside each server's own {@linkcode RoomStore}: read at login,
 * written on each change, so that an account gets its rooms back whichever
 * server it logs into. A server alone has none.
 */
export interface SharedAccountRooms {
  /** The account's rooms as last stored by any server; null: none stored. */
  get(account: string): Promise<AccountRoom[] | null>;
  /** Stores the account's rooms (an empty list too: it is in none). */
  set(account: string, rooms: readonly AccountRoom[]): Promise<void>;
}

/** A server alone's: none shared, so each server's own list decides. */
export const NOT_SHARED: SharedAccountRooms = {
  get: () => Promise.resolve(null),
  set: () => Promise.resolve(),
};

/** A room an account is in, and which incarnation of it the account joined. */
export interface AccountRoom {
  readonly room: string;
  /**
   * The room's `RoomState.since` when the account joined it (a server
   * alone's registered room: its stored start, `RoomKeeper`); null when
   * not known (stored by a release before this was).
   */
  readonly since: number | null;
}

/**
 * Checks a record about to be kept; `others` is how many other rooms are
 * kept. Throws what {@linkcode RoomStore.save} says.
 */
export function checkRecord(
  record: RoomRecord,
  others: number,
  limits: RoomStoreLimits,
): void {
  if (!isRoomName(record.name)) {
    throw new TypeError(`Cannot keep room "${record.name}": not a room name`);
  }
  const problem = recordProblem(record, limits);
  if (record.registeredBy === null) {
    throw new TypeError(`Cannot keep room "${record.name}": not registered`);
  }
  if (problem !== null) {
    throw new RangeError(`Cannot keep room "${record.name}": ${problem}`);
  }
  if (others >= limits.maxRooms) {
    throw new RangeError(
      `Cannot keep room "${record.name}": ${others} rooms are kept, the most allowed`,
    );
  }
}

/** Checks an account's rooms; returns copies as kept (no repeats). */
export function checkAccountRooms(
  account: string,
  rooms: readonly AccountRoom[],
  limits: RoomStoreLimits,
): AccountRoom[] {
  const bad = rooms.find(({ room }) => !isRoomName(room));
  if (bad !== undefined) {
    throw new TypeError(
      `Cannot keep the rooms of "${account}": "${bad.room}" is not a room name`,
    );
  }
  const byName = new Map<string, AccountRoom>();
  for (const { room, since } of rooms) {
    if (!byName.has(room)) byName.set(room, { room, since });
  }
  const kept = [...byName.values()];
  if (kept.length > limits.maxRoomsPerMember) {
    throw new RangeError(
      `Cannot keep the rooms of "${account}": ${kept.length} rooms, more than ${limits.maxRoomsPerMember}`,
    );
  }
  return kept;
}

/**
 * An account's rooms as the servers share them (`shared`), with what
 * changed on one server since it put the account back into `base`: rooms
 * of `base` no longer in `now` (and not in `pending`: still being entered)
 * were left there and go; rooms of `now` not in `shared` were joined there
 * and come; every other room of `shared` (joined on another server) stays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeAccountRooms } from "./room_store.ts";
 *
 * const r = (room: string) => ({ room, since: 1 });
 * const shared = [r("#a"), r("#b"), r("#elsewhere")];
 * const merged = mergeAccountRooms(shared, [r("#a"), r("#b")], [r("#a"), r("#new")]);
 * assert.deepEqual(merged.map((x) => x.room), ["#a", "#elsewhere", "#new"]);
 * ```
 */
export function mergeAccountRooms(
  shared: readonly AccountRoom[],
  base: readonly AccountRoom[],
  now: readonly AccountRoom[],
  pending: ReadonlySet<string> = new Set(),
): AccountRoom[] {
  const inNow = new Map(now.map((r) => [r.room, r]));
  const left = new Set(
    base.map((r) => r.room).filter((n) => !inNow.has(n) && !pending.has(n)),
  );
  const merged = shared.filter((r) => !left.has(r.room))
    .map((r) => inNow.get(r.room) ?? r);
  for (const r of now) {
    if (!merged.some((m) => m.room === r.room)) merged.push(r);
  }
  return merged;
}

/** Rooms kept in memory: gone when the process ends. */
export class MemoryRoomStore implements RoomStore {
  #limits: RoomStoreLimits;
  #rooms = new Map<string, RoomRecord>();
  #starts = new Map<string, number>();
  #accounts = new Map<string, AccountRoom[]>();

  /** An empty store holding at most what `limits` allow. */
  constructor(limits: RoomStoreLimits) {
    this.#limits = limits;
  }

  /** See {@linkcode RoomStore.load}. */
  load(): RoomRecord[] {
    return [...this.#rooms.values()].map(copy);
  }

  /** See {@linkcode RoomStore.starts}. */
  starts(): Map<string, number> {
    return new Map(this.#starts);
  }

  /** See {@linkcode RoomStore.save}. */
  save(record: RoomRecord, since?: number): void {
    const others = this.#rooms.size - (this.#rooms.has(record.name) ? 1 : 0);
    checkRecord(record, others, this.#limits);
    this.#rooms.set(record.name, copy(record));
    if (since !== undefined && !this.#starts.has(record.name)) {
      this.#starts.set(record.name, since);
    }
  }

  /** See {@linkcode RoomStore.remove}. */
  remove(name: string): void {
    this.#rooms.delete(name);
    this.#starts.delete(name);
  }

  /** See {@linkcode RoomStore.accountRooms}. */
  accountRooms(account: string): AccountRoom[] {
    return (this.#accounts.get(aliasKey(account)) ?? []).map((r) => ({ ...r }));
  }

  /** See {@linkcode RoomStore.setAccountRooms}. */
  setAccountRooms(account: string, rooms: readonly AccountRoom[]): void {
    const kept = checkAccountRooms(account, rooms, this.#limits);
    if (kept.length === 0) this.#accounts.delete(aliasKey(account));
    else this.#accounts.set(aliasKey(account), kept);
  }

  /** See {@linkcode RoomStore.forgetRooms}. */
  forgetRooms(gone: (room: string) => boolean): void {
    for (const [account, rooms] of this.#accounts) {
      const kept = rooms.filter(({ room }) => !gone(room));
      if (kept.length === 0) this.#accounts.delete(account);
      else this.#accounts.set(account, kept);
    }
  }

  /** See {@linkcode RoomStore.renumberRoom}. */
  renumberRoom(room: string, from: number, to: number): void {
    for (const [account, rooms] of this.#accounts) {
      this.#accounts.set(
        account,
        rooms.map((r) =>
          r.room === room && r.since === from ? { room, since: to } : r
        ),
      );
    }
  }
}

function copy(record: RoomRecord): RoomRecord {
  return structuredClone(record);
}
