/**
 * What the rooms start from: every room the log knows, everyone in them,
 * and each room's last messages. One server takes it from its data
 * directory (nobody is connected at start); a cluster from Redis, in one
 * step with where reading the log goes on.
 *
 * @module
 */

import type { RoomEvent } from "./room_log.ts";
import type { RoomRecord } from "./room_record.ts";

/** What the rooms start from (lib/server/room/rooms_snapshot.ts). */
export interface RoomsSnapshot {
  /** Every room the log knows now (registered and temporary), the default room's too if known. */
  readonly records: readonly RoomRecord[];
  /** Everyone in the rooms now, in join order: member id, alias, the rooms it is in (the default room by name). */
  readonly members: readonly {
    readonly id: string;
    readonly alias: string;
    readonly rooms: readonly string[];
  }[];
  /** Each room's last messages and actions (MSG/ME), oldest first, by room name (the default room by name). */
  readonly recent: ReadonlyMap<string, readonly RoomEvent[]>;
}
