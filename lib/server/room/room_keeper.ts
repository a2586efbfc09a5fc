/**
 * What a server's rooms keep across restarts, through a `RoomStore`: the
 * registered rooms (loaded at start, each stored again after every change
 * to it, with where it began) and the rooms each account is in (stored on
 * each join, part, kick and room ban; a disconnect changes nothing: they
 * are rejoined at the next login, on any device; a room that vanishes is
 * taken off every list, as it goes and at start; each room noted with its
 * incarnation, a server alone's registered room by its stored start, the
 * same in every run; in a cluster, also in Redis, read at each login, so
 * that they come back whichever server it logs into). The default room is
 * not among them: its topic, bans and mutes are the server's
 * (`Moderation`). A store that fails is
 * reported, never thrown at the room: the change holds until the server
 * stops.
 *
 * @module
 */

import {
  type RoomRecord,
  type RoomStoreLimits,
  storedRecord,
} from "./room_record.ts";
import { aliasKey } from "../../protocol.ts";
import {
  type AccountRoom,
  MemoryRoomStore,
  mergeAccountRooms,
  NOT_SHARED,
  type RoomStore,
  type SharedAccountRooms,
} from "./room_store.ts";

/** What the keeper reads of a room: where its incarnation begins. */
export interface KeptRoom {
  readonly since: number;
  readonly record: Pick<RoomRecord, "registeredBy">;
}

/**
 * Whether an account that joined incarnation `joined` of a room (its
 * `since` then) is still in `room` as it is now: only in the same
 * incarnation (a room made again is a new room). Not known (`null`: a
 * row stored before incarnations were; or after the room's, its numbers
 * begun anew: a log not kept across restarts) is taken as the same only
 * for a registered room (it never vanishes: its members are not locked
 * out) or one begun at the log's start (no earlier one).
 */
export function rejoinable(joined: number | null, room: KeptRoom): boolean {
  if (joined === room.since) return true;
  const unknown = joined === null || joined > room.since;
  return unknown && (room.record.registeredBy !== null || room.since === 0);
}

/** Options of {@linkcode RoomKeeper}. */
export interface RoomKeeperOptions {
  /**
   * Where registered rooms and accounts' rooms are kept.
   * @default {a MemoryRoomStore}
   */
  readonly store?: RoomStore;
  /**
   * Where the servers of a cluster share accounts' rooms (the store keeps
   * a copy). @default {NOT_SHARED: a server alone}
   */
  readonly shared?: SharedAccountRooms;
  /** A change could not be stored. @default {nothing} */
  readonly onStoreError?: (error: unknown) => void;
  /**
   * Whether the store's starts (`RoomStore.starts`) name the registered
   * rooms' incarnations in an account's rooms: the rooms of a server
   * alone, registered only through it (its log may number anew in a run,
   * as `--durability memory` does), not a cluster's (Redis says where
   * each begins). @default {false}
   */
  readonly storedStarts?: boolean;
}

/** Keeps registered rooms and accounts' rooms (see the module). */
export class RoomKeeper {
  readonly store: RoomStore;
  #defaultRoom: string;
  #onStoreError: (error: unknown) => void;
  #shared: SharedAccountRooms;
  /**
   * The last list written here that the shared store refused (Redis away),
   * by alias key, until one is written.
   */
  #unshared = new Map<string, readonly AccountRoom[]>();
  /**
   * Accounts whose shared list could not be read at a login here (asked
   * twice), by alias key: the list they were put back into from this
   * server's store then (`base`, moved on by each merge). Until a read
   * answers, their lists are merged into the shared one (what changed here
   * since `base`), never written over it: rooms joined on other servers
   * meanwhile stay there, and come back at the next login.
   */
  #stale = new Map<string, readonly AccountRoom[]>();
  /** Each stale account's merges, one after the other. */
  #merges = new Map<string, Promise<void>>();
  #room: (name: string) => KeptRoom | undefined;
  /** Registered rooms' stored starts (null: none), if they name them. */
  #starts: Map<string, number | null> | null = null;
  /** Rooms being joined again at login, by member id. */
  #rejoining = new Map<string, Set<string>>();

