/**
 * A cluster's room log files at start (`RedisLog.open`, from the stream's
 * newest entries) what its reader files as it hands events on: a log that
 * opens after the events answers each room's catch-up as the log that
 * handed them on does, unreadable entries (skipped by both) included.
 * Real Redis.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger } from "../../../lib/log.ts";
import { Cluster } from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { RedisLog } from "../../../lib/server/cluster/redis_log.ts";
import type { RoomEvent } from "../../../lib/server/room/room_log.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { LineLog, withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";

const DEFAULTS = parseServerArgs([]);

/** What `log`'s catch-up of `room` from the start gives, at most `limit`. */
async function catchUp(log: RedisLog, room: string, limit: number) {
  const defaultRoom = room === DEFAULTS.defaultRoom;
  const range = await log.since(room, 0, { limit, defaultRoom });
  return {
    seqs: range.events.map((event) => event.seq),
    kinds: range.events.map((event) =>
      [event.line.type, (event.line as { text?: string }).text ?? ""]
        .join(" ").trim()
    ),
    over: range.over,
    overRoomsOnly: range.overRoomsOnly,
    gap: range.gap,
  };
}

Deno.test("RedisLog.open() files the stream's events under each room as its reader files them when it hands them on (catch-ups answered alike), and none it cannot read", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const logged = new LineLog();
    const log = createLogger("error", (line) => logged.push(line));
    const link = await RedisLink.open({
      ...DEFAULTS,
      url: redis.url(),
      cluster: "t",
      streamEntries: 1000,
      log,
    });
    const cluster = new Cluster(link, { ...DEFAULTS, clock: systemClock, log });
    await cluster.start(() => {});
    const options = { ...DEFAULTS, clock: systemClock, keep: 3, log };
    const live = await RedisLog.open(link, options);
    try {
      const amy = {
        id: `${cluster.server}/1`,
        alias: "amy",
        account: null,
        host: "127.0.0.1",
        operator: false,
      };
      await cluster.claim(amy, "amy", null, false);
      const rooms = JSON.stringify(["#lobby", "#a", "#b"]);
      await link.command(["HSET", link.keys.roomMembers, amy.id, rooms]);
      const seen: RoomEvent[] = [];
      let waiting = Promise.withResolvers<void>();
      let text = "";
      live.subscribe((event) => {
        seen.push(event);
        const said = event.line as { text?: string };
        if (said.text === text) waiting.resolve();
      }, (_, outcome) => waiting.reject(new Error(`refused: ${outcome}`)));
      /** Appends MSG `text` to `room` and waits for it to be handed on. */
      let alias = "amy";
      const say = (said: string, room?: string) => {
        waiting = Promise.withResolvers<void>();
        text = said;
        live.append({ type: "MSG", alias, text }, amy.id, { room });
        return waiting.promise;
      };
      /** Stores an entry as no script of ours would: unreadable, or not. */
      const store = async (...fields: string[]) => {
        const seq = await link.command(["INCR", link.keys.seq]);
        await link.command(["XADD", link.keys.events, `${seq}-0`, ...fields]);
      };
      const time = String(Date.now());
      await say("one");
      await say("two", "#a");
      live.append(
        { type: "MOD", action: "op", alias: "bob", by: "amy", text: "" },
        amy.id,
        { room: "#a" },
      );
      await live.settled();
      await store("t", time, "o", "x/1", "l", "{"); // not JSON
      await store("t", time, "l", '{"type":"MSG","alias":"amy","text":"r"}');
      await store("t", time, "l", '{"type":"MSG","alias":"x"}', "r", "#a");
      await store("t", "x", "l", '{"type":"MSG","alias":"x","text":"t"}');
      await store(
        "t",
        time,
        "l",
        '{"type":"MSG","alias":"x","text":"z"}',
        "r",
        "a",
      );
      await say("three", "#b");
      await cluster.claim({ ...amy, alias: "ann" }, "ann", "amy", false);
      alias = "ann";
      await say("four", "#a");
      assert.equal(
        logged.lines.filter((l) => /history-unreadable/.test(l)).length,
        4,
      );
      const unreadable = logged.lines.filter((l) =>
        /history-unreadable/.test(l)
      );
      assert.equal(unreadable.length, 4);
      const reopened = await RedisLog.open(link, options);
      try {
        const a = await catchUp(live, "#a", 100);
        assert.deepEqual(a.kinds, ["MSG two", "MOD", "NICK", "MSG four"]);
        for (const room of ["#lobby", "#a", "#b", "#c"]) {
          for (const limit of [1, 100]) {
            assert.deepEqual(
              await catchUp(reopened, room, limit),
              await catchUp(live, room, limit),
              `${room}, ${limit}`,
            );
          }
        }
      } finally {
        await reopened.close();
      }
      assert.equal(seen.filter((e) => e.line.type === "MSG").length, 5);
    } finally {
      await live.close();
      await cluster.stop();
      await link.close();
    }
  });
});
