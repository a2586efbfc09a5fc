/**
 * What a catch-up costs the server over real TLS (the attacker review of
 * issue 16): guests that ask, each at login, for the default room's lines
 * since the log's start read none of another room's lines to count what
 * they missed, so that another member's `/who` is answered at once
 * however long the log (counted as SQLite's look into stored JSON, not
 * timed).
 */

import assert from "node:assert/strict";
import { systemClock } from "../../lib/clock.ts";
import { SqliteLog } from "../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, TestClient, withTempDir } from "../_helpers.ts";
import { jsonProbe } from "./storage/_json_probe.ts";

/** Lines of another room in the log before the server starts. */
const BUSY = 3_000;

/** Guests resuming from the log's start at once. */
const GUESTS = 5;

Deno.test("serveChat() catches guests up with the default room from the log's start without reading another room's lines, and answers another member's /who meanwhile", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir, { exclusive: true });
    const filling = new SqliteLog(store.db, { clock: systemClock, keep: 0 });
    filling.append({ type: "MSG", alias: "amy", text: "hush" }, "1");
    for (let i = 0; i < BUSY; i++) {
      const line = { type: "MSG", alias: "amy", text: `b${i}` } as const;
      filling.append(line, "1", { room: "#busy" });
    }
    await filling.close();
    await using s = await startServer("node", ["--history", "5"], { store });
    using probe = jsonProbe();
    probe.watch(store.db);
    using bob = await TestClient.join(s.port, "bob");
    const guests = await Promise.all(
      Array.from({ length: GUESTS }, async (_, i) => {
        const guest = await TestClient.connect(s.port);
        const hello = await guest.expect(/^HELLO /);
        const epoch = /,epoch=([\w-]+)/.exec(hello)![1]!;
        await guest.send("/cap rooms resume");
        await guest.expect(/^CAP rooms seq resume$/);
        await guest.send(`/resume ${epoch} #lobby=0`);
        await guest.send(`guest${i}`);
        return guest;
      }),
    );
    await bob.send("/who");
    await bob.expect(/^WHO \d+ /);
    for (const guest of guests) {
      const resumed = await guest.expect(/^#lobby RESUMED /);
      // hush, then bob's JOIN (and the guests' before its own).
      assert.match(resumed, /^#lobby RESUMED \d+ 0 Resumed: \d+ lines/);
      assert.ok(guest.received.some((l) => / #lobby MSG amy hush$/.test(l)));
      guest.server.close();
    }
    // On main: 60,025 (each catch-up looked into every #busy line, 4 times).
    assert.ok(
      probe.read < 100,
      `${probe.read} stored lines looked into for ${GUESTS} catch-ups`,
    );
  });
});
