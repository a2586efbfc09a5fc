/**
 * The rooms' snapshot in Redis, kept by the cluster's scripts in the same
 * step as each event (a real `redis-server`): records set by `MOD`/`TOPIC`
 * and created once by `JOIN`, members in and out of rooms (parts, leaves
 * of the server, renames taking a guest's operator rights along), an empty
 * temporary room expired, each room's last messages kept past the stream's
 * trimming, where each room's current incarnation begins, and the snapshot
 * a server that starts later reads.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger } from "../../../lib/log.ts";
import { Cluster } from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { readRoomsAtStart } from "../../../lib/server/cluster/rooms_at_start.ts";
import { RedisLog } from "../../../lib/server/cluster/redis_log.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { lineSign, type RoomLine } from "../../../lib/server/room/room_log.ts";
import {
  newRoomRecord,
  registeredRoom,
  type RoomRecord,
} from "../../../lib/server/room/room_record.ts";
import { roomSkeleton } from "../../../lib/server/room/room_state.ts";
import { withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";

const DEFAULTS = parseServerArgs([]);
const log = createLogger("error", () => {});

/** A link and a started cluster on a fresh Redis, `history` kept a room. */
async function withRooms(
  options: { history: number; streamEntries: number },
  body: (link: RedisLink, cluster: Cluster) => Promise<void>,
) {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const link = await RedisLink.open({
      ...DEFAULTS,
      ...options,
      url: redis.url(),
      cluster: "t",
      log,
    });
    const cluster = new Cluster(link, { ...DEFAULTS, clock: systemClock, log });
    await cluster.start(() => {});
    try {
      await body(link, cluster);
    } finally {
      await cluster.stop();
      await link.close();
    }
  });
}

let ids = 0;

/** Appends `line` from member `origin` as the stream writer does. */
function append(
  link: RedisLink,
  origin: string,
  line: RoomLine,
  extra: {
    room?: string;
    effect?: "room" | "expire";
    value?: unknown;
    /** The room's look-alike key (as the writer sends it with an effect). */
    skeleton?: string;
  } = {},
): Promise<unknown> {
  const alias = line.type === "MOD" ? line.by : line.alias;
  return link.run("append", [
    "100",
    "0",
    origin,
    alias,
    JSON.stringify(line),
    extra.effect ?? "",
    extra.value === undefined ? "" : JSON.stringify(extra.value),
    `line-${++ids}-0123456789abcdef`,
    lineSign(line),
    "tag",
    extra.room ?? "",
    line.type,
    extra.skeleton ?? "",
  ]);
}

function member(id: string, alias: string) {
  return { id, alias, account: null, host: "127.0.0.1", operator: false };
}

const join = (alias: string): RoomLine => ({
  type: "JOIN",
  alias,
  online: "1",
});
const part = (alias: string): RoomLine => ({
  type: "LEAVE",
  alias,
  online: "0",
  reason: "part",
  text: "",
});
const say = (alias: string, text: string): RoomLine => ({
  type: "MSG",
  alias,
  text,
});
const EXPIRE: RoomLine = {
  type: "MOD",
  action: "expire",
  alias: "-",
  by: "-",
  text: "",
};

function hget(link: RedisLink, key: string, field: string) {
  return link.command(["HGET", key, field]);
}

/** The texts of a room's kept messages, newest first. */
async function kept(link: RedisLink, room: string): Promise<string[]> {
  const entries = await link.command([
    "LRANGE",
    link.keys.recent(room),
    "0",
    "-1",
  ]) as string[];
  return entries.map((raw) => {
    const [, fields] = JSON.parse(raw) as [string, string[]];
    return JSON.parse(fields[fields.indexOf("l") + 1]!).text;
  });
}

function ops(record: RoomRecord, ...operators: string[]): RoomRecord {
  return { ...record, operators };
}

