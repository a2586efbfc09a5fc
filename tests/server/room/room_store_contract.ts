/**
 * The behaviour every {@linkcode RoomStore} must have, as one suite run
 * against each implementation (`MemoryRoomStore` in `room_store_test.ts`,
 * `SqliteRoomStore` in `../storage/room_table_test.ts`): what is saved is
 * loaded back as it was, copies only, across a reopen (a room's start
 * kept from its first save); the limits refuse and keep nothing;
 * accounts' rooms keep their order and the incarnation each was joined.
 */

import assert from "node:assert/strict";
import type { Sanction } from "../../../lib/server/access/moderation.ts";
import {
  hashRoomKey,
  mayEnter,
  newRoomRecord,
  registeredRoom,
  type RoomRecord,
  type RoomStoreLimits,
} from "../../../lib/server/room/room_record.ts";
import type {
  AccountRoom,
  RoomStore,
} from "../../../lib/server/room/room_store.ts";

/** The limits every store of the suite is opened with. */
export const CONTRACT_LIMITS: RoomStoreLimits = {
  maxRooms: 3,
  maxRoomEntries: 2,
  maxRoomsPerMember: 3,
};

/** A store under test, and the same data opened again (a restart). */
export interface RoomStoreWorld {
  readonly store: RoomStore;
  /** The store as a restarted server would open it. */
  reopen(): RoomStore;
}

/** One case of the contract. */
export interface RoomStoreCase {
  readonly name: string;
  run(world: RoomStoreWorld): void;
}

const BAN: Sanction = {
  id: 1,
  type: "ban",
  kind: "address",
  target: "10.0.0.9",
  label: "mallory",
  until: 1_700_000_600_000,
  by: "opal",
  reason: "spam",
};

const MUTE: Sanction = {
  id: 2,
  type: "mute",
  kind: "account",
  target: "Bob",
  label: "Bob",
  until: null,
  by: "opal",
  reason: "",
};

const KEY_HASH = hashRoomKey("s3cret");

/** A record with something in every field. */
function fullRecord(name = "#ops"): RoomRecord {
  return {
    ...registeredRoom(name, "Opal"),
    operators: ["opal", "carol"],
    keyHash: KEY_HASH,
    inviteOnly: true,
    invites: ["dave", "erin"],
    bans: [BAN],
    mutes: [MUTE],
    topic: { text: "Deploys only", by: "opal" },
  };
}

function rejectsKeepingNothing(
  store: RoomStore,
  work: () => void,
  error: RegExp,
): void {
  const before = store.load();
  assert.throws(work, error);
  assert.deepEqual(store.load(), before, "nothing changed");
}

