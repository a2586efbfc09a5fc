/**
 * `SqliteRoomStore` on a real data directory: the RoomStore contract (a
 * reopen is a new `openStore` on the same directory, as a restart), and
 * what only SQLite does: the previous release's data directory migrates
 * and takes rooms (accounts' rooms without the incarnation joined), a damaged row says which room, and deleting an
 * account deletes its rooms.
 */

import assert from "node:assert/strict";
import { Accounts } from "../../../lib/server/access/accounts.ts";
import { registeredRoom } from "../../../lib/server/room/room_record.ts";
import { SqliteRoomStore } from "../../../lib/server/storage/room_table.ts";
import { openStore, type Store } from "../../../lib/server/storage/store.ts";
import { withTempDir } from "../../_helpers.ts";
import {
  CONTRACT_LIMITS,
  joined,
  names,
  ROOM_STORE_CASES,
} from "../room/room_store_contract.ts";

/** Runs `body` with a way to open the store of one data directory. */
async function withDataDir(
  body: (open: () => { store: Store; rooms: SqliteRoomStore }) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const opened: Store[] = [];
    try {
      await body(() => {
        opened.at(-1)?.close(); // one server at a time, as a restart
        const store = openStore(`${dir}/data`, { exclusive: true });
        opened.push(store);
        return { store, rooms: new SqliteRoomStore(store.db, CONTRACT_LIMITS) };
      });
    } finally {
      for (const store of opened) store.close();
    }
  });
}

for (const contract of ROOM_STORE_CASES) {
  Deno.test(`SqliteRoomStore: ${contract.name}`, async () => {
    await withDataDir(async (open) => {
      const { rooms } = open();
      await contract.run({ store: rooms, reopen: () => open().rooms });
    });
  });
}

const FIXTURE = new URL(
  "../../fixtures/release-7246526/chat.db",
  import.meta.url,
);

Deno.test("SqliteRoomStore: the previous release's data directory migrates, has no rooms, and keeps new ones", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    await Deno.copyFile(FIXTURE, `${dir}/data/chat.db`);
    {
      using store = openStore(`${dir}/data`, { exclusive: true });
      const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
      assert.deepEqual(rooms.load(), []);
      assert.deepEqual(rooms.accountRooms("bob"), []);
      rooms.save(registeredRoom("#ops", "opal"));
      rooms.setAccountRooms("bob", joined("#ops"));
      assert.ok(new Accounts(store.db).get("bob"), "its accounts are there");
    }
    using store = openStore(`${dir}/data`, { exclusive: true });
    const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
    assert.deepEqual(rooms.load(), [registeredRoom("#ops", "opal")]);
    assert.deepEqual(names(rooms, "bob"), ["#ops"]);
  });
});

Deno.test("SqliteRoomStore.load() names the room whose row is damaged, and loads nothing", () => {
  using store = openStore(null);
  const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
  rooms.save(registeredRoom("#ok", "opal"));
  rooms.save(registeredRoom("#ops", "opal"));
  const damage = {
    bans: `'[{"type":"ban","kind":"address","target":"not an address"}]'`,
    mutes: `'[{"type":"ban"}]'`,
    invites: `'[1]'`,
    operators: `'{'`,
    topic: `'{"text":1}'`,
    name: `'#Ops'`,
  };
  for (const [column, value] of Object.entries(damage)) {
    store.db.exec("SAVEPOINT damage");
    store.db.exec(`UPDATE rooms SET ${column} = ${value} WHERE name = '#ops'`);
    assert.throws(
      () => rooms.load(),
      /^Error: Cannot load room "#(ops|Ops)": /,
      column,
    );
    store.db.exec("ROLLBACK TO damage; RELEASE damage");
  }
  assert.equal((rooms.load()).length, 2, "undamaged, it loads");
});

Deno.test("SqliteRoomStore: deleting an account deletes its rooms, not another's", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  await accounts.add("bob", "bob-pass-1");
  const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
  rooms.setAccountRooms("bob", joined("#ops", "#dev"));
  rooms.setAccountRooms("carol", joined("#dev"));
  assert.equal(accounts.remove("Bob"), true);
  assert.deepEqual(rooms.accountRooms("bob"), []);
  assert.deepEqual(names(rooms, "carol"), ["#dev"]);
});