Deno.test("the scripts keep each room's record, members and last messages in Redis, and the snapshot reads them", async () => {
  await withRooms({ history: 2, streamEntries: 1000 }, async (link, c) => {
    const { keys } = link;
    const alice = member(`${c.server}/1`, "alice");
    const bob = member(`${c.server}/2`, "bob");
    await c.claim(alice, "alice", null, false);
    await c.claim(bob, "bob", null, false);
    assert.equal(await hget(link, keys.roomMembers, alice.id), '["#lobby"]');
    assert.equal(await hget(link, keys.roomSizes, "#lobby"), "2");
    // Two servers create #ops at once: the first JOIN in the log wins.
    const first = ops(newRoomRecord("#ops"), "~alice");
    await append(link, alice.id, join("alice"), {
      room: "#ops",
      effect: "room",
      value: first,
    });
    await append(link, bob.id, join("bob"), {
      room: "#ops",
      effect: "room",
      value: ops(newRoomRecord("#ops"), "~bob"),
    });
    assert.deepEqual(
      JSON.parse(await hget(link, keys.rooms, "#ops") as string),
      first,
    );
    assert.equal(await hget(link, keys.roomSizes, "#ops"), "2");
    assert.equal(
      await hget(link, keys.roomMembers, alice.id),
      '["#lobby","#ops"]',
    );
    // Each room keeps its last --history messages (the default room as
    // far back as /history reaches).
    for (const text of ["one", "two", "three"]) {
      await append(link, alice.id, say("alice", text), { room: "#ops" });
    }
    await append(link, bob.id, say("bob", "hello"));
    assert.deepEqual(await kept(link, "#ops"), ["three", "two"]);
    assert.deepEqual(await kept(link, "#lobby"), ["hello"]);
    // A guest's operator rights follow its rename...
    await c.claim(alice, "alicia", "alice", false);
    const record = () =>
      hget(link, keys.rooms, "#ops").then((raw) =>
        raw === null ? null : JSON.parse(raw as string) as RoomRecord
      );
    assert.deepEqual((await record())?.operators, ["~alicia"]);
    // ... a MOD sets the record it carries ...
    await append(link, alice.id, {
      type: "MOD",
      action: "op",
      alias: "bob",
      by: "alicia",
      text: "",
    }, {
      room: "#ops",
      effect: "room",
      value: ops(first, "~alicia", "~bob"),
    });
    assert.deepEqual((await record())?.operators, ["~alicia", "~bob"]);
    // ... and go when it parts (the room's count with it).
    await append(link, alice.id, part("alicia"), { room: "#ops" });
    assert.deepEqual((await record())?.operators, ["~bob"]);
    assert.equal(await hget(link, keys.roomSizes, "#ops"), "1");
    assert.equal(await hget(link, keys.roomMembers, alice.id), '["#lobby"]');
    // A room with a member does not expire.
    await append(link, "", EXPIRE, { room: "#ops", effect: "expire" });
    assert.notEqual(await record(), null);
    // Bob leaves the server (kicked elsewhere): out of every room, its
    // rights too (the lists stay lists).
    assert.equal(await c.remove(bob.id, "kicked", ""), true);
    assert.equal(await hget(link, keys.roomMembers, bob.id), null);
    assert.equal(await hget(link, keys.roomSizes, "#ops"), null);
    assert.match(
      await hget(link, keys.rooms, "#ops") as string,
      /"operators":\[\],"keyHash":null,"inviteOnly":false,"invites":\[\]/,
    );
    // Now empty, a temporary room expires, its messages with it...
    await append(link, "", EXPIRE, { room: "#ops", effect: "expire" });
    assert.equal(await record(), null);
    assert.deepEqual(await kept(link, "#ops"), []);
    // ... but a registered one stays.
    const reg = registeredRoom("#reg", "opal");
    await append(link, alice.id, join("alicia"), {
      room: "#reg",
      effect: "room",
      value: ops(reg, "opal", "~alicia", "~ghost"),
    });
    await append(link, alice.id, say("alicia", "kept"), { room: "#reg" });
    await append(link, alice.id, part("alicia"), { room: "#reg" });
    await append(link, "", EXPIRE, { room: "#reg", effect: "expire" });
    // Redis keeps a record as it was decided (a guest who had left by then
    // with it); the snapshot drops rights of guests not in the room, as
    // every replica did when the record arrived.
    assert.deepEqual(
      JSON.parse(await hget(link, keys.rooms, "#reg") as string).operators,
      ["opal", "~ghost"],
    );
    // The default room's record is the servers' own: a JOIN of it by name
    // changes its members only.
    await append(link, alice.id, part("alicia"), { room: "#lobby" });
    assert.equal(await hget(link, keys.roomMembers, alice.id), "[]");
    await append(link, alice.id, join("alicia"), {
      room: "#lobby",
      effect: "room",
      value: newRoomRecord("#lobby"),
    });
    assert.equal(await hget(link, keys.rooms, "#lobby"), null);
    assert.equal(await hget(link, keys.roomSizes, "#lobby"), "1");
    // What a server that starts now begins with.
    const { snapshot, seq } = await readRoomsAtStart(link, log);
    assert.equal(seq, Number(await link.command(["GET", keys.seq])));
    assert.deepEqual(snapshot.records, [reg]);
    assert.deepEqual(snapshot.members, [
      { id: alice.id, alias: "alicia", rooms: ["#lobby"] },
    ]);
    const texts = (room: string) =>
      snapshot.recent.get(room)?.map((e) => [e.room, e.line]);
    assert.deepEqual(texts("#lobby"), [[undefined, say("bob", "hello")]]);
    assert.deepEqual(texts("#reg"), [["#reg", say("alicia", "kept")]]);
    assert.equal(snapshot.recent.has("#ops"), false);
    // A log opened now starts from it; a registered room only this server
    // kept is added, Redis's copy of one it knows wins.
    const roomLog = await RedisLog.open(link, {
      ...DEFAULTS,
      clock: systemClock,
      keep: 10,
      log,
    });
    const mine = registeredRoom("#mine", "opal");
    const atStart = roomLog.takeRoomsAtStart([ops(reg, "older"), mine]);
    await roomLog.close();
    assert.deepEqual(atStart.records, [reg, mine]);
    assert.deepEqual(atStart.members, snapshot.members);
    assert.deepEqual(
      atStart.recent.get("#reg")?.map((e) => e.line),
      [say("alicia", "kept")],
    );
    // Redis lost the cluster's state: the rooms' snapshot goes with it.
    await link.command(["DEL", keys.epoch]);
    await link.renewEpoch();
    assert.deepEqual(await link.command(["KEYS", keys.recent("*")]), []);
    assert.equal(
      await link.command(["EXISTS", keys.rooms, keys.roomMembers]),
      0,
    );
  });
});