  /**
   * A keeper of the rooms but `defaultRoom`, within `limits`; `room` finds
   * a room as it is now.
   */
  constructor(
    defaultRoom: string,
    options: RoomKeeperOptions & RoomStoreLimits,
    room: (name: string) => KeptRoom | undefined,
  ) {
    this.#defaultRoom = defaultRoom;
    this.#room = room;
    this.store = options.store ?? new MemoryRoomStore(options);
    this.#onStoreError = options.onStoreError ?? (() => {});
    this.#shared = options.shared ?? NOT_SHARED;
    if (options.storedStarts) {
      this.#starts = new Map();
      this.#try(() => this.#starts = this.store.starts());
    }
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
    this.#try(() => {
      this.store.save(storedRecord(record), since);
      this.#stored(record.name, since);
    });
  }

  /**
   * Notes the start stored with a room just registered; if it is not the
   * room's `since` (a log numbering apart from the store), the accounts
   * that joined it before are renumbered to it.
   */
  #stored(name: string, since: number): void {
    if (this.#starts === null || this.#starts.has(name)) return;
    const start = this.store.starts().get(name) ?? null;
    this.#starts.set(name, start);
    if (start !== null && start !== since) {
      this.store.renumberRoom(name, since, start);
    }
  }

  /**
   * Room `name` as an account's room notes it: its incarnation is its
   * stored start where that names it (the same in every run of a data
   * directory, whatever its log's numbers), else its `since`.
   */
  #kept(name: string): KeptRoom | undefined {
    const room = this.#room(name);
    const start = this.#starts?.get(name) ?? null;
    return room && start !== null
      ? { since: start, record: room.record }
      : room;
  }

  /**
   * Whether an account that joined `joined` is in that room as it is now
   * (it exists and is the incarnation joined: {@linkcode rejoinable}).
   */
  stillIn(joined: AccountRoom): boolean {
    const room = this.#kept(joined.room);
    return room !== undefined && rejoinable(joined.since, room);
  }

  /**
   * Stores the rooms a member is in now, in join order, each with its
   * current incarnation, if it is logged into an account and has `rooms`
   * (without, it is in the default room only, and must not forget an
   * account's rooms).
   */
  inRooms(
    member: {
      readonly id?: string;
      readonly account?: string | null;
      readonly roomsOn?: boolean;
    },
    rooms: readonly string[],
  ): void {
    const account = member.account;
    if (!member.roomsOn || !account) return;
    const kept = rooms.filter((name) => name !== this.#defaultRoom)
      .map((room) => ({ room, since: this.#kept(room)?.since ?? null }));
    this.#try(() => this.store.setAccountRooms(account, kept));
    if (!this.#stale.has(aliasKey(account))) return this.#share(account, kept);
    // Rooms it is being put back into are not left: they are on their way.
    const pending = this.#rejoining.get(member.id ?? "") ?? new Set<string>();
    this.#merge(account, kept, new Set(pending));
  }

  /**
   * Whether `account`'s shared list could not be read at its last login
   * here (its rooms came from this server's store, perhaps out of date).
   */
  stale(account: string): boolean {
    return this.#stale.has(aliasKey(account));
  }

  /**
   * Merges a stale account's list `kept` (rooms in `pending` still being
   * entered) into the shared one, after the merges before: read again; if
   * it answers, what changed here since the base is applied to it and
   * written, and the base moves on; if not, nothing is shared (this
   * server's store has it; the next login here merges it).
   */
  #merge(
    account: string,
    kept: readonly AccountRoom[],
    pending: ReadonlySet<string>,
  ): void {
    const key = aliasKey(account);
    const step = async () => {
      const base = this.#stale.get(key);
      if (base === undefined) return this.#share(account, kept);
      const shared = await this.#shared.get(account);
      await this.#shared.set(
        account,
        mergeAccountRooms(shared ?? [], base, kept, pending),
      );
      // Shared now: later changes count from here (what was on its way
      // stays shared until left).
      if (this.#stale.has(key)) this.#stale.set(key, kept);
    };
    const last = this.#merges.get(key) ?? Promise.resolve();
    const next = last.then(step).catch((error) => this.#onStoreError(error));
    this.#merges.set(key, next);
    void next.then(() => {
      if (this.#merges.get(key) === next) this.#merges.delete(key);
    });
  }

  /** Writes `account`'s list through; one refused is noted as unshared. */
  #share(account: string, kept: readonly AccountRoom[]): void {
    const key = aliasKey(account);
    const refused = (error: unknown) => {
      this.#unshared.set(key, kept);
      this.#onStoreError(error);
    };
    this.#shared.set(account, kept).then(() => {
      this.#unshared.delete(key);
    }, refused);
  }

  /**
   * Takes into the store the rooms the servers share for `account` (at
   * login, before {@linkcode accountRooms}): those another server stored
   * last. Kept as they are when none are shared or they cannot be read.
   * Where this server's last list for it was not written (Redis away),
   * neither list is known to be the newer: only the rooms in both are
   * kept, and written (a room left here, by a kick or a part, is not
   * entered again past its key or invitation from the older shared list,
   * nor one left on another server since from this one's). A read that
   * fails twice leaves the store's list, marked {@linkcode stale}; one that
   * answers for a stale account applies what changed here since it was
   * marked (`mergeAccountRooms`) and clears the mark.
   */
  async fetch(account: string): Promise<void> {
    const key = aliasKey(account);
    const own = this.#unshared.get(key);
    await this.#merges.get(key); // read what they wrote
    let rooms: AccountRoom[] | null;
    try {
      rooms = await this.#read(account);
    } catch (error) {
      // Its rooms come from this server's store, marked stale (told).
      if (!this.#stale.has(key)) {
        this.#stale.set(key, this.accountRooms(account));
      }
      return this.#onStoreError(error);
    }
    try {
      const base = this.#stale.get(key);
      if (base !== undefined) {
        // What changed here since, applied to what the servers share.
        this.#stale.delete(key);
        this.#unshared.delete(key);
        const now = this.accountRooms(account);
        const merged = mergeAccountRooms(rooms ?? [], base, now);
        this.#try(() => this.store.setAccountRooms(account, merged));
        this.#share(account, merged);
      } else if (own !== undefined) {
        const both = (rooms ?? []).filter((r) =>
          own.some((o) => o.room === r.room && o.since === r.since)
        );
        this.#try(() => this.store.setAccountRooms(account, both));
        this.#share(account, both);
      } else if (rooms !== null) this.store.setAccountRooms(account, rooms);
    } catch (error) {
      this.#onStoreError(error);
    }
  }

  /**
   * The shared list, asked again once when the first ask fails (its answer
   * lost, a blip); the second failure is thrown.
   */
  async #read(account: string): Promise<AccountRoom[] | null> {
    try {
      return await this.#shared.get(account);
    } catch {
      // Asked once more; a second failure is the caller's to report.
      return await this.#shared.get(account);
    }
  }

  /**
   * The rooms `account` was in, to join again at login, with the
   * incarnation it joined ({@linkcode rejoinable} says if it still is).
   */
  accountRooms(account: string): AccountRoom[] {
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
