/**
 * The format of a cluster's state in Redis: a server refuses a format it
 * does not know, waits for the previous release's servers to stop before
 * it takes over their state, and reads their stream (a note where an
 * effect now is) as the effects it meant. Real Redis.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger } from "../../../lib/log.ts";
import { SCRIPT_KEYS, STATE_FORMAT } from "../../../lib/server/cluster/keys.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { RedisLog } from "../../../lib/server/cluster/redis_log.ts";
import type { RoomEvent } from "../../../lib/server/room/room_log.ts";
import { LineLog, withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";

/** The server's defaults, for the cluster's limits (under the config's names). */
const DEFAULTS = parseServerArgs([]);

const log = createLogger("error", () => {});

function open(redis: Redis): Promise<RedisLink> {
  return RedisLink.open({
    ...DEFAULTS,
    url: redis.url(),
    cluster: "t",
    streamEntries: 1000,
    log,
  });
}

/** Appends one stream entry as an earlier release wrote it; returns its number. */
async function addOldEntry(
  { command, keys }: {
    command: (args: string[]) => Promise<unknown>;
    keys: { readonly seq: string; readonly events: string };
  },
  origin: string,
  line: string,
  fields: string[] = [],
): Promise<string> {
  const seq = String(await command(["INCR", keys.seq]));
  await command([
    "XADD",
    keys.events,
    `${seq}-0`,
    "t",
    "0",
    "o",
    origin,
    "l",
    line,
    ...fields,
  ]);
  return seq;
}

Deno.test("RedisLink.open() refuses a cluster whose state has a format it does not know", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const first = await open(redis);
    try {
      const format = await first.command(["GET", first.keys.format]);
      assert.equal(format, STATE_FORMAT, "a new state gets this format");
      const newer = String(Number(STATE_FORMAT) + 1);
      await first.command(["SET", first.keys.format, newer]);
      await assert.rejects(open(redis), {
        name: "StateFormatError",
        message: new RegExp(
          `^Cannot join cluster "t": its state in Redis has format "${newer}", which this release does not know`,
        ),
      });
      assert.equal(
        await first.command(["GET", first.keys.format]),
        newer,
        "nothing was changed",
      );
    } finally {
      await first.close();
    }
  });
});

Deno.test("RedisLink.open() takes over the previous release's state once none of its servers runs, and RedisLog reads its notes as effects", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const setup = await open(redis);
    const { keys } = setup;
    const command = (args: string[]) => setup.command(args);
    // As the previous release left it: no format key, one live server.
    await command(["DEL", keys.format]);
    await command(["ZADD", keys.servers, String(Date.now() + 60_000), "old"]);
    await assert.rejects(open(redis), {
      name: "StateFormatError",
      message:
        /servers of an earlier release \(state format 1\) are running in it; stop them all/,
    });
    assert.equal(await command(["GET", keys.format]), null);
    // Its server stopped (it removes itself): the state is taken over.
    await command(["ZREM", keys.servers, "old"]);
    const link = await open(redis);
    const logged = new LineLog();
    const roomLog = await RedisLog.open(link, {
      ...DEFAULTS,
      clock: systemClock,
      keep: 10,
      log: createLogger("error", (line) => logged.push(line)),
    });
    try {
      assert.equal(await command(["GET", keys.format]), STATE_FORMAT);
      const seen: RoomEvent[] = [];
      const three = Promise.withResolvers<void>();
      roomLog.subscribe((event) => {
        seen.push(event);
        if (seen.length === 3) three.resolve();
      });
      // Entries as the previous release wrote them (a note, `n`).
      const sanctions = [{
        type: "mute",
        kind: "account",
        target: "bob",
        label: "bob",
        until: null,
        by: "opal",
        reason: "",
      }];
      const old = [
        { type: "MOD", action: "mute", alias: "bob", by: "opal", text: "" },
        { type: "TOPIC", alias: "opal", text: "Old" },
        {
          type: "LEAVE",
          alias: "amy",
          online: "0",
          reason: "kicked",
          text: "",
        },
      ];
      const notes = [
        JSON.stringify(sanctions),
        JSON.stringify({ text: "Old", by: "opal" }),
        "Kicked by opal",
      ];
      for (const [i, line] of old.entries()) {
        await addOldEntry(
          { command, keys },
          "old/1",
          JSON.stringify(line),
          ["n", notes[i]!],
        );
      }
      // And one this release cannot read: skipped, and logged.
      const seq = await addOldEntry(
        { command, keys },
        "new/1",
        JSON.stringify(old[1]),
        ["e", "confetti", "v", "[]"],
      );
      await three.promise;
      await logged.waitFor(new RegExp(`history-unreadable seq=${seq} `));
      assert.equal(seen.length, 3);
      assert.deepEqual(seen.map((event) => event.effect), [
        { kind: "sanctions", sanctions },
        // Set at the time of its entry (a note kept none).
        {
          kind: "topic",
          topic: { text: "Old", by: "opal", at: seen[1]!.time },
        },
        { kind: "bye", text: "Kicked by opal" },
      ]);
    } finally {
      await roomLog.close();
      await link.close();
      await setup.close();
    }
  });
});

Deno.test("the release before rooms (format 2) refuses this format; this one waits for its servers to stop, then reads its stream as the default room's", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const setup = await open(redis);
    const { keys } = setup;
    const command = (args: string[]) => setup.command(args);
    const epoch = await command(["GET", keys.epoch]);
    // That release's epoch script, as it ran (its 15 keys), finds format 3
    // and changes nothing; that release then refuses it (`format !==
    // STATE_FORMAT`).
    const older = await Deno.readTextFile(
      new URL("../../fixtures/format2_new_epoch.lua", import.meta.url),
    );
    const fixed = SCRIPT_KEYS.slice(0, 15).map((key) => keys[key]);
    assert.deepEqual(
      await command([
        "EVAL",
        older,
        "15",
        ...fixed,
        keys.serverMembers("*"),
        "",
        "another",
        "0",
        "2",
      ]),
      [epoch, STATE_FORMAT],
    );
    assert.equal(await command(["GET", keys.format]), STATE_FORMAT);
    assert.equal(await command(["GET", keys.epoch]), epoch);
    // State that release left, one of its servers still beating.
    await command(["SET", keys.format, "2"]);
    await command(["ZADD", keys.servers, String(Date.now() + 60_000), "old"]);
    await assert.rejects(open(redis), {
      name: "StateFormatError",
      message:
        /servers of an earlier release \(state format 2\) are running in it; stop them all/,
    });
    assert.equal(await command(["GET", keys.format]), "2");
    const said = { type: "MSG", alias: "amy", text: "before rooms" };
    await addOldEntry({ command, keys }, "old/1", JSON.stringify(said));
    await command(["ZREM", keys.servers, "old"]);
    const link = await open(redis);
    const roomLog = await RedisLog.open(link, {
      ...DEFAULTS,
      clock: systemClock,
      keep: 10,
      log,
    });
    try {
      assert.equal(await command(["GET", keys.format]), STATE_FORMAT);
      const seen = Promise.withResolvers<RoomEvent>();
      roomLog.subscribe((event) => seen.resolve(event));
      // A line of that release, read after the snapshot: no room field.
      const next = await addOldEntry(
        { command, keys },
        "old/1",
        JSON.stringify(said),
      );
      const event = await seen.promise;
      assert.deepEqual([event.seq, event.room, event.line], [
        Number(next),
        undefined,
        said,
      ]);
    } finally {
      await roomLog.close();
      await link.close();
      await setup.close();
    }
  });
});
