/**
 * Whom the rooms' mutes hold in Redis (`mute_scripts.ts`, a real
 * `redis-server`): every member in the room a stored mute covers, on any
 * server (its address group, its account under another alias, one that
 * joins later), not the room's operators at that address nor a server
 * operator; the member a mute names by id, not a newcomer who took its
 * alias; an op after the mute lets its address through; the holds in the
 * snapshot a server that starts later reads.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import {
  Cluster,
  type ClusterMember,
} from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { readRoomsAtStart } from "../../../lib/server/cluster/rooms_at_start.ts";
import { type RoomLine } from "../../../lib/server/room/room_log.ts";
import {
  newRoomRecord,
  type RoomRecord,
} from "../../../lib/server/room/room_record.ts";
import type { Sanction } from "../../../lib/server/access/moderation.ts";
import { aliasSkeleton } from "../../../lib/text.ts";

const quiet = createLogger("error", () => {});
import {
  appendLines,
  claimed,
  guest,
  lineArgs,
  scriptCalls,
  withServers,
} from "./_scripts_kit.ts";

/** Appends `line` from member `origin` as the stream writer does. */
function append(
  link: RedisLink,
  origin: string,
  line: RoomLine & { target?: string },
  room: string,
  record?: RoomRecord,
): Promise<unknown[]> {
  const effect = record === undefined
    ? null
    : { kind: "room", value: JSON.stringify(record) };
  return appendLines(link, [lineArgs(origin, line, room, effect)]);
}

/** A member of `server` claimed as `alias`, in room `#ops` (`open`). */
async function joined(
  link: RedisLink,
  server: Cluster,
  who: Omit<ClusterMember, "id"> & { n: number },
  open: RoomRecord,
): Promise<ClusterMember> {
  const member = await claimed(server, who);
  const join: RoomLine = { type: "JOIN", alias: who.alias, online: "1" };
  await append(link, member.id, join, "#ops", open);
  return member;
}

function muteOf(
  id: number,
  kind: "address" | "account",
  target: string,
): Sanction {
  return {
    id,
    type: "mute",
    kind,
    target,
    label: target,
    until: null,
    by: "amy",
    reason: "",
  };
}

const mod = (action: string, alias: string, target?: string) => ({
  type: "MOD" as const,
  action,
  alias,
  by: "amy",
  text: "",
  ...(target === undefined ? {} : { target }),
});

/** What each of `members` gets for a line in #ops: a number, or why not. */
async function answers(
  link: RedisLink,
  members: readonly ClusterMember[],
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const m of members) {
    const line: RoomLine = { type: "MSG", alias: m.alias, text: "hi" };
    const [, answer] = await append(link, m.id, line, "#ops");
    out[m.alias] = typeof answer === "number" ? "stored" : answer;
  }
  return out;
}