Deno.test("the append script refuses a message or action in a room its member is not in (its server had not read its kick yet): 'outside', stored nowhere", async () => {
  await withRooms({ history: 5, streamEntries: 1000 }, async (link, c) => {
    const cat = member(`${c.server}/1`, "cat");
    await c.claim(cat, "cat", null, false);
    const value = newRoomRecord("#ops");
    await append(link, cat.id, join("cat"), {
      room: "#ops",
      effect: "room",
      value,
    });
    await append(link, cat.id, say("cat", "in"), { room: "#ops" });
    await append(link, cat.id, part("cat"), { room: "#ops" }); // or kicked
    const before = await link.command(["XLEN", link.keys.events]);
    const answer = await append(link, cat.id, say("cat", "out"), {
      room: "#ops",
    }) as unknown[];
    assert.equal(answer[1], "outside");
    assert.equal(await link.command(["XLEN", link.keys.events]), before);
    assert.deepEqual(await kept(link, "#ops"), ["in"]);
    // In the default room, and in a room it is in, it speaks as before.
    const said = await append(link, cat.id, say("cat", "lobby")) as unknown[];
    assert.equal(typeof said[1], "number");
  });
});

Deno.test("the append script refuses a message or action in a room from the member a mute stored before it holds (its server had not read the mute yet): 'muted', stored nowhere; lifted, it speaks again", async () => {
  await withRooms({ history: 5, streamEntries: 1000 }, async (link, c) => {
    const amy = member(`${c.server}/1`, "amy");
    const cat = member(`${c.server}/2`, "cat");
    await c.claim(amy, "amy", null, false);
    await c.claim(cat, "cat", null, false);
    // amy operates the room: the address mute of cat (127.0.0.1, amy's
    // address too) does not hold it.
    const open = ops(newRoomRecord("#ops"), "~amy");
    for (const m of [amy, cat]) {
      await append(link, m.id, join(m.alias), {
        room: "#ops",
        effect: "room",
        value: open,
      });
    }
    const mute = {
      id: 1,
      type: "mute",
      kind: "address",
      target: "127.0.0.1",
      label: "cat",
      until: null,
      by: "amy",
      reason: "",
    };
    const mod = (action: string): RoomLine => ({
      type: "MOD",
      action,
      alias: "Cat",
      by: "amy",
      text: "",
    });
    await append(link, amy.id, mod("mute"), {
      room: "#ops",
      effect: "room",
      value: { ...open, mutes: [mute] },
    });
    const before = await link.command(["XLEN", link.keys.events]);
    const answer = await append(link, cat.id, say("cat", "still"), {
      room: "#ops",
    }) as unknown[];
    assert.equal(answer[1], "muted");
    assert.equal(await link.command(["XLEN", link.keys.events]), before);
    // The others speak there, and it speaks in the default room.
    for (const [m, room] of [[amy, "#ops"], [cat, undefined]] as const) {
      const said = await append(link, m.id, say(m.alias, "hi"), {
        room,
      }) as unknown[];
      assert.equal(typeof said[1], "number");
    }
    await append(link, amy.id, mod("unmute"), {
      room: "#ops",
      effect: "room",
      value: open,
    });
    const free = await append(link, cat.id, say("cat", "free"), {
      room: "#ops",
    }) as unknown[];
    assert.equal(typeof free[1], "number");
    assert.deepEqual(await kept(link, "#ops"), ["free", "hi"]);
  });
});

