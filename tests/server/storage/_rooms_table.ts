/**
 * Test helper: a room registered in a data directory's `rooms` table, as
 * `/register` leaves it (retention spares the newest lines of registered
 * rooms and the default room only).
 */

import type { DatabaseSync } from "node:sqlite";
import { registeredRoom } from "../../../lib/server/room/room_record.ts";
import { SqliteRoomStore } from "../../../lib/server/storage/room_table.ts";

/** Registers room `name` (by account `q`) in `db`'s `rooms` table. */
export function registerIn(db: DatabaseSync, name: string): void {
  const limits = { maxRooms: 10, maxRoomEntries: 10, maxRoomsPerMember: 10 };
  new SqliteRoomStore(db, limits).save(registeredRoom(name, "q"));
}
