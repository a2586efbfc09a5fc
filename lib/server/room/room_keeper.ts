/**
 * What a server's rooms keep across restarts, through a `RoomStore`: the
 * registered rooms (loaded at start, each stored again after every change
 * to it, with where it began) and the rooms each account is in (stored on each join, part, kick
 * and room ban; a disconnect changes nothing: they are rejoined at the
 * next login, on any device; a room that vanishes is taken off every
 * list, as it goes and at start). The default room is not among them: its topic, bans and
 * mutes are the server's (`Moderation`). A store that fails is reported,
 * never thrown at the room: the change holds until the server stops.
 *
 * @module
 */

import {
  type RoomRecord,
  type RoomStoreLimits,
  storedRecord,
} from "./room_record.ts";
import { MemoryRoomStore, type RoomStore } from "./room_store.ts";

/** Options of {@linkcode RoomKeeper}. */
export interface RoomKeeperOptions {
  /**
   * Where registered rooms and accounts' rooms are kept.
   * @default {a MemoryRoomStore}
   */
  readonly store?: RoomStore;
  /** A change could not be stored. @default {nothing} */
  readonly onStoreError?: (error: unknown) => void;
}

/** Keeps registered rooms and accounts' rooms (see the module). */
export class RoomKeeper {
  readonly store: RoomStore;
  #defaultRoom: string;
  #onStoreError: (error: unknown) => void;
  /** Rooms being joined again at login, by member id. */
  #rejoining = new Map<string, Set<string>>();

  /** A keeper of the rooms but `defaultRoom`, within `limits`. */
  constructor(
    defaultRoom: string,
    options: RoomKeeperOptions & RoomStoreLimits,
  ) {
    this.#defaultRoom = defaultRoom;
    this.store = options.store ?? new MemoryRoomStore(options);
    this.#onStoreError = options.onStoreError ?? (() => {});
  }

  /** The registered rooms, at start (throws for a damaged store). */
  registered(): RoomRecord[] {
    return this.store.load().filter((r) => r.name !== this.#defaultRoom);
  }

  /**
   * Stores a room's record after a change, if it is registered, with where
   * its current incarnation begins (`since`, kept from its registration:
   * a restart begins it there again, whatever the log keeps by then).
   */
  changed(record: RoomRecord, since: number): void {
    if (record.registeredBy === null || record.name === this.#defaultRoom) {
      return;
    }
    this.#try(() => this.store.save(storedRecord(record), since));
  }

  /**
   * Stores the rooms a member is in now, in join order, if it is logged
   * into an account and has `rooms` (without, it is in the default room
   * only, and must not forget an account's rooms).
   */
  inRooms(
    member: { readonly account?: string | null; readonly roomsOn?: boolean },
    rooms: readonly string[],
  ): void {
    const account = member.account;
    if (!member.roomsOn || !account) return;
    const kept = rooms.filter((name) => name !== this.#defaultRoom);
    this.#try(() => this.store.setAccountRooms(account, kept));
  }

  /** The rooms `account` was in, to join again at login. */
  accountRooms(account: string): string[] {
    try {
      return this.store.accountRooms(account);
    } catch (error) {
      this.#onStoreError(error);
      return [];
    }
  }

  /**
   * Takes every room `gone` says vanished off every account's list: its
   * members' membership ends with it (one made again is a new room).
   */
  forget(gone: (room: string) => boolean): void {
    this.#try(() => this.store.forgetRooms(gone));
  }

  /** Member `id` is joining `room` again at login (not a switch to it). */
  rejoining(id: string, room: string): void {
    const rooms = this.#rejoining.get(id) ?? new Set();
    this.#rejoining.set(id, rooms.add(room));
  }

  /**
   * Whether `id`'s join of `room` was a rejoin at login (asked once): it
   * is not switched to, the default room stays current.
   */
  rejoined(id: string, room: string): boolean {
    const rooms = this.#rejoining.get(id);
    if (!rooms?.delete(room)) return false;
    if (rooms.size === 0) this.#rejoining.delete(id);
    return true;
  }

  /** Member `id` left the server: its rejoins still on their way end. */
  departed(id: string): void {
    this.#rejoining.delete(id);
  }

  #try(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#onStoreError(error);
    }
  }
}