Deno.test("a stored mute holds every member in the room it covers, on any server: the muted guest's address group (an earlier release's claim too, by its host), the account's holder under another alias, one who joins after it; not a room operator at that address, nor a server operator", async () => {
  await withServers(async (link, a, b) => {
    const open = { ...newRoomRecord("#ops"), operators: ["~amy"] };
    const amy = await joined(link, a, guest(1, "amy"), open);
    const cat = await joined(link, a, guest(2, "cat"), open);
    // On the other server, at the same address: its server checks it
    // only once it read the mute.
    const dan = await joined(link, b, guest(3, "dan"), open);
    const evie = await joined(link, b, {
      ...guest(4, "evie", "10.0.0.9"),
      account: "Eve",
    }, open);
    const oscar = await joined(link, b, {
      ...guest(5, "oscar"),
      account: "oscar",
      operator: true,
    }, open);
    const far = await joined(link, b, guest(6, "far", "10.0.0.7"), open);
    // A claim of an earlier release: no address group, its host instead.
    const hal = { ...guest(8, "hal"), id: `${b.server}/8` };
    await link.run("claim", [
      "hal",
      aliasSkeleton("hal"),
      JSON.stringify({ ...hal, server: b.server }),
      "0",
      String(Date.now()),
      "",
    ]);
    const halJoin: RoomLine = { type: "JOIN", alias: "hal", online: "1" };
    await append(link, hal.id, halJoin, "#ops", open);
    const muted = {
      ...open,
      mutes: [muteOf(1, "address", "127.0.0.1"), muteOf(2, "account", "eve")],
    };
    await append(link, amy.id, mod("mute", "cat", cat.id), "#ops", muted);
    const fay = await joined(link, b, guest(7, "fay"), muted);
    const before = Number(await link.command(["XLEN", link.keys.events]));
    assert.deepEqual(
      await answers(link, [amy, cat, dan, evie, oscar, far, fay, hal]),
      {
        amy: "stored",
        cat: "muted",
        dan: "muted",
        evie: "muted",
        oscar: "stored",
        far: "stored",
        fay: "muted",
        hal: "muted",
      },
    );
    const after = Number(await link.command(["XLEN", link.keys.events]));
    assert.equal(after, before + 3);
    // Opped, dan is no longer held by an address mute (as its server says).
    const opped = { ...muted, operators: ["~amy", "~dan"] };
    await append(link, amy.id, mod("op", "dan", dan.id), "#ops", opped);
    assert.deepEqual(await answers(link, [dan, cat]), {
      dan: "stored",
      cat: "muted",
    });
  });
});

Deno.test("a mute holds the member its MOD names by id, not a newcomer who took its alias before the MOD was stored (an earlier release's claim, which Redis cannot judge by address group, by that id)", async () => {
  await withServers(async (link, a, b) => {
    const open = { ...newRoomRecord("#ops"), operators: ["~amy"] };
    const amy = await joined(link, a, guest(1, "amy"), open);
    const cat = await joined(link, b, guest(2, "cat", "10.0.0.2"), open);
    // amy's server decided the mute of cat (10.0.0.2); cat left, and a
    // newcomer from another address took its alias and the room.
    await b.remove(cat.id, "quit", "");
    const newcat = await joined(link, b, guest(3, "cat", "10.0.0.3"), open);
    const muted = { ...open, mutes: [muteOf(1, "address", "10.0.0.2")] };
    await append(link, amy.id, mod("mute", "cat", cat.id), "#ops", muted);
    assert.deepEqual(await answers(link, [newcat]), { cat: "stored" });
    assert.equal(await link.command(["HLEN", link.keys.roomMuted]), 0);
    // A claim of an earlier release (no address group) from IPv6: its
    // host is not its /64, so the mute holds it as the MOD names it.
    const hal = { ...guest(8, "hal", "2001:db8::5"), id: `${b.server}/8` };
    await link.run("claim", [
      "hal",
      aliasSkeleton("hal"),
      JSON.stringify({ ...hal, server: b.server }),
      "0",
      String(Date.now()),
      "",
    ]);
    const halJoin: RoomLine = { type: "JOIN", alias: "hal", online: "1" };
    await append(link, hal.id, halJoin, "#ops", open);
    const both = {
      ...muted,
      mutes: [...muted.mutes, muteOf(2, "address", "2001:db8::/64")],
    };
    await append(link, amy.id, mod("mute", "hal", hal.id), "#ops", both);
    assert.deepEqual(await answers(link, [hal, newcat]), {
      hal: "muted",
      cat: "stored",
    });
  });
});

Deno.test("the rooms' snapshot carries whom the mutes hold: a server that starts later drops their lines as the others do", async () => {
  await withServers(async (link, a, b) => {
    const open = { ...newRoomRecord("#ops"), operators: ["~amy"] };
    const amy = await joined(link, a, guest(1, "amy"), open);
    const cat = await joined(link, a, guest(2, "cat"), open);
    const dan = await joined(link, b, guest(3, "dan"), open);
    const muted = { ...open, mutes: [muteOf(1, "address", "127.0.0.1")] };
    await append(link, amy.id, mod("mute", "cat", cat.id), "#ops", muted);
    const { snapshot } = await readRoomsAtStart(link, quiet);
    const holds = Object.fromEntries(
      snapshot.members.map((m) => [m.alias, m.muted?.["#ops"]]),
    );
    assert.deepEqual(holds, {
      amy: undefined,
      cat: "1 127.0.0.1",
      dan: "1 127.0.0.1",
    });
    // They leave the room: their holds go with it.
    for (const m of [cat, dan]) {
      const part: RoomLine = {
        type: "LEAVE",
        alias: m.alias,
        online: "1",
        reason: "part",
        text: "",
      };
      await append(link, m.id, part, "#ops");
    }
    assert.equal(await link.command(["HLEN", link.keys.roomMuted]), 0);
  });
});

