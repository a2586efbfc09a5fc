/**
 * How large a room's record may grow ({@linkcode recordGrowth}): every
 * `MOD` and `TOPIC` event (and a room's first `JOIN`) carries the whole
 * record into the log, one Redis stream entry or SQLite row each, so a
 * change may not make it larger than the config's `roomRecordBytes`. Pure;
 * what is stored is never refused.
 *
 * @module
 */

import type { RoomRecord } from "./room_record.ts";

const utf8 = new TextEncoder();

/**
 * Bytes of `record` as the log and a store keep it (its JSON, UTF-8): what
 * every event that carries it adds to a Redis stream entry or a SQLite row.
 */
export function recordBytes(record: RoomRecord): number {
  return utf8.encode(JSON.stringify(record)).length;
}

/**
 * Why `next`, a room's record after a change, may not replace `record`,
 * or null when it may: it takes more than `maxBytes` ({@linkcode
 * recordBytes}, the config's `roomRecordBytes`) and more than `record`
 * did. A change that does not grow a record is always taken, so that a
 * record an earlier release kept larger still loads and can be trimmed.
 * The one place that decides how large a record grows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newRoomRecord } from "./room_record.ts";
 * import { recordGrowth } from "./record_bound.ts";
 *
 * const room = newRoomRecord("#ops");
 * const topic = { text: "x".repeat(200), by: "amy", at: 0 };
 * assert.equal(recordGrowth(room, { ...room, topic }, 1024), null);
 * assert.match(recordGrowth(room, { ...room, topic }, 200) ?? "", /^Cannot /);
 * ```
 */
export function recordGrowth(
  record: RoomRecord,
  next: RoomRecord,
  maxBytes: number,
): string | null {
  const bytes = recordBytes(next);
  if (bytes <= maxBytes || bytes <= recordBytes(record)) return null;
  return `Cannot change ${record.name}: its settings (topic, operators, invites, bans, mutes) would take ${bytes} bytes, more than ${maxBytes}; remove a ban or mute first, or give shorter reasons`;
}