/** Stores a `MOD expire` of `room` as number `seq` (the room vanished). */
function storeExpiry(store: Store, seq: number, room: string): void {
  const line = { type: "MOD", action: "expire", alias: "-", by: "-", text: "" };
  store.db.prepare(
    `INSERT INTO events (seq, time, type, line, effect, effect_value)
     VALUES (?, 0, 'MOD', ?, 'expire', 'null')`,
  ).run(seq, JSON.stringify({ ...line, room }));
}

Deno.test("SqliteRoomStore: rooms stored without a start migrate: one begins after the last MOD expire of its name, kept once retention deleted it; one without looks again until a save gives it one", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    {
      using store = openStore(`${dir}/data`, { exclusive: true });
      const { user_version: v } = store.db.prepare("PRAGMA user_version")
        .get() as { user_version: number };
      // Three releases before: rooms had no start, three migrations fewer
      // (the later ones, accounts' rooms' incarnations and dated topics,
      // find their column, and no topic).
      store.db.exec(`ALTER TABLE rooms DROP COLUMN since;
        PRAGMA user_version = ${v - 3};
        INSERT INTO rooms (name, registered_by, key_hash, invite_only,
            operators, invites, bans, mutes, topic)
          VALUES ('#ops', 'opal', NULL, 0, '["opal"]', '[]', '[]', '[]', NULL),
            ('#dev', 'carol', NULL, 0, '["carol"]', '[]', '[]', '[]', NULL);`);
      storeExpiry(store, 3, "#ops");
      storeExpiry(store, 7, "#ops");
      storeExpiry(store, 9, "#gone");
    }
    using store = openStore(`${dir}/data`, { exclusive: true });
    const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
    assert.deepEqual(rooms.load(), [
      registeredRoom("#dev", "carol"),
      registeredRoom("#ops", "opal"),
    ]);
    assert.deepEqual(rooms.starts(), new Map([["#ops", 7]]));
    store.db.exec("DELETE FROM events"); // retention
    storeExpiry(store, 12, "#dev");
    assert.deepEqual(rooms.starts(), new Map([["#dev", 12], ["#ops", 7]]));
    rooms.save(registeredRoom("#dev", "carol"), 15);
    rooms.save(registeredRoom("#ops", "opal"), 20);
    store.db.exec("DELETE FROM events");
    assert.deepEqual(rooms.starts(), new Map([["#dev", 15], ["#ops", 7]]));
  });
});

Deno.test("SqliteRoomStore with starts off (a log not in this database) stores none, and a later save gives one", () => {
  using store = openStore(null);
  const apart = new SqliteRoomStore(store.db, {
    ...CONTRACT_LIMITS,
    starts: false,
  });
  apart.save(registeredRoom("#ops", "opal"), 5);
  assert.deepEqual(apart.starts(), new Map());
  const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
  rooms.save(registeredRoom("#ops", "opal"), 9);
  apart.save(registeredRoom("#ops", "opal"), 5);
  assert.deepEqual(apart.starts(), new Map([["#ops", 9]]));
});

Deno.test("SqliteRoomStore with starts off: a room first stored then begins after the last line this database holds (a server later alone shows none of an older room of its name); one stored before keeps its own", () => {
  using store = openStore(null);
  const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
  const apart = new SqliteRoomStore(store.db, {
    ...CONTRACT_LIMITS,
    starts: false,
  });
  apart.save(registeredRoom("#old", "opal"));
  storeExpiry(store, 4, "#gone"); // lines of a run alone, #secret's among them
  apart.save(registeredRoom("#secret", "mallory"), 1); // --durability memory
  apart.save(registeredRoom("#old", "opal"), 2);
  assert.deepEqual(apart.starts(), new Map([["#secret", 4]]));
  rooms.save(registeredRoom("#secret", "mallory"), 0); // alone again
  rooms.save(registeredRoom("#old", "opal"), 0);
  assert.deepEqual(rooms.starts(), new Map([["#old", 0], ["#secret", 4]]));
});

