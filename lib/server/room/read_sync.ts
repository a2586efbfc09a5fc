/**
 * Read markers in the room: `/read [#room] SEQ` kept for the member's
 * account (a guest's is accepted and ignored), and each marker that grew,
 * here or on another server, told as `READ SEQ` (`#room READ SEQ` with
 * `rooms`) to the account's other connections here that have `seq` and
 * are in that room. Markers of another epoch than the log's are never
 * told. Only SEQ the server has handed on is kept (a larger one is cut to
 * it), so no client can hold a marker ahead of the log.
 *
 * @module
 */

import { aliasKey, ProtocolError } from "../../protocol.ts";
import type { Moderated } from "./moderator.ts";
import type { ReadMark, ReadMarker, ReadMarkers } from "./read_markers.ts";
import type { Room } from "./room.ts";
import type { RoomState } from "./room_state.ts";
import type { StartingPoints } from "./catch_up.ts";

/** A member that may have the `seq` capability. */
export type Reader = Moderated & { readonly seqOn?: boolean };

/**
 * Where the room's log is: the number of the last event handed on (none
 * known: no limit).
 */
interface LogPosition {
  readonly handedOn?: number;
}

/** Keeps accounts' markers and tells their other connections. */
export class ReadSync<M extends Reader> {
  readonly markers: ReadMarkers;
  #room: Room<M> & LogPosition;
  /** Each logged-in member's markers, loaded at login (`load`). */
  #loaded = new WeakMap<M, Map<string, ReadMarker>>();

  /** Markers in `markers`, told to the members of `room`. */
  constructor(markers: ReadMarkers, room: Room<M>) {
    this.markers = markers;
    this.#room = room;
    markers.watch((account, mark) => this.#grew(account, mark));
  }

  /**
   * `/read`: `self` has read up to `seq` in `state` (it is in it). Throws
   * `ERR usage` without `seq`; nothing for a guest.
   */
  async read(self: M, state: RoomState<M>, seq: number): Promise<void> {
    if (!self.seqOn) {
      throw new ProtocolError("usage", "/read needs the seq capability");
    }
    if (self.account === null) return;
    await this.markers.set(self.account, {
      room: state.name,
      epoch: this.#epoch,
      seq: Math.min(seq, this.#room.handedOn ?? seq),
      by: self.id,
    });
  }

  /**
   * Loads the markers of `member`'s account (at login, before it enters
   * its rooms), for {@linkcode start} and {@linkcode entered}, which are
   * asked synchronously; kept up to date as they grow. A store that
   * fails: none (history instead of a catch-up, no `READ`).
   */
  async load(member: M): Promise<void> {
    if (member.account === null) return;
    const markers = await this.markers.get(member.account)
      .catch(() => new Map<string, ReadMarker>());
    this.#loaded.set(member, new Map(markers));
  }

  /**
   * Where `member` (with `resume`, no position given) starts in `room`:
   * its account's marker there in this epoch, if loaded (the catch-up's
   * `StartingPoints` hook).
   */
  start(member: M, room: string): number | undefined {
    const marker = this.#loaded.get(member)?.get(room);
    return marker?.epoch === this.#epoch ? marker.seq : undefined;
  }

  /**
   * `member` entered `room` (its history or catch-up queued): with `seq`,
   * `READ SEQ` when its account has a marker there in this epoch.
   */
  entered(member: M, room: string): void {
    const seq = this.start(member, room);
    const state = this.#room.router.rooms.get(room);
    if (!member.seqOn || seq === undefined || state === undefined) return;
    this.#room.router.tellIn(member, state, { type: "READ", seq: String(seq) });
  }

  /** The log's epoch. */
  get #epoch(): string {
    return this.#room.replies.epoch;
  }

  /** Tells the account's other connections here that are in the room. */
  #grew(account: string, mark: ReadMark): void {
    const { router } = this.#room;
    const state = router.rooms.get(mark.room);
    if (state === undefined || mark.epoch !== this.#epoch) return;
    for (const member of this.#room.members()) {
      if (member.account !== null && aliasKey(member.account) === account) {
        this.#loaded.get(member)?.set(mark.room, mark);
      }
      if (
        member.id === mark.by || !member.seqOn || member.account === null ||
        aliasKey(member.account) !== account || !state.members.has(member.id)
      ) continue;
      router.tellIn(member, state, { type: "READ", seq: String(mark.seq) });
    }
  }
}

/**
 * The room's `StartingPoints`, answered by a {@linkcode ReadSync} set
 * once the room exists (`sync`; the sync needs the room, the room its
 * options): none before.
 */
export class ReadPoints<M extends Reader> implements StartingPoints<M> {
  /** The sync that answers. */
  sync?: ReadSync<M>;

  /** {@linkcode ReadSync.start}. */
  start(member: M, room: string): number | undefined {
    return this.sync?.start(member, room);
  }

  /** {@linkcode ReadSync.entered}. */
  entered(member: M, room: string): void {
    this.sync?.entered(member, room);
  }
}
