/**
 * A room made again is a new room, over real TLS: once a temporary room
 * vanished (empty for `--room-grace`, or gone with a restart), whoever
 * makes it again reads nothing of the old one, through `/search`, a
 * catch-up (`/resume EPOCH #room=0`) or `/history`; while a member of a
 * room that lives on still finds and is caught up with all of it; a room
 * made again and registered begins there after a restart too, its start
 * kept with it (no `MOD expire` stored: the old room went with a restart;
 * or retention deleted it), also when registered in a run whose log is
 * not the data directory's once retention deleted every row.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../lib/clock.ts";
import { Retention } from "../../lib/server/storage/retention.ts";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, withTempDir } from "../_helpers.ts";
import {
  joinAgain,
  member,
  register,
  search,
  secretRoom,
  strangerReads,
  upTo,
} from "./_incarnation_members.ts";

Deno.test("a room made again after it vanished is a new room: its maker finds and is caught up with nothing of the old one; a live room's member finds and is caught up as before", async () => {
  await using s = await startServer("node", ["--room-grace", "0"]);
  const amy = await member(s.port, "amy");
  const { epoch } = amy;
  await secretRoom(amy.client, "#vault", "zanzibar merger on friday");
  using carol = (await member(s.port, "carol")).client;
  using dave = (await member(s.port, "dave")).client;
  for (const who of [carol, dave]) {
    await who.send("/join #live");
    await who.expect(/^CURRENT #live$/);
  }
  await carol.send("#live zanzibar in the live room");
  await dave.expect(/#live MSG carol zanzibar in the live room$/);
  await amy.client.send("/part #vault");
  await amy.client.expect(/#vault LEAVE amy /);
  amy.client.server.close();

  const mallory = await member(s.port, "mallory", `/resume ${epoch} #vault=0`);
  using m = mallory.client;
  const entered = await joinAgain(m, "#vault");
  assert.equal(entered.length, 3, entered.join("\n"));
  assert.equal(entered[0], "#vault JOIN mallory 1");
  assert.match(entered[1]!, /^#vault RESUMED \d+ 0 Resumed: 0 lines you /);
  assert.equal(entered[2], "CURRENT #vault");
  assert.deepEqual(await search(m, "zanzibar"), [
    "FOUNDEND 0 End of search: 0 lines",
  ]);
  await m.send("#vault /history 50");
  assert.deepEqual(await upTo(m, /HISTEND /), [
    "#vault HISTEND 0 End of history: 0 messages",
  ]);

  // A room that lives on: found, and caught up from the start.
  assert.deepEqual(await search(dave, "zanzibar"), [
    "FOUND #live MSG carol zanzibar in the live room",
    "FOUNDEND 1 End of search: 1 line",
  ]);
  using erin = (await member(s.port, "erin", `/resume ${epoch} #live=0`))
    .client;
  await erin.send("/join #live");
  const caught = await upTo(erin, /^CURRENT #live$/);
  assert.ok(caught.includes("#live MSG carol zanzibar in the live room"));
  assert.ok(caught.includes("#live JOIN dave 2"));
});

Deno.test("a temporary room is gone after a restart: whoever makes it again finds and is caught up with nothing of it, and the default room keeps all of its own", async () => {
  await withTempDir(async (dir) => {
    let epoch: string;
    {
      using store = openStore(dir, { exclusive: true });
      await using s = await startServer("node", [], { store });
      const amy = await member(s.port, "amy");
      epoch = amy.epoch;
      using a = amy.client;
      await secretRoom(a, "#vz1", "restart secret quokka");
      await a.send("#lobby quokka in the lobby");
      await a.expect(/#lobby MSG amy quokka in the lobby$/);
    }
    using store = openStore(dir, { exclusive: true });
    await using s = await startServer("node", [], { store });
    const mallory = await member(s.port, "mallory", `/resume ${epoch} #vz1=0`);
    using m = mallory.client;
    assert.equal(mallory.epoch, epoch, "the data directory keeps its epoch");
    const entered = await joinAgain(m, "#vz1");
    assert.equal(entered.length, 3, entered.join("\n"));
    assert.match(entered[1]!, /^#vz1 RESUMED \d+ 0 Resumed: 0 lines you /);
    assert.deepEqual(await search(m, "quokka"), [
      "FOUND #lobby MSG amy quokka in the lobby",
      "FOUNDEND 1 End of search: 1 line",
    ]);
  });
});

Deno.test("a registered room made again after it vanished begins there after a restart too", async () => {
  await withTempDir(async (dir) => {
    const grace = ["--room-grace", "0"];
    let epoch: string;
    {
      using store = openStore(dir, { exclusive: true });
      await using s = await startServer("node", grace, { store });
      await s.server.gate.accounts.add("opal", "opal password");
      const opal = await member(s.port, "opal", undefined, "opal password");
      epoch = opal.epoch;
      using o = opal.client;
      await secretRoom(o, "#r", "old quokka");
      await o.send("/part #r");
      await o.expect(/#r LEAVE opal /);
      using m = (await member(s.port, "mallory")).client;
      await joinAgain(m, "#r");
      await m.send("#r /op opal");
      await m.expect(/#r MOD op opal /);
      await o.send("/join #r");
      await o.expect(/^CURRENT #r$/);
      await o.send("#r /register");
      await o.expect(/#r MOD register - opal$/);
      await o.send("#r new quokka");
      await o.expect(/#r MSG opal new quokka$/);
    }
    using store = openStore(dir, { exclusive: true });
    await using s = await startServer("node", grace, { store });
    const resume = `/resume ${epoch} #r=0`;
    using o = (await member(s.port, "opal", resume, "opal password")).client;
    const caught = await upTo(o, /^#r RESUMED /);
    assert.ok(caught.includes("#r MSG opal new quokka"), caught.join("\n"));
    assert.ok(!caught.some((l) => l.includes("old quokka")), caught.join("\n"));
    assert.deepEqual(await search(o, "quokka"), [
      "FOUND #r MSG opal new quokka",
      "FOUNDEND 1 End of search: 1 line",
    ]);
  });
});

/** A server on data directory `dir` until `body` is done (one run of it). */
async function run(
  dir: string,
  flags: string[],
  body: (port: number) => Promise<void>,
): Promise<void> {
  using store = openStore(dir, { exclusive: true });
  await using s = await startServer("node", flags, { store });
  if (s.server.gate.accounts.get("opal") === null) {
    await s.server.gate.accounts.add("opal", "opal password");
  }
  await body(s.port);
}

