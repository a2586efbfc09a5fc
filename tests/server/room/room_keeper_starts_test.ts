/**
 * Which incarnation of a room an account's room notes, with fake rooms and
 * a `MemoryRoomStore` shared by keepers (runs of one data directory): on a
 * server alone a registered room's stored start, the same in every run
 * whatever its log's numbers (`--durability memory` numbers anew), and the
 * accounts that joined a room before it was registered moved to it; a
 * cluster's (and a temporary room's) the room's `since`. An older
 * incarnation is still not rejoined.
 */

import assert from "node:assert/strict";
import {
  type KeptRoom,
  RoomKeeper,
} from "../../../lib/server/room/room_keeper.ts";
import {
  newRoomRecord,
  registeredRoom,
  type RoomRecord,
} from "../../../lib/server/room/room_record.ts";
import {
  MemoryRoomStore,
  type RoomStore,
} from "../../../lib/server/room/room_store.ts";
import { LIMITS } from "./_rooms_fakes.ts";

const ALICE = { account: "alice", roomsOn: true };

/** A keeper over `store` whose rooms are `rooms` (name: since, record). */
function keeper(
  store: RoomStore,
  rooms: Record<string, { since: number; record: RoomRecord }>,
  storedStarts = true,
): RoomKeeper {
  const room = (name: string): KeptRoom | undefined => rooms[name];
  return new RoomKeeper("#lobby", { ...LIMITS, store, storedStarts }, room);
}

/**
 * A store whose starts are not its log's (as `SqliteRoomStore` while the
 * log is not the data directory's): a room registered begins at `start`.
 */
function apart(store: RoomStore, start: number): RoomStore {
  return {
    load: () => store.load(),
    starts: () => store.starts(),
    save: (record) => store.save(record, start),
    remove: (name) => store.remove(name),
    accountRooms: (account) => store.accountRooms(account),
    setAccountRooms: (account, rooms) => store.setAccountRooms(account, rooms),
    forgetRooms: (gone) => store.forgetRooms(gone),
    renumberRoom: (room, from, to) => store.renumberRoom(room, from, to),
  };
}

Deno.test("a server alone notes a registered room's stored start: a run numbering anew keeps an account in it at the next run", () => {
  const store = new MemoryRoomStore(LIMITS);
  const k = registeredRoom("#k", "opal");
  store.save(k, 5000); // registered in a normal run, begun at 5000
  const temporary = { since: 3, record: newRoomRecord("#t") };
  // A run with its log in memory: #k's since is 0 there.
  const memory = keeper(store, {
    "#k": { since: 0, record: k },
    "#t": temporary,
  });
  memory.inRooms(ALICE, ["#lobby", "#k", "#t"]); // she joined #t: rewritten
  assert.deepEqual(store.accountRooms("alice"), [
    { room: "#k", since: 5000 },
    { room: "#t", since: 3 },
  ]);
  // The next normal run: #k begins at its stored start again.
  const normal = keeper(store, { "#k": { since: 5000, record: k } });
  assert.equal(normal.stillIn({ room: "#k", since: 5000 }), true);
  assert.equal(normal.stillIn({ room: "#t", since: 3 }), false, "vanished");
  // An account of an older room of its name is still not let in.
  assert.equal(normal.stillIn({ room: "#k", since: 40 }), false);
  assert.equal(memory.stillIn({ room: "#k", since: 40 }), false);
});

Deno.test("a room registered in a run numbering anew: its accounts that joined before are moved to its stored start, those of another incarnation not", () => {
  const store = new MemoryRoomStore(LIMITS);
  const n = { since: 12, record: newRoomRecord("#n") };
  const memory = keeper(apart(store, 6000), { "#n": n });
  memory.inRooms(ALICE, ["#n"]);
  store.setAccountRooms("bob", [{ room: "#n", since: 2 }]); // an older #n
  n.record = registeredRoom("#n", "alice");
  memory.changed(n.record, 12);
  assert.deepEqual(store.starts(), new Map([["#n", 6000]]));
  assert.deepEqual(store.accountRooms("alice"), [{ room: "#n", since: 6000 }]);
  assert.deepEqual(store.accountRooms("bob"), [{ room: "#n", since: 2 }]);
  memory.inRooms(ALICE, ["#n"]); // and written so from then
  assert.deepEqual(store.accountRooms("alice"), [{ room: "#n", since: 6000 }]);
  memory.changed(n.record, 12); // a later change moves nobody
  assert.deepEqual(store.accountRooms("bob"), [{ room: "#n", since: 2 }]);
  const normal = keeper(store, { "#n": { since: 6000, record: n.record } });
  assert.equal(normal.stillIn({ room: "#n", since: 6000 }), true);
  assert.equal(normal.stillIn({ room: "#n", since: 2 }), false);
});

Deno.test("a cluster's server notes each room's since (Redis's), not its data directory's starts", () => {
  const store = new MemoryRoomStore(LIMITS);
  const k = registeredRoom("#k", "opal");
  store.save(k, 5000); // this data directory's, from another time
  const cluster = keeper(store, { "#k": { since: 70, record: k } }, false);
  cluster.inRooms(ALICE, ["#k"]);
  assert.deepEqual(store.accountRooms("alice"), [{ room: "#k", since: 70 }]);
  assert.equal(cluster.stillIn({ room: "#k", since: 70 }), true);
  assert.equal(cluster.stillIn({ room: "#k", since: 5000 }), true, "unknown");
  assert.equal(cluster.stillIn({ room: "#k", since: 12 }), false);
  assert.equal(cluster.stillIn({ room: "#gone", since: 0 }), false);
});
