/** `MemoryRoomStore`, the default and the test double, against the RoomStore contract. */

import { MemoryRoomStore } from "../../../lib/server/room/room_store.ts";
import { CONTRACT_LIMITS, ROOM_STORE_CASES } from "./room_store_contract.ts";

for (const contract of ROOM_STORE_CASES) {
  Deno.test(`MemoryRoomStore: ${contract.name}`, () => {
    const store = new MemoryRoomStore(CONTRACT_LIMITS);
    // A memory store lasts as long as the process: "reopened", it is itself.
    contract.run({ store, reopen: () => store });
  });
}
