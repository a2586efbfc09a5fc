/**
 * History per room in the data directory: each stored event keeps its
 * room (none: the default room, so what the previous release stored is the
 * default room's), each room's history comes back after a restart, and
 * retention spares each room's last `--history` messages; a registered
 * room made again after it vanished begins, after a restart too, after
 * the last `MOD expire` stored of it. Real SQLite, a
 * real server with real TLS clients.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { catchUp } from "../../../lib/server/room/catch_up.ts";
import type { LogRange, RoomLog } from "../../../lib/server/room/room_log.ts";
import { Room } from "../../../lib/server/room/room.ts";
import type { Member } from "../../../lib/server/room/member.ts";
import { localSnapshot } from "../../../lib/server/room/rooms_snapshot.ts";
import {
  lastExpiries,
  recentEventsByRoom,
} from "../../../lib/server/storage/events_table.ts";
import { expireLine } from "../../../lib/server/room/room_replica.ts";
import {
  newRoomRecord,
  registeredRoom,
} from "../../../lib/server/room/room_record.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import {
  lostInQuery,
  untoldThrough,
} from "../../../lib/server/storage/tombstones_table.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { registerIn } from "./_rooms_table.ts";
import { startServer, TestClient, withTempDir } from "../../_helpers.ts";
import { LIMITS } from "../room/_rooms_fakes.ts";

const FIXTURE = new URL(
  "../../fixtures/release-7246526/chat.db",
  import.meta.url,
);

Deno.test("recentEventsByRoom(): the previous release's history is the default room's", async () => {
  await withTempDir(async (dir) => {
    await Deno.copyFile(FIXTURE, `${dir}/chat.db`);
    using store = openStore(dir);
    const events = recentEventsByRoom(store.db, 500);
    assert.deepEqual(
      events.map((e) => [e.room, e.line.type, e.line.alias]),
      [
        [undefined, "MSG", "amy"],
        [undefined, "ME", "amy"],
        [undefined, "MSG", "opal"],
      ],
    );
    const room = new Room<Member>({
      log: new MemoryLog(systemClock),
      announceLimit: 100,
      rooms: {
        ...LIMITS,
        history: 20,
        snapshot: localSnapshot([], events, LIMITS.defaultRoom),
      },
    });
    const lobby = room.router!.rooms.default;
    assert.deepEqual(
      lobby.recent.last(20).map((e) => e.line.type),
      ["MSG", "ME", "MSG"],
    );
  });
});

Deno.test("lastExpiries() gives each room's last MOD expire: a registered room made again after it starts from there after a restart", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  log.subscribe(() => {});
  const say = (text: string, room?: string) =>
    log.append({ type: "MSG", alias: "amy", text }, "1", { room });
  const expire = (room: string) =>
    log.append(expireLine(), "", { room, effect: { kind: "expire" } });
  say("old quokka", "#r"); // 1
  expire("#r"); // 2: it vanished...
  log.append({ type: "JOIN", alias: "amy", online: "1" }, "1", {
    room: "#r",
    effect: { kind: "room", record: newRoomRecord("#r") },
  }); // 3: ... and was made again (then registered)
  say("new quokka", "#r"); // 4
  say("lobby quokka"); // 5
  expire("#gone"); // 6
  await log.close();
  const since = lastExpiries(store.db);
  assert.deepEqual(new Map(since), new Map([["#r", 2], ["#gone", 6]]));
  const events = recentEventsByRoom(store.db, 500);
  const room = new Room<Member>({
    log: new MemoryLog(systemClock),
    announceLimit: 100,
    rooms: {
      ...LIMITS,
      history: 20,
      snapshot: localSnapshot(
        [registeredRoom("#r", "opal")],
        events,
        LIMITS.defaultRoom,
        since,
      ),
    },
  });
  const rooms = room.router!.rooms;
  const texts = (name: string) =>
    rooms.get(name)!.recent.last(20).map((e) =>
      e.line.type === "MSG" && e.line.text
    );
  assert.equal(rooms.get("#r")!.since, 2);
  assert.deepEqual(texts("#r"), ["new quokka"]);
  assert.equal(rooms.default.since, 0);
  assert.deepEqual(texts(LIMITS.defaultRoom), ["lobby quokka"]);
});

Deno.test("SqliteLog stores each event's room in its line; a busy room cannot evict a registered quiet room's last lines (nor the default room's)", async () => {
  using store = openStore(null);
  registerIn(store.db, "#quiet");
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  log.subscribe(() => {});
  log.append({ type: "MSG", alias: "q", text: "quiet 1" }, "1", {
    room: "#quiet",
  });
  log.append({ type: "MSG", alias: "q", text: "quiet 2" }, "1", {
    room: "#quiet",
  });
  log.append({ type: "MSG", alias: "l", text: "lobby" }, "2");
  for (let i = 0; i < 50; i++) {
    log.append({ type: "MSG", alias: "b", text: `busy ${i}` }, "3", {
      room: "#busy",
    });
  }
  await log.close();
  const retention = new Retention(store.db, {
    clock: systemClock,
    keepDays: 0,
    keepRows: 5,
    spare: 3,
  });
  retention.start();
  retention.stop();
  const kept = recentEventsByRoom(store.db, 3).map((e) =>
    `${e.room ?? "-"} ${e.line.type === "MSG" ? e.line.text : ""}`
  );
  assert.deepEqual(kept, [
    "#quiet quiet 1",
    "#quiet quiet 2",
    "- lobby",
    "#busy busy 48",
    "#busy busy 49",
  ]);
  const { n } = store.db.prepare(
    "SELECT COUNT(*) AS n FROM events WHERE type = 'MSG'",
  ).get() as { n: number };
  assert.equal(n, 5, "the busy temporary room's older lines went");
});

Deno.test("Retention spares no temporary room's lines: a guest's many vanished rooms neither keep their lines forever nor push the default room's history out", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  log.subscribe(() => {});
  for (let room = 0; room < 30; room++) {
    for (let i = 0; i < 10; i++) {
      log.append({ type: "MSG", alias: "eve", text: `filler ${i}` }, "1", {
        room: `#s${room}`,
      });
    }
  }
  for (let i = 0; i < 100; i++) {
    log.append({ type: "MSG", alias: "amy", text: `lobby ${i}` }, "2");
  }
  await log.close();
  const retain = (keepDays: number, keepRows: number, nowMs: number) => {
    const retention = new Retention(store.db, {
      clock: { ...systemClock, now: () => nowMs },
      keepDays,
      keepRows,
      spare: 10,
    });
    retention.start();
    retention.stop();
  };
  const counts = () =>
    Object.fromEntries(
      (store.db.prepare(
        `SELECT json_extract(line, '$.room') IS NULL AS lobby, COUNT(*) AS n
           FROM events WHERE type = 'MSG' GROUP BY 1`,
      ).all() as { lobby: number; n: number }[]).map((
        row,
      ) => [row.lobby ? "lobby" : "rooms", row.n]),
    );
  retain(0, 200, Date.now());
  assert.deepEqual(counts(), { rooms: 100, lobby: 100 });
  retain(1, 0, Date.now() + 2 * 86_400_000); // two days later
  assert.deepEqual(counts(), { lobby: 10 }, "the default room's newest stay");
});

Deno.test("serveChat() with rooms replays the default room's stored history after a restart, prefixed for rooms clients", async () => {
  using store = openStore(null);
  {
    await using s = await startServer("node", ["--history", "5"], { store });
    using amy = await TestClient.join(s.port, "amy");
    await amy.send("before the restart");
    await amy.expect(/^MSG amy before the restart$/);
  }
  await using s = await startServer("node", ["--history", "5"], { store });
  using bob = await TestClient.connect(s.port);
  await bob.expect(/^HELLO /);
  await bob.send("/cap rooms");
  await bob.expect(/^CAP rooms$/);
  await bob.send("bob");
  await bob.expect(/^#lobby JOIN bob 1$/);
  assert.match(
    await bob.readLine() ?? "",
    /^#lobby HIST \d+ \S+ MSG amy before the restart$/,
  );
  assert.equal(
    await bob.readLine(),
    "#lobby HISTEND 1 End of history: 1 message",
  );
  assert.equal(await bob.readLine(), "CURRENT #lobby");
});

Deno.test("SqliteLog.since() counts the lines retention deleted after the number asked for while it remembers them (--history-tombstones), and says a gap past that", async () => {
  for (const tombstones of [100, 5, 0]) {
    using store = openStore(null);
    const log = new SqliteLog(store.db, { clock: systemClock, keep: 0 });
    log.subscribe(() => {});
    for (let i = 1; i <= 10; i++) {
      log.append({ type: "MSG", alias: "b", text: `m${i}` }, "1");
    }
    await log.close();
    const whole = await log.since("#lobby", 0, {
      limit: 100,
      defaultRoom: true,
    });
    assert.equal(whole.events.length, 10);
    assert.equal(whole.gap, false);
    const retention = new Retention(store.db, {
      clock: systemClock,
      keepDays: 0,
      keepRows: 4,
      tombstones,
    });
    retention.start();
    retention.stop();
    const after2 = await log.since("#lobby", 2, {
      limit: 100,
      defaultRoom: true,
    });
    assert.deepEqual(after2.events.map((e) => e.seq), [7, 8, 9, 10]);
    // m1 to m6 went; 5 tombstones remember m2 to m6, none remember none.
    assert.equal(after2.gap, tombstones === 0, `${tombstones}`);
    assert.equal(after2.lost.lines, tombstones === 0 ? 0 : 4);
    const after0 = await log.since("#lobby", 0, {
      limit: 100,
      defaultRoom: true,
    });
    assert.equal(after0.gap, tombstones < 6, `${tombstones}`);
    const after6 = await log.since("#lobby", 6, {
      limit: 100,
      defaultRoom: true,
    });
    assert.deepEqual([after6.gap, after6.lost.lines], [false, 0]);
    const rows = store.db.prepare("SELECT COUNT(*) AS n FROM tombstones")
      .get() as { n: number };
    assert.equal(rows.n, Math.min(tombstones, 6), "the table is bounded");
  }
});

Deno.test("A room's tombstones are counted from the index on (room, seq), never a scan of every room's", () => {
  using store = openStore(null);
  for (const defaultRoom of [false, true]) {
    const plan = store.db.prepare(
      `EXPLAIN QUERY PLAN ${lostInQuery(defaultRoom)}`,
    ).all(...["#a", 0, 10]) as { detail: string }[];
    const reads = plan.map((row) => row.detail)
      .filter((detail) => /tombstones/.test(detail));
    assert.equal(reads.length, defaultRoom ? 2 : 1, reads.join("; "));
    for (const read of reads) {
      assert.match(
        read,
        /^SEARCH tombstones USING .*INDEX tombstones_room \(room=\? AND seq>\? AND seq<\?\)/,
      );
    }
  }
  store.db.exec(`INSERT INTO tombstones (seq, room, rooms_only) VALUES
    (1, '#a', 0), (2, NULL, 1), (3, '#b', 0), (4, '#a', 0), (5, NULL, 0)`);
  const count = (defaultRoom: boolean, after: number, before: number) =>
    store.db.prepare(lostInQuery(defaultRoom)).get("#a", after, before);
  assert.deepEqual({ ...count(false, 0, 10) }, { n: 2, hidden: 0 });
  assert.deepEqual({ ...count(true, 1, 5) }, { n: 2, hidden: 1 });
});

Deno.test("SqliteLog.since() says a gap for what retention deleted before its data directory kept tombstones", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 0 });
  log.subscribe(() => {});
  for (let i = 1; i <= 6; i++) {
    log.append({ type: "MSG", alias: "b", text: `m${i}` }, "1");
  }
  await log.close();
  // As the migration found it: m1 and m2 deleted by an earlier release.
  store.db.exec("DELETE FROM events WHERE seq <= 2");
  untoldThrough(store.db, 2);
  const retention = new Retention(store.db, {
    clock: systemClock,
    keepDays: 0,
    keepRows: 2,
  });
  retention.start();
  retention.stop();
  const range = (after: number) =>
    log.since("#lobby", after, { limit: 100, defaultRoom: true });
  assert.equal((await range(1)).gap, true);
  assert.deepEqual((await range(2)).lost, { lines: 2, roomsOnly: 0 });
});

Deno.test("MemoryLog.since() counts the events its ring for catch-up let go while it remembers them, and says a gap past that", async () => {
  for (const tombstones of [undefined, 1, 0]) {
    const log = new MemoryLog(systemClock, 0, { catchUp: 3, tombstones });
    log.subscribe(() => {});
    for (let i = 1; i <= 5; i++) {
      log.append({ type: "MSG", alias: "b", text: `m${i}` }, "1");
    }
    const range = await log.since("#lobby", 1, {
      limit: 10,
      defaultRoom: true,
    });
    assert.deepEqual(range.events.map((e) => e.seq), [3, 4, 5]);
    // m1 and m2 went; one tombstone remembers m2 only.
    assert.equal(range.gap, tombstones === 0);
    assert.equal(range.lost.lines, tombstones === 0 ? 0 : 1);
    const all = await log.since("#lobby", 0, { limit: 10, defaultRoom: true });
    assert.equal(all.gap, tombstones !== undefined);
    assert.equal((await log.since("#lobby", 2, { limit: 10 })).gap, false);
  }
  const none = new MemoryLog(systemClock, 0, { catchUp: 0 });
  none.subscribe(() => {});
  none.append({ type: "MSG", alias: "b", text: "m1" }, "1");
  const range = await none.since("#lobby", 0, { limit: 10, defaultRoom: true });
  assert.deepEqual([range.events, range.lost.lines], [[], 1]);
});

Deno.test("catchUp() reads from the database no more of a room's lines than its budget can take, and says the same RESUMED", async () => {
  // Before, a catch-up from 0 read --resume-lines (10,000) events whatever
  // its budget (half the queue, 128 KiB): 30,000 lines of 4,000 bytes made
  // a guest's '/resume EPOCH 0' take 450 ms of the event loop and 58 MB,
  // ten at once 716 MB, to send 32 of them.
  using store = openStore(null);
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  log.subscribe(() => {});
  const long = "x".repeat(4_000);
  for (let i = 1; i <= 300; i++) {
    log.append({ type: "MSG", alias: "amy", text: `${i} ${long}` }, "1", {
      room: "#ops",
    });
  }
  await log.settled();
  const ranges: LogRange[] = [];
  const spy = {
    since: (...args: Parameters<RoomLog["since"]>) =>
      log.since(...args).then((range) => (ranges.push(range), range)),
  } as unknown as RoomLog;
  const got: string[] = [];
  const amy: Member = {
    id: "2",
    alias: "bob",
    operator: false,
    roomsOn: true,
    deliver: (line) => got.push(new TextDecoder().decode(line)) > 0,
    close: () => {},
  };
  const budget = { left: 16_384 };
  catchUp(
    amy,
    0,
    { name: "#ops", defaultRoom: false, prefix: "#ops", before: 301 },
    { log: spy, resumeLines: 10_000, budget },
    () => assert.fail("not slow"),
  );
  await Promise.resolve(); // the read
  await Promise.resolve(); // its lines
  assert.equal(got.length, 5); // four lines of 4 KB, then RESUMED
  assert.match(got[0]!, / #ops MSG amy 297 x/);
  assert.equal(
    got.at(-1),
    "#ops RESUMED 300 296 Resumed: 4 lines you missed; 296 more are not sent (no longer kept or too many)\n",
  );
  const read = ranges[0]!;
  assert.ok(read.events.length <= 5, `${read.events.length} events read`);
  assert.equal(read.events.length + read.over, 300);
  await log.close();
});