/** The fewest µs Redis took for one of the scripts run by `body`. */
async function fastestScript(
  link: RedisLink,
  body: () => Promise<void>,
): Promise<number> {
  await link.command(["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
  await link.command(["SLOWLOG", "RESET"]);
  await body();
  const log = await link.command(["SLOWLOG", "GET", "100"]) as unknown[][];
  const scripts = log.filter((entry) =>
    String((entry[3] as string[])[0]).toUpperCase() === "EVALSHA"
  );
  assert.ok(scripts.length > 0);
  return Math.min(...scripts.map((entry) => Number(entry[2])));
}

Deno.test("a MOD in a room costs Redis what the room's members cost, not the cluster's: 10,000 members in other rooms, 100 mutes, a MOD of a room of 2 takes under 40 ms of the script (it decoded and judged every claim of the cluster: 150 ms, every append of every server waiting meanwhile; now the room's set of ids); whom it holds is the same, also for a room an earlier release's server kept no set for", async () => {
  await withServers(async (link, a, _b) => {
    const open = { ...newRoomRecord("#ops"), operators: ["~amy"] };
    const amy = await joined(link, a, guest(1, "amy"), open);
    const cat = await joined(link, a, guest(2, "cat"), open);
    // 10,000 members of another server in other rooms, one in 100 at the
    // muted address (written as its scripts would: claims, their rooms).
    const claims = ["HSET", link.keys.members];
    const rooms = ["HSET", link.keys.roomMembers];
    for (let n = 0; n < 10_000; n++) {
      const id = `far/${n}`;
      const host = n % 100 === 0 ? "127.0.0.1" : `10.0.${n >> 8}.${n & 255}`;
      const claim = { ...guest(n, `u${n}`, host), id, server: "far" };
      claims.push(`u${n}`, JSON.stringify({ ...claim, group: host }));
      rooms.push(id, JSON.stringify(["#lobby", "#other"]));
    }
    await link.command(claims);
    await link.command(rooms);
    const mutes = [muteOf(1, "address", "127.0.0.1")];
    for (let n = 2; n <= 100; n++) {
      mutes.push(muteOf(n, n % 2 ? "address" : "account", `nobody${n}`));
    }
    const muted = { ...open, mutes };
    const took = await fastestScript(link, async () => {
      for (const action of ["mute", "op", "deop"]) {
        await append(link, amy.id, mod(action, "zed"), "#ops", muted);
      }
    });
    assert.ok(took < 40_000, `${took} µs`);
    // amy operates #ops: only cat is held, none of the others.
    assert.deepEqual(await answers(link, [amy, cat]), {
      amy: "stored",
      cat: "muted",
    });
    assert.equal(await link.command(["HLEN", link.keys.roomMuted]), 1);
    // The room's ids as a server of an earlier release leaves them (it
    // keeps no set): read from the members' rooms, and kept again.
    const inRoom = `${link.keys.recent("#ops")}:in`;
    assert.equal(await link.command(["SCARD", inRoom]), 2);
    await link.command(["DEL", inRoom]);
    await link.command(["HDEL", link.keys.roomMuted, cat.id]);
    await append(link, amy.id, mod("op", "zed"), "#ops", muted);
    assert.deepEqual(await answers(link, [amy, cat]), {
      amy: "stored",
      cat: "muted",
    });
    assert.equal(await link.command(["SCARD", inRoom]), 2);
  });
});

Deno.test("one append reads a speaker's rooms and holds, and a room's mutes, once however many of its lines it carries (it read and decoded each per line), and reads them again after a line that may change them", async () => {
  await withServers(async (link, a, b) => {
    const open = { ...newRoomRecord("#ops"), operators: ["~amy"] };
    const amy = await joined(link, a, guest(1, "amy"), open);
    const cat = await joined(link, b, guest(2, "cat", "10.0.0.2"), open);
    const muted = { ...open, mutes: [muteOf(1, "address", "10.0.0.2")] };
    await append(link, amy.id, mod("mute", "cat", cat.id), "#ops", muted);
    const said = (m: ClusterMember, room = "#ops") =>
      lineArgs(m.id, { type: "MSG", alias: m.alias, text: "hi" }, room, null);
    let answer: unknown[] = [];
    const calls = await scriptCalls(link, async () => {
      answer = await appendLines(
        link,
        Array.from({ length: 5 }, () => said(cat)),
      );
    });
    assert.deepEqual(answer.slice(1), Array(5).fill("muted"));
    for (const key of ["roomMembers", "roomMuted", "rooms"] as const) {
      assert.equal(calls.get(`HGET ${link.keys[key]}`), 1, key);
    }
    // In one call: outside #dev, then in it; held in #ops, then not.
    const join = { type: "JOIN", alias: "cat", online: "2" } as const;
    const unmuted = { ...open, mutes: [] };
    const [, ...answers] = await appendLines(link, [
      said(cat, "#dev"),
      lineArgs(cat.id, join, "#dev", {
        kind: "room",
        value: JSON.stringify(newRoomRecord("#dev")),
      }),
      said(cat, "#dev"),
      said(cat),
      lineArgs(amy.id, mod("unmute", "cat", cat.id), "#ops", {
        kind: "room",
        value: JSON.stringify(unmuted),
      }),
      said(cat),
    ]);
    assert.deepEqual(answers.map((x) => typeof x === "number" ? "stored" : x), [
      "outside",
      "stored",
      "stored",
      "muted",
      "stored",
      "stored",
    ]);
  });
});

Deno.test("a MOD that sets a room's holds reads each room's record once: the one it wrote not again, another room a member is held in once for all of them (it read one per member and room)", async () => {
  await withServers(async (link, a, b) => {
    const record = (name: string, mutes: Sanction[] = []) => ({
      ...newRoomRecord(name),
      operators: ["~amy"],
      mutes,
    });
    const amy = await joined(
      link,
      a,
      guest(1, "amy", "10.9.0.1"),
      record("#ops"),
    );
    const rooms = ["#ops", "#h0", "#h1"];
    const held: ClusterMember[] = [];
    for (let n = 0; n < 3; n++) {
      const m = await claimed(b, guest(10 + n, `m${n}`, "10.0.0.2"));
      for (const name of rooms) {
        const join = { type: "JOIN", alias: m.alias, online: "1" } as const;
        await append(link, m.id, join, name, record(name));
      }
      held.push(m);
    }
    const group = muteOf(1, "address", "10.0.0.2");
    for (const name of ["#h0", "#h1"]) {
      await append(
        link,
        amy.id,
        mod("mute", "m0"),
        name,
        record(name, [group]),
      );
    }
    const calls = await scriptCalls(
      link,
      () =>
        append(
          link,
          amy.id,
          mod("mute", "m0"),
          "#ops",
          record("#ops", [group]),
        ),
    );
    // The record it replaces, then #h0's and #h1's.
    assert.equal(calls.get(`HGET ${link.keys.rooms}`), 3);
    assert.deepEqual(await answers(link, [amy, ...held]), {
      amy: "stored",
      m0: "muted",
      m1: "muted",
      m2: "muted",
    });
    const holds = await link.command([
      "HGET",
      link.keys.roomMuted,
      held[2]!.id,
    ]);
    assert.deepEqual(JSON.parse(String(holds)), {
      "#ops": "1 10.0.0.2",
      "#h0": "1 10.0.0.2",
      "#h1": "1 10.0.0.2",
    });
  });
});
