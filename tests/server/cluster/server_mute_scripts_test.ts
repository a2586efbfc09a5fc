/**
 * Whom the server-wide mutes hold in Redis (`mute_scripts.ts`,
 * `SERVER_MUTE_LUA`, a real `redis-server`): as a `MOD` with the bans and
 * mutes in force (`sanctions`) is stored, every member they cover, on any
 * server, has its messages and actions refused (`muted`), in the default
 * room and in every other: the muted guest's address group, the account's
 * holder under another alias, one who claims an alias after it; never a
 * server operator at that address. An unmute (or a mute's end) lets them
 * through, a hold that a change of an earlier release left silences
 * nobody, and the holds go with the members. What a default room's line
 * costs in Redis: nothing more per line while nobody is held.
 */

import assert from "node:assert/strict";
import type { ClusterMember } from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { type RoomLine } from "../../../lib/server/room/room_log.ts";
import { newRoomRecord } from "../../../lib/server/room/room_record.ts";
import type { SharedSanction } from "../../../lib/server/access/moderation.ts";
import {
  appendLines,
  claimed,
  guest,
  lineArgs,
  withServers,
} from "./_scripts_kit.ts";

function muteOf(
  kind: "address" | "account",
  target: string,
  until: number | null = null,
): SharedSanction {
  return {
    type: "mute",
    kind,
    target,
    label: target,
    until,
    by: "op",
    reason: "",
  };
}

/** The server-wide `MOD` of `op`, with the sanctions in force after it. */
function mod(
  op: ClusterMember,
  action: string,
  alias: string,
  sanctions: readonly SharedSanction[],
): string[] {
  const line = { type: "MOD", action, alias, by: op.alias, text: "" } as const;
  return lineArgs(op.id, line, "", {
    kind: "sanctions",
    value: JSON.stringify(sanctions),
  });
}

/** What each of `members` gets for a line in `room` ('': the default). */
async function answers(
  link: RedisLink,
  members: readonly ClusterMember[],
  room = "",
  type: "MSG" | "ME" = "MSG",
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const m of members) {
    const line: RoomLine = { type, alias: m.alias, text: "hi" };
    const [, answer] = await appendLines(link, [
      lineArgs(m.id, line, room, null),
    ]);
    out[m.alias] = typeof answer === "number" ? "stored" : answer;
  }
  return out;
}

Deno.test("a server-wide mute holds every member it covers, on any server, in every room: the muted guest's address group, the account's holder under another alias, one who claims after it; not a server operator at that address", async () => {
  await withServers(async (link, a, b) => {
    const op = await claimed(a, {
      ...guest(1, "op"),
      account: "op",
      operator: true,
    });
    const bob = await claimed(a, guest(2, "bob"));
    // On the other server: it checks them only once it read the mute.
    const gus = await claimed(b, guest(3, "gus"));
    const evie = await claimed(b, {
      ...guest(4, "evie", "10.0.0.9"),
      account: "Eve",
    });
    const far = await claimed(b, guest(5, "far", "10.0.0.7"));
    const v6 = await claimed(b, guest(6, "v6", "2001:db8::5"));
    const everyone = [op, bob, gus, evie, far, v6];
    assert.deepEqual(await answers(link, everyone), {
      op: "stored",
      bob: "stored",
      gus: "stored",
      evie: "stored",
      far: "stored",
      v6: "stored",
    });
    // The mute of bob names its address group; one of eve's account; one
    // of a /64.
    const mutes = [
      muteOf("address", "127.0.0.1"),
      muteOf("account", "eve"),
      muteOf("address", "2001:db8::/64"),
    ];
    await appendLines(link, [mod(op, "mute", "bob", mutes)]);
    const fay = await claimed(b, guest(7, "fay"));
    const before = Number(await link.command(["XLEN", link.keys.events]));
    const held = {
      op: "stored",
      bob: "muted",
      gus: "muted",
      evie: "muted",
      far: "stored",
      v6: "muted",
      fay: "muted",
    };
    assert.deepEqual(await answers(link, [...everyone, fay]), held);
    assert.deepEqual(await answers(link, [...everyone, fay], "", "ME"), held);
    assert.equal(
      Number(await link.command(["XLEN", link.keys.events])),
      before + 4,
    );
    // In a room too: a server-wide mute silences a member everywhere.
    const open = newRoomRecord("#ops");
    for (const m of [gus, far]) {
      const join: RoomLine = { type: "JOIN", alias: m.alias, online: "1" };
      await appendLines(link, [
        lineArgs(m.id, join, "#ops", {
          kind: "room",
          value: JSON.stringify(open),
        }),
      ]);
    }
    assert.deepEqual(await answers(link, [gus, far], "#ops"), {
      gus: "muted",
      far: "stored",
    });
    // Unmuted: everyone speaks again, and nobody is held.
    await appendLines(link, [mod(op, "unmute", "bob", [mutes[1]!])]);
    assert.deepEqual(await answers(link, [bob, gus, evie, fay]), {
      bob: "stored",
      gus: "stored",
      evie: "muted",
      fay: "stored",
    });
    await appendLines(link, [mod(op, "unmute", "eve", [])]);
    assert.deepEqual(await answers(link, [evie]), { evie: "stored" });
    assert.equal(await link.command(["HLEN", link.keys.serverMuted]), 0);
  });
});