Deno.test("a temporary room gone with a restart (no MOD expire stored), made again and registered, begins there after another restart: a stranger reads none of the old room", async () => {
  await withTempDir(async (dir) => {
    await run(dir, [], async (port) => {
      using a = (await member(port, "amy")).client;
      await secretRoom(a, "#sec", "secret quokka");
    });
    await run(
      dir,
      [],
      (port) => register(port, "#sec", "new quokka", "opal password"),
    );
    await run(dir, [], async (port) => {
      const { joined, history, found } = await strangerReads(
        port,
        "#sec",
        "quokka",
      );
      const said = /^#sec HIST \d+ \S+Z MSG opal new quokka$/;
      for (const lines of [joined, history]) {
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(lines[0]!, said);
      }
      assert.deepEqual(found, [
        "FOUND #sec MSG opal new quokka",
        "FOUNDEND 1 End of search: 1 line",
      ]);
    });
  });
});

Deno.test("a registered room made again after it vanished begins there after a restart even once retention deleted its MOD expire", async () => {
  await withTempDir(async (dir) => {
    const flags = ["--room-grace", "0", "--history-keep-rows", "3"];
    await run(dir, flags, async (port) => {
      using a = (await member(port, "amy")).client;
      await secretRoom(a, "#ret", "old wombat");
      await a.send("/part #ret");
      await a.expect(/#ret LEAVE amy /);
      await register(port, "#ret", "new wombat", "opal password");
    });
    {
      // Comings and goings since push the expire out (kept: 3 of them).
      using store = openStore(dir, { exclusive: true });
      const retention = new Retention(store.db, {
        clock: systemClock,
        keepDays: 0,
        keepRows: 3,
      });
      retention.start(); // its first round, at once
      retention.stop();
      const { n } = store.db.prepare(
        "SELECT COUNT(*) AS n FROM events WHERE effect = 'expire'",
      ).get() as { n: number };
      assert.equal(n, 0, "retention deleted the MOD expire");
    }
    await run(dir, flags, async (port) => {
      const { joined, history, found } = await strangerReads(
        port,
        "#ret",
        "wombat",
      );
      const said = /^#ret HIST \d+ \S+Z MSG opal new wombat$/;
      for (const lines of [joined, history]) {
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(lines[0]!, said);
      }
      assert.deepEqual(found, [
        "FOUND #ret MSG opal new wombat",
        "FOUNDEND 1 End of search: 1 line",
      ]);
    });
  });
});

for (const apart of [["--durability", "memory"], ["--history", "0"]]) {
  Deno.test(
    `a temporary room whose every line retention deleted, made again and registered in a run with ${
      apart.join(" ")
    }, begins after the last number given: a resume from 0 misses none of the old room`,
    async () => {
      await withTempDir(async (dir) => {
        let epoch = "";
        await run(dir, [], async (port) => {
          const amy = await member(port, "amy");
          epoch = amy.epoch;
          using a = amy.client;
          await secretRoom(a, "#sec", "secret quokka");
        });
        {
          // Days later: retention deleted every row (their tombstones stay).
          using store = openStore(dir, { exclusive: true });
          const later = Date.now() + 3 * 86_400_000;
          const clock = { ...systemClock, now: () => later };
          const retention = new Retention(store.db, {
            clock,
            keepDays: 1,
            keepRows: 0,
          });
          retention.start(); // its first round, at once
          retention.stop();
          const { n } = store.db.prepare("SELECT COUNT(*) AS n FROM events")
            .get() as { n: number };
          assert.equal(n, 0, "retention deleted every row");
        }
        await run(
          dir,
          apart,
          (port) => register(port, "#sec", "new quokka", "opal password"),
        );
        await run(dir, [], async (port) => {
          const resume = `/resume ${epoch} #sec=0`;
          using o =
            (await member(port, "opal", resume, "opal password")).client;
          const caught = await upTo(o, /^#sec RESUMED /);
          assert.match(
            caught.at(-1)!,
            /^#sec RESUMED \d+ 0 /,
            caught.join("\n"),
          );
        });
      });
    },
  );
}
