/**
 * Where registered rooms ({@linkcode RoomRecord}) and the rooms each
 * account is in are kept between runs: the {@linkcode RoomStore} seam, and
 * {@linkcode MemoryRoomStore}, the default without a data directory and
 * the test double (`storage/room_table.ts` is the SQLite one). A store
 * keeps copies, never the caller's objects, and refuses what is over the
 * limits ({@linkcode RoomLimits}) with a `RangeError`, keeping nothing.
 *
 * @module
 */

import { aliasKey } from "../../protocol.ts";
import {
  isRoomName,
  recordProblem,
  type RoomLimits,
  type RoomRecord,
} from "./room_record.ts";

/**
 * Registered rooms and accounts' rooms. Async, so that a store shared by
 * servers (a cluster's) fits the same seam; the ones here answer at once.
 */
export interface RoomStore {
  /** Every registered room, by name. */
  load(): Promise<RoomRecord[]>;
  /**
   * Keeps `record` (a new room, or a change to one). Throws a `RangeError`
   * when it would be over a limit, a `TypeError` for a bad name.
   */
  save(record: RoomRecord): Promise<void>;
  /** Forgets a registered room; nothing when there is none. */
  remove(name: string): Promise<void>;
  /** The rooms `account` is in, in the order it joined them. */
  accountRooms(account: string): Promise<string[]>;
  /**
   * Replaces the rooms `account` is in (an empty list forgets them).
   * Throws like {@linkcode save}.
   */
  setAccountRooms(account: string, rooms: readonly string[]): Promise<void>;
}

/**
 * Checks a record about to be kept; `others` is how many other rooms are
 * kept. Throws what {@linkcode RoomStore.save} says.
 */
export function checkRecord(
  record: RoomRecord,
  others: number,
  limits: RoomLimits,
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

/** Checks an account's rooms; returns them as kept (no repeats). */
export function checkAccountRooms(
  account: string,
  rooms: readonly string[],
  limits: RoomLimits,
): string[] {
  const bad = rooms.find((room) => !isRoomName(room));
  if (bad !== undefined) {
    throw new TypeError(
      `Cannot keep the rooms of "${account}": "${bad}" is not a room name`,
    );
  }
  const kept = [...new Set(rooms)];
  if (kept.length > limits.maxRoomsPerMember) {
    throw new RangeError(
      `Cannot keep the rooms of "${account}": ${kept.length} rooms, more than ${limits.maxRoomsPerMember}`,
    );
  }
  return kept;
}

/** Rooms kept in memory: gone when the process ends. */
export class MemoryRoomStore implements RoomStore {
  #limits: RoomLimits;
  #rooms = new Map<string, RoomRecord>();
  #accounts = new Map<string, string[]>();

  /** An empty store holding at most what `limits` allow. */
  constructor(limits: RoomLimits) {
    this.#limits = limits;
  }

  /** See {@linkcode RoomStore.load}. */
  load(): Promise<RoomRecord[]> {
    return Promise.resolve([...this.#rooms.values()].map(copy));
  }

  /** See {@linkcode RoomStore.save}. */
  save(record: RoomRecord): Promise<void> {
    try {
      const others = this.#rooms.size - (this.#rooms.has(record.name) ? 1 : 0);
      checkRecord(record, others, this.#limits);
    } catch (e) {
      return Promise.reject(e);
    }
    this.#rooms.set(record.name, copy(record));
    return Promise.resolve();
  }

  /** See {@linkcode RoomStore.remove}. */
  remove(name: string): Promise<void> {
    this.#rooms.delete(name);
    return Promise.resolve();
  }

  /** See {@linkcode RoomStore.accountRooms}. */
  accountRooms(account: string): Promise<string[]> {
    return Promise.resolve([...this.#accounts.get(aliasKey(account)) ?? []]);
  }

  /** See {@linkcode RoomStore.setAccountRooms}. */
  setAccountRooms(account: string, rooms: readonly string[]): Promise<void> {
    let kept: string[];
    try {
      kept = checkAccountRooms(account, rooms, this.#limits);
    } catch (e) {
      return Promise.reject(e);
    }
    if (kept.length === 0) this.#accounts.delete(aliasKey(account));
    else this.#accounts.set(aliasKey(account), kept);
    return Promise.resolve();
  }
}

function copy(record: RoomRecord): RoomRecord {
  return structuredClone(record);
}