/** The contract. */
export const ROOM_STORE_CASES: readonly RoomStoreCase[] = [
  {
    name: "a saved record loads back whole, as a copy, and after a reopen",
    run({ store, reopen }) {
      assert.deepEqual(store.load(), []);
      const record = fullRecord();
      store.save(record);
      record.operators.push("mallory");
      record.bans.length = 0;
      const [loaded] = store.load();
      assert.deepEqual(loaded, fullRecord(), "the saved object was copied");
      loaded!.invites.push("zed");
      assert.deepEqual(store.load(), [fullRecord()], "a copy loaded");
      const [again] = reopen().load();
      assert.deepEqual(again, fullRecord());
      // The key still opens the room, the ban still holds.
      const guest = {
        account: null,
        alias: "dave2",
        host: "10.0.0.1",
        serverOperator: false,
      };
      const open = { ...again!, inviteOnly: false };
      assert.equal(mayEnter(open, guest, { nowMs: 0, key: "s3cret" }), "ok");
      assert.equal(
        mayEnter(open, guest, { nowMs: 0, key: "nope" }),
        "room-key",
      );
      const banned = { ...guest, host: "10.0.0.9" };
      assert.equal(
        mayEnter(open, banned, { nowMs: 0, key: "s3cret" }),
        "room-banned",
      );
    },
  },
  {
    name:
      "saving a room again replaces it; remove forgets it, and an absent one is nothing",
    run({ store, reopen }) {
      store.save(fullRecord("#ops"));
      store.save(registeredRoom("#dev", "carol"));
      store.save({ ...fullRecord("#ops"), keyHash: null, topic: null });
      store.remove("#dev");
      store.remove("#nowhere");
      const rooms = reopen().load();
      assert.deepEqual(rooms.map((r) => r.name), ["#ops"]);
      assert.equal(rooms[0]!.keyHash, null);
      assert.equal(rooms[0]!.topic, null);
      assert.deepEqual(rooms[0]!.bans, [BAN]);
    },
  },
  {
    name:
      "a room's start loads back, is kept while the room is (a later save does not move it), and goes with it",
    run({ store, reopen }) {
      store.save(registeredRoom("#ops", "opal"), 41);
      store.save(registeredRoom("#dev", "carol"));
      assert.deepEqual(store.starts(), new Map([["#ops", 41]]));
      store.save({ ...registeredRoom("#ops", "opal"), inviteOnly: true }, 99);
      store.save(registeredRoom("#dev", "carol"), 7); // kept without: now
      store.save(registeredRoom("#a", "opal"));
      assert.throws(() => store.save(registeredRoom("#b", "opal"), 5));
      const again = reopen();
      assert.deepEqual(again.starts(), new Map([["#dev", 7], ["#ops", 41]]));
      assert.equal(
        again.load().find((r) => r.name === "#ops")?.inviteOnly,
        true,
      );
      again.remove("#ops");
      assert.deepEqual([...again.starts().keys()], ["#dev"]);
      again.save(registeredRoom("#ops", "opal"), 120);
      assert.equal(reopen().starts().get("#ops"), 120, "registered anew");
    },
  },
  {
    name:
      "a new room past maxRooms is refused and nothing kept; a kept one still changes",
    run({ store }) {
      for (const name of ["#a", "#b", "#c"]) {
        store.save(registeredRoom(name, "opal"));
      }
      rejectsKeepingNothing(
        store,
        () => store.save(registeredRoom("#d", "opal")),
        /^RangeError: Cannot keep room "#d": 3 rooms are kept, the most allowed$/,
      );
      store.save({ ...registeredRoom("#c", "opal"), inviteOnly: true });
      const rooms = store.load();
      assert.equal(rooms.find((r) => r.name === "#c")?.inviteOnly, true);
    },
  },
  {
    name:
      "a list past maxRoomEntries (operators, invites, bans, mutes) is refused and nothing kept",
    run({ store }) {
      store.save(fullRecord());
      const over = {
        operators: ["a", "b", "c"],
        invites: ["a", "b", "c"],
        bans: [BAN, { ...BAN, id: 3 }, { ...BAN, id: 4 }],
        mutes: [MUTE, { ...MUTE, id: 5 }, { ...MUTE, id: 6 }],
      };
      for (const [field, list] of Object.entries(over)) {
        rejectsKeepingNothing(
          store,
          () => store.save({ ...fullRecord(), [field]: list }),
          new RegExp(
            `^RangeError: Cannot keep room "#ops": it has 3 ${field}, more than 2$`,
          ),
        );
      }
    },
  },
  {
    name: "a name that is not a room name, or a temporary room, is refused",
    run({ store }) {
      rejectsKeepingNothing(
        store,
        () => store.save(newRoomRecord("#tmp")),
        /^TypeError: Cannot keep room "#tmp": not registered$/,
      );
      for (const name of ["ops", "#", "#Ops", "#a b", `#${"x".repeat(33)}`]) {
        rejectsKeepingNothing(
          store,
          () => store.save(registeredRoom(name, "opal")),
          /^TypeError: Cannot keep room ".*": not a room name$/,
        );
      }
    },
  },
  {
    name:
      "an account's rooms keep their order, in any case of its name, across a reopen",
    run({ store, reopen }) {
      assert.deepEqual(store.accountRooms("bob"), []);
      store.setAccountRooms("Bob", joined("#ops", "#lobby", "#ops", "#dev"));
      assert.deepEqual(names(store, "BOB"), ["#ops", "#lobby", "#dev"]);
      store.setAccountRooms("carol", joined("#dev"));
      store.setAccountRooms("bob", joined("#dev", "#ops"));
      const again = reopen();
      assert.deepEqual(names(again, "bob"), ["#dev", "#ops"]);
      assert.deepEqual(names(again, "carol"), ["#dev"]);
      again.setAccountRooms("bob", []);
      assert.deepEqual(again.accountRooms("bob"), []);
    },
  },
  {
    name:
      "an account's rooms keep the incarnation each was joined (or none known), the first of a repeat, across a reopen",
    run({ store, reopen }) {
      store.setAccountRooms("bob", [
        { room: "#a", since: 41 },
        { room: "#b", since: 0 },
        { room: "#a", since: 99 },
        { room: "#c", since: null },
      ]);
      const kept = [
        { room: "#a", since: 41 },
        { room: "#b", since: 0 },
        { room: "#c", since: null },
      ];
      assert.deepEqual(store.accountRooms("bob"), kept);
      const again = reopen();
      assert.deepEqual(again.accountRooms("Bob"), kept);
      again.setAccountRooms("bob", [{ room: "#a", since: 57 }]);
      assert.deepEqual(reopen().accountRooms("bob"), [
        { room: "#a", since: 57 },
      ]);
    },
  },
  {
    name:
      "forgetRooms() takes the rooms that vanished off every account's list, across a reopen",
    run({ store, reopen }) {
      store.setAccountRooms("bob", joined("#a", "#kx", "#b"));
      store.setAccountRooms("carol", joined("#kx"));
      store.forgetRooms((room) => room === "#kx");
      const again = reopen();
      assert.deepEqual(names(again, "bob"), ["#a", "#b"]);
      assert.deepEqual(again.accountRooms("carol"), []);
      again.setAccountRooms("bob", joined("#b", "#kx"));
      assert.deepEqual(names(again, "bob"), ["#b", "#kx"]);
      again.forgetRooms(() => false);
      assert.deepEqual(names(again, "bob"), ["#b", "#kx"]);
    },
  },
  {
    name:
      "renumberRoom() moves the accounts in a room's incarnation to another number, and only those, across a reopen",
    run({ store, reopen }) {
      store.setAccountRooms("bob", [
        { room: "#a", since: 12 },
        { room: "#n", since: 12 },
      ]);
      store.setAccountRooms("carol", [{ room: "#n", since: 3 }]);
      store.setAccountRooms("dave", [{ room: "#n", since: null }]);
      store.renumberRoom("#n", 12, 6000);
      const again = reopen();
      assert.deepEqual(again.accountRooms("bob"), [
        { room: "#a", since: 12 },
        { room: "#n", since: 6000 },
      ]);
      assert.deepEqual(again.accountRooms("carol"), [{ room: "#n", since: 3 }]);
      assert.deepEqual(again.accountRooms("dave"), [
        { room: "#n", since: null },
      ]);
    },
  },
  {
    name:
      "an account's rooms past maxRoomsPerMember, or not room names, are refused and the old ones kept",
    run({ store }) {
      store.setAccountRooms("bob", joined("#a"));
      assert.throws(
        () => store.setAccountRooms("bob", joined("#a", "#b", "#c", "#d")),
        /^RangeError: Cannot keep the rooms of "bob": 4 rooms, more than 3$/,
      );
      assert.throws(
        () => store.setAccountRooms("bob", joined("#a", "ops")),
        /^TypeError: Cannot keep the rooms of "bob": "ops" is not a room name$/,
      );
      assert.deepEqual(names(store, "bob"), ["#a"]);
    },
  },
];

/** Rooms as an account joined them, each in the incarnation begun at 0. */
export function joined(...rooms: string[]): AccountRoom[] {
  return rooms.map((room) => ({ room, since: 0 }));
}

/** The names of the rooms `account` is in, as `store` keeps them. */
export function names(store: RoomStore, account: string): string[] {
  return store.accountRooms(account).map(({ room }) => room);
}