Deno.test("a member's holds in Redis keep only mutes still in force: muted in 30 temporary rooms in turn, each gone after it, it keeps none, not 30 (its hold in a room goes as it leaves it)", async () => {
  await withRooms({ history: 5, streamEntries: 1000 }, async (link, c) => {
    const amy = member(`${c.server}/1`, "amy");
    const cat = member(`${c.server}/2`, "cat");
    await c.claim(amy, "amy", null, false);
    await c.claim(cat, "cat", null, false);
    const mute = {
      id: 1,
      type: "mute",
      kind: "address",
      target: "127.0.0.1",
      label: "cat",
      until: null,
      by: "amy",
      reason: "",
    };
    for (let i = 0; i < 30; i++) {
      const room = `#tmp${i}`;
      const open = ops(newRoomRecord(room), "~amy");
      for (const m of [amy, cat]) {
        await append(link, m.id, join(m.alias), {
          room,
          effect: "room",
          value: open,
        });
      }
      await append(link, amy.id, {
        type: "MOD",
        action: "mute",
        alias: "cat",
        by: "amy",
        text: "",
      }, { room, effect: "room", value: { ...open, mutes: [mute] } });
      for (const m of [cat, amy]) {
        await append(link, m.id, part(m.alias), { room });
      }
      await append(link, "", EXPIRE, { room, effect: "expire" });
    }
    assert.equal(await hget(link, link.keys.roomMuted, cat.id), null);
  });
});

Deno.test("a quiet room keeps its last messages in Redis when a busy room trims the stream", async () => {
  await withRooms({ history: 3, streamEntries: 50 }, async (link, c) => {
    const alice = member(`${c.server}/1`, "alice");
    await c.claim(alice, "alice", null, false);
    for (const room of ["#quiet", "#busy"]) {
      await append(link, alice.id, join("alice"), {
        room,
        effect: "room",
        value: newRoomRecord(room),
      });
    }
    await append(link, alice.id, say("alice", "still here"), {
      room: "#quiet",
    });
    for (let i = 0; i < 400; i++) {
      await append(link, alice.id, say("alice", `busy ${i}`), {
        room: "#busy",
      });
    }
    const [[first]] = await link.command([
      "XRANGE",
      link.keys.events,
      "-",
      "+",
      "COUNT",
      "1",
    ]) as [[string]];
    assert.ok(Number(first.split("-")[0]) > 10, "the stream was trimmed");
    const { snapshot } = await readRoomsAtStart(link, log);
    const texts = (room: string) =>
      snapshot.recent.get(room)?.map((e) => (e.line as { text: string }).text);
    assert.deepEqual(texts("#quiet"), ["still here"]);
    assert.deepEqual(texts("#busy"), ["busy 397", "busy 398", "busy 399"]);
  });
});