Deno.test("a server-wide mute holds lines stored after it in the same call, ends with its time, and a hold it no longer justifies lets lines through", async () => {
  await withServers(async (link, a, b) => {
    const op = await claimed(a, {
      ...guest(1, "op"),
      account: "op",
      operator: true,
    });
    const gus = await claimed(b, guest(2, "gus"));
    const said = (n: number, time?: number) =>
      lineArgs(
        gus.id,
        { type: "MSG", alias: "gus", text: `spam ${n}` },
        "",
        null,
        time,
      );
    const now = Date.now();
    const ends = now + 60_000;
    // gus's server sent two lines before it read the mute, in one batch
    // with it: the one after the MOD is refused.
    const [, first, , second, third] = await appendLines(link, [
      said(1, now),
      mod(op, "mute", "gus", [muteOf("address", "127.0.0.1", ends)]),
      said(2, now),
      said(3, ends),
    ]);
    assert.equal(typeof first, "number");
    assert.equal(second, "muted");
    // Past the mute's end.
    assert.equal(typeof third, "number");
    // An ended mute's hold went with that line.
    assert.equal(await link.command(["HLEN", link.keys.serverMuted]), 0);
    // Lifted by a change that set no holds (as an earlier release's
    // server stores it, or one that keeps them for later servers): the
    // hold is there, but silences nobody, and goes.
    await appendLines(link, [
      mod(op, "mute", "gus", [muteOf("address", "127.0.0.1")]),
    ]);
    const [, fourth] = await appendLines(link, [said(4)]);
    assert.equal(fourth, "muted");
    assert.equal(
      await link.command(["HGET", link.keys.serverMuted, gus.id]),
      "",
    );
    await link.command(["SET", link.keys.sanctions, "[]"]);
    const [, fifth] = await appendLines(link, [said(5)]);
    assert.equal(typeof fifth, "number");
    assert.equal(await link.command(["HLEN", link.keys.serverMuted]), 0);
  });
});

Deno.test("the server-wide holds go with their members: at most one each, none once they left", async () => {
  await withServers(async (link, a, b) => {
    const op = await claimed(a, {
      ...guest(1, "op"),
      account: "op",
      operator: true,
    });
    const bob = await claimed(a, guest(2, "bob"));
    const gus = await claimed(b, guest(3, "gus"));
    const mutes = [muteOf("address", "127.0.0.1"), muteOf("account", "gus")];
    await appendLines(link, [mod(op, "mute", "bob", mutes)]);
    await appendLines(link, [mod(op, "mute", "bob", mutes)]);
    assert.equal(await link.command(["HLEN", link.keys.serverMuted]), 2);
    // A rename keeps its hold, by id.
    const renamed = await b.claim(gus, "gus2", "gus", false);
    assert.equal(renamed.ok, true);
    assert.deepEqual(
      await answers(link, [{ ...gus, alias: "gus2" }]),
      { gus2: "muted" },
    );
    await a.remove(bob.id, "quit", "");
    await b.remove(gus.id, "quit", "");
    assert.equal(await link.command(["HLEN", link.keys.serverMuted]), 0);
  });
});