Deno.test("SqliteRoomStore: accounts' rooms stored without the incarnation joined migrate as not known (null), and take one when stored again", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    {
      using store = openStore(`${dir}/data`, { exclusive: true });
      const { user_version: v } = store.db.prepare("PRAGMA user_version")
        .get() as { user_version: number };
      // Two releases before: account_rooms had no since, two migrations
      // fewer (the later one, dated topics, finds no topic).
      store.db.exec(`ALTER TABLE account_rooms DROP COLUMN since;
        PRAGMA user_version = ${v - 2};
        INSERT INTO account_rooms (account, position, room)
          VALUES ('bob', 0, '#ops'), ('bob', 1, '#dev');`);
    }
    using store = openStore(`${dir}/data`, { exclusive: true });
    const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
    assert.deepEqual(rooms.accountRooms("bob"), [
      { room: "#ops", since: null },
      { room: "#dev", since: null },
    ]);
    rooms.setAccountRooms("bob", [{ room: "#dev", since: 12 }]);
    assert.deepEqual(rooms.accountRooms("bob"), [{ room: "#dev", since: 12 }]);
  });
});

/** Stores a `TOPIC` of `room` (none: the default room's) as number `seq`. */
function storeTopic(
  store: Store,
  seq: number,
  at: { time: number; room?: string },
  topic: { alias: string; text: string },
): void {
  const line = { type: "TOPIC", ...topic, room: at.room };
  store.db.prepare(
    `INSERT INTO events (seq, time, type, line) VALUES (?, ?, 'TOPIC', ?)`,
  ).run(seq, at.time, JSON.stringify(line));
}

Deno.test("openStore() dates the topics an earlier release kept without their time: the default room's and each registered room's take the time of the newest TOPIC of their room the log holds, when it set that topic", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    {
      using store = openStore(`${dir}/data`, { exclusive: true });
      const { user_version: v } = store.db.prepare("PRAGMA user_version")
        .get() as { user_version: number };
      // The release before: topics kept as { text, by }, one migration fewer.
      store.db.exec(`PRAGMA user_version = ${v - 1};
        INSERT INTO settings (key, value)
          VALUES ('topic', '{"text":"Welcome","by":"opal"}');
        INSERT INTO rooms (name, registered_by, key_hash, invite_only,
            operators, invites, bans, mutes, topic)
          VALUES
            ('#ops', 'opal', NULL, 0, '["opal"]', '[]', '[]', '[]',
              '{"text":"Ops only","by":"opal"}'),
            ('#dev', 'carol', NULL, 0, '["carol"]', '[]', '[]', '[]',
              '{"text":"Set long ago","by":"carol"}'),
            ('#qa', 'carol', NULL, 0, '["carol"]', '[]', '[]', '[]',
              '{"text":"Set elsewhere","by":"carol"}');`);
      storeTopic(store, 2, { time: 1_000 }, { alias: "amy", text: "Old" });
      storeTopic(store, 3, { time: 2_000, room: "#ops" }, {
        alias: "opal",
        text: "Ops only",
      });
      storeTopic(store, 5, { time: 3_000 }, { alias: "opal", text: "Welcome" });
      // #qa's newest TOPIC set another topic: its own was set elsewhere.
      storeTopic(store, 7, { time: 4_000, room: "#qa" }, {
        alias: "carol",
        text: "Set here",
      });
    }
    using store = openStore(`${dir}/data`, { exclusive: true });
    const setting = store.db.prepare(
      "SELECT value FROM settings WHERE key = 'topic'",
    ).get() as { value: string };
    assert.deepEqual(JSON.parse(setting.value), {
      text: "Welcome",
      by: "opal",
      at: 3_000,
    });
    const rooms = new SqliteRoomStore(store.db, CONTRACT_LIMITS);
    const topics = Object.fromEntries(
      rooms.load().map((record) => [record.name, record.topic]),
    );
    assert.deepEqual(topics, {
      "#dev": { text: "Set long ago", by: "carol" }, // its TOPIC deleted
      "#ops": { text: "Ops only", by: "opal", at: 2_000 },
      "#qa": { text: "Set elsewhere", by: "carol" },
    });
  });
});