Deno.test("the scripts keep where each room's incarnation begins: its first JOIN's number - 1, dropped when it expires, taken anew when it is made again, in the snapshot", async () => {
  await withRooms({ history: 2, streamEntries: 1000 }, async (link, c) => {
    const alice = member(`${c.server}/1`, "alice");
    await c.claim(alice, "alice", null, false);
    const make = async () => {
      const [seq] = await append(link, alice.id, join("alice"), {
        room: "#tmp",
        effect: "room",
        value: ops(newRoomRecord("#tmp"), "~alice"),
      }) as number[];
      return seq!;
    };
    const since = async () =>
      (await readRoomsAtStart(link, log)).snapshot.since;
    const first = await make();
    assert.equal((await since())?.get("#tmp"), first - 1);
    // A change of a room the log knows keeps it.
    await append(link, alice.id, {
      type: "MOD",
      action: "invite-only",
      alias: "-",
      by: "alice",
      text: "on",
    }, {
      room: "#tmp",
      effect: "room",
      value: { ...ops(newRoomRecord("#tmp"), "~alice"), inviteOnly: true },
    });
    assert.equal((await since())?.get("#tmp"), first - 1);
    await append(link, alice.id, part("alice"), { room: "#tmp" });
    await append(link, "", EXPIRE, { room: "#tmp", effect: "expire" });
    assert.equal((await since())?.has("#tmp"), false);
    const again = await make();
    assert.ok(again > first + 1);
    assert.equal((await since())?.get("#tmp"), again - 1);
  });
});

Deno.test("the append script refuses a room whose look-alike key a room the log knows holds, whichever server asks; the key goes when that room expires", async () => {
  await withRooms({ history: 2, streamEntries: 1000 }, async (link, c) => {
    const { keys } = link;
    const alice = member(`${c.server}/1`, "alice");
    const bob = member(`${c.server}/2`, "bob");
    await c.claim(alice, "alice", null, false);
    await c.claim(bob, "bob", null, false);
    const create = (who: typeof alice, room: string) =>
      append(link, who.id, join(who.alias), {
        room,
        effect: "room",
        value: ops(newRoomRecord(room), `~${who.alias}`),
        skeleton: roomSkeleton(room),
      }) as Promise<[number, number | string]>;
    assert.equal(roomSkeleton("#look"), roomSkeleton("#l0ok"));
    // Two servers create #look and #l0ok at once: the first one wins.
    assert.equal(typeof (await create(alice, "#look"))[1], "number");
    assert.equal((await create(bob, "#l0ok"))[1], "lookalike:#look");
    assert.equal(await hget(link, keys.rooms, "#l0ok"), null);
    assert.equal(
      await hget(link, keys.roomSkeletons, roomSkeleton("#look")),
      "#look",
    );
    assert.equal(
      await hget(link, keys.roomMembers, bob.id),
      '["#lobby"]',
      "bob is in no room the log does not know",
    );
    // Joining the room itself is no creation: let in.
    assert.equal(typeof (await create(bob, "#look"))[1], "number");
    for (const who of [alice, bob]) {
      await append(link, who.id, part(who.alias), { room: "#look" });
    }
    await append(link, "", EXPIRE, {
      room: "#look",
      effect: "expire",
      skeleton: roomSkeleton("#look"),
    });
    assert.equal(await hget(link, keys.rooms, "#look"), null);
    assert.equal(
      await hget(link, keys.roomSkeletons, roomSkeleton("#look")),
      null,
    );
    assert.equal(typeof (await create(bob, "#l0ok"))[1], "number");
    // A key left by a room gone (no expiry of this release) holds nothing.
    await link.command(["HSET", keys.roomSkeletons, "stale", "#gone"]);
    assert.equal(typeof (await create(alice, "#stale"))[1], "number");
  });
});