/** How many times Redis ran `command` (scripts' calls included). */
async function calls(link: RedisLink, command: string): Promise<number> {
  const stats = String(await link.command(["INFO", "commandstats"]));
  const found = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats);
  return Number(found?.[1] ?? 0);
}

Deno.test("a batch of default room lines costs one EXISTS a call while nobody is held, and one HGET more a speaker while anyone is", async () => {
  await withServers(async (link, a, b) => {
    const op = await claimed(a, {
      ...guest(1, "op"),
      account: "op",
      operator: true,
    });
    await claimed(a, guest(2, "bob"));
    const far = await claimed(b, guest(3, "far", "10.0.0.7"));
    const batch = () =>
      Array.from(
        { length: 50 },
        (_, i) =>
          lineArgs(
            far.id,
            { type: "MSG", alias: "far", text: `${i}` },
            "",
            null,
          ),
      );
    const cost = async () => {
      const [hget, exists] = [
        await calls(link, "hget"),
        await calls(link, "exists"),
      ];
      const answer = await appendLines(link, batch());
      assert.ok(answer.slice(1).every((n) => typeof n === "number"));
      return {
        hget: await calls(link, "hget") - hget,
        exists: await calls(link, "exists") - exists,
      };
    };
    // The speaker's claim (ids, members): as before.
    assert.deepEqual(await cost(), { hget: 2, exists: 1 });
    await appendLines(link, [mod(op, "mute", "x", [muteOf("account", "x")])]);
    assert.deepEqual(await cost(), { hget: 2, exists: 1 });
    await appendLines(link, [
      mod(op, "mute", "bob", [muteOf("address", "127.0.0.1")]),
    ]);
    // bob (not far) is held: one HGET for far, once for the 50 lines.
    assert.deepEqual(await cost(), { hget: 3, exists: 1 });
  });
});

Deno.test("a claim costs Redis what the server-wide mutes cost, not every ban: with 20,000 bans and 2 mutes in force, a rename takes under 10 ms of the script (it decoded the whole list: 25 ms a rename, any guest may rename five times a second); mutes whose reasons hold JSON are read, and one written in another order still holds", async () => {
  await withServers(async (link, a, _b) => {
    const op = await claimed(a, { ...guest(1, "op"), operator: true });
    const bans: SharedSanction[] = [];
    for (let n = 0; n < 20_000; n++) {
      const target = `10.${n >> 8 & 255}.${n & 255}.0/24`;
      bans.push({ ...muteOf("address", target), type: "ban", reason: "spam" });
    }
    const tricky = '{"type":"mute"} mute" }, {"';
    const mutes = [
      { ...muteOf("address", "127.0.0.1"), reason: tricky },
      { ...muteOf("account", "dan"), reason: tricky },
    ];
    const sanctions = [bans[0]!, mutes[0]!, ...bans.slice(1), mutes[1]!];
    await appendLines(link, [mod(op, "mute", "cat", sanctions)]);
    const cat = await claimed(a, guest(2, "cat"));
    const held = () => link.command(["HGET", link.keys.serverMuted, cat.id]);
    assert.equal(await held(), "");
    await link.command(["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    await link.command(["SLOWLOG", "RESET"]);
    for (let n = 1; n <= 10; n++) {
      await a.claim(cat, `cat${n}`, n === 1 ? "cat" : `cat${n - 1}`, false);
    }
    const slow = await link.command(["SLOWLOG", "GET", "100"]) as unknown[][];
    const took = Math.min(
      ...slow.filter((entry) =>
        String((entry[3] as string[])[0]).toUpperCase() === "EVALSHA"
      ).map((entry) => Number(entry[2])),
    );
    assert.ok(took < 10_000, `${took} µs`);
    assert.equal(await held(), "");
    // A mute written with its fields in another order: the list is read whole.
    const { type: _, ...rest } = muteOf("account", "dan");
    const reordered = JSON.stringify([...bans.slice(0, 3), {
      ...rest,
      type: "mute",
    }]);
    await link.command(["SET", link.keys.sanctions, reordered]);
    const dan = await claimed(a, {
      ...guest(3, "dan", "10.9.9.9"),
      account: "dan",
    });
    assert.equal(
      await link.command(["HGET", link.keys.serverMuted, dan.id]),
      "",
    );
  });
});
