/**
 * Read markers: for each account and room, the last log number the account
 * has read there (`/read`), in the log's epoch, shared by all its devices.
 * The {@linkcode ReadMarkers} seam (a SQLite table on one server,
 * `storage/markers_table.ts`; a Redis hash per account in a cluster,
 * `cluster/redis_markers.ts`) and the pure rules every implementation
 * follows: a marker only grows within an epoch, one of another epoch is
 * replaced, and an account keeps at most {@linkcode markersPerAccount}
 * (the room set longest ago makes way).
 *
 * @module
 */

/** Where an account has read up to in one room. */
export interface ReadMarker {
  /** The epoch of the log the number belongs to. */
  readonly epoch: string;
  /** The last log number read. */
  readonly seq: number;
}

/** A marker set by one of an account's connections. */
export interface ReadMark extends ReadMarker {
  /** The room's name. */
  readonly room: string;
  /** The id of the member that read (its own connection is not told). */
  readonly by: string;
}

/** Called with each marker that grew (here or on another server). */
export type ReadListener = (account: string, mark: ReadMark) => void;

/**
 * Where accounts' read markers are kept. Account names are compared
 * without case.
 */
export interface ReadMarkers {
  /** The markers of `account` by room (none: an empty map). */
  get(account: string): Promise<ReadonlyMap<string, ReadMarker>>;
  /**
   * Sets `account`'s marker in `mark.room` if it {@linkcode grows}, then
   * tells every listener (of every server); resolves to whether it did.
   * A room new to an account that has {@linkcode markersPerAccount}
   * markers pushes out the one set longest ago.
   */
  set(account: string, mark: ReadMark): Promise<boolean>;
  /** Calls `listener` with each marker that grows from now on. */
  watch(listener: ReadListener): void;
}

/**
 * Whether `next` replaces the marker `old`: there is none, it is of
 * another epoch (the log restarted its numbering), or it is further.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grows } from "./read_markers.ts";
 *
 * assert.equal(grows({ epoch: "a", seq: 9 }, { epoch: "a", seq: 7 }), false);
 * assert.equal(grows({ epoch: "a", seq: 9 }, { epoch: "b", seq: 7 }), true);
 * ```
 */
export function grows(old: ReadMarker | undefined, next: ReadMarker): boolean {
  return old === undefined || old.epoch !== next.epoch || next.seq > old.seq;
}

/**
 * The most markers an account keeps: one per room it may be in
 * (`--max-rooms-per-member`), and the default room.
 */
export function markersPerAccount(
  limits: { readonly maxRoomsPerMember: number },
): number {
  return limits.maxRoomsPerMember + 1;
}

/** Whether `value` is a marker as stored (a damaged one is ignored). */
export function isReadMarker(value: ReadMarker): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(value.epoch) &&
    Number.isSafeInteger(value.seq) && value.seq >= 0;
}
