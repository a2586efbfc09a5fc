/**
 * A cluster index catching up from the stream (`catchUpIndex`): batches
 * of at most `count` entries, messages and actions only, progress recorded
 * after each batch, what the stream no longer held counted as missed, and
 * a stop (closing, a new epoch, the worker gone) leaves the rest for the
 * next start. The worker of a cluster's index opened again in its epoch
 * says from where it lacks lines, recorded before any line is written.
 */

import assert from "node:assert/strict";
import {
  catchUpIndex,
  type CatchUpOptions,
} from "../../../lib/server/cluster/search_catch_up.ts";
import type { StreamEntry } from "../../../lib/server/cluster/stream_entry.ts";
import {
  type IndexedLine,
  SEARCH_FILE,
  SearchIndex,
} from "../../../lib/server/storage/search_index.ts";
import { systemClock } from "../../../lib/clock.ts";
import type { RoomEvent } from "../../../lib/server/room/room_log.ts";
import { withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";
import { join } from "node:path";
import { createLogger } from "../../../lib/log.ts";
import { Cluster } from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { RedisLog } from "../../../lib/server/cluster/redis_log.ts";
import { IndexSearch } from "../../../lib/server/storage/indexer.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import {
  lineSign,
  newLineId,
  type RoomLine,
} from "../../../lib/server/room/room_log.ts";

const DEFAULTS = parseServerArgs([]);

/** Entry `seq`: a message in #lobby, or (every third) a nick change. */
function entry(seq: number): StreamEntry {
  const line = seq % 3 === 0
    ? { type: "NICK", alias: "bob", newAlias: `bob${seq}`, online: "1" }
    : { type: seq % 3 === 1 ? "MSG" : "ME", alias: "alice", text: `w${seq}` };
  const room = seq % 3 === 0 ? [] : ["r", "#lobby"];
  return [`${seq}-0`, [
    "t",
    `${seq}`,
    "o",
    "s/1",
    "l",
    JSON.stringify(line),
    ...room,
  ]];
}

/** A stream holding `oldest`..`newest`, and the reads asked of it. */
function stream(oldest: number, newest: number) {
  const reads: [number, number, number][] = [];
  const read: CatchUpOptions["read"] = (from, through, count) => {
    reads.push([from, through, count]);
    const entries: StreamEntry[] = [];
    for (
      let seq = Math.max(from, oldest);
      seq <= Math.min(through, newest);
      seq++
    ) {
      if (entries.length < count) entries.push(entry(seq));
    }
    return Promise.resolve(entries);
  };
  return { read, reads };
}

/** An index that records what it is posted; `answers` its `caughtUp`s. */
function index(answers: boolean[] = []) {
  const posted: (number[] | ["caughtUp", number | null])[] = [];
  return {
    posted,
    add(events: readonly RoomEvent[]) {
      posted.push(events.map((event) => event.seq));
    },
    caughtUp(rest: number | null) {
      posted.push(["caughtUp", rest]);
      return Promise.resolve(answers.shift() ?? true);
    },
  };
}

Deno.test("catchUpIndex() posts the messages and actions from..through in batches of count, recording how far it got after each", async () => {
  const { read, reads } = stream(1, 20);
  const to = index();
  const did = await catchUpIndex(to, {
    from: 4,
    through: 10,
    count: 3,
    read,
    stopped: () => false,
  });
  assert.deepEqual(did, { indexed: 5, missed: 0, done: true });
  assert.deepEqual(reads, [[4, 10, 3], [7, 10, 3], [10, 10, 3]]);
  assert.deepEqual(to.posted, [
    [4, 5],
    ["caughtUp", 7],
    [7, 8],
    ["caughtUp", 10],
    [10],
    ["caughtUp", null],
  ]);
  const nothing = index();
  assert.deepEqual(
    await catchUpIndex(nothing, {
      from: 11,
      through: 10,
      count: 3,
      read,
      stopped: () => false,
    }),
    { indexed: 0, missed: 0, done: true },
  );
  assert.deepEqual(nothing.posted, []);
});

Deno.test("catchUpIndex() counts as missed what the stream no longer holds, and goes on with what it holds", async () => {
  const trimmed = index();
  const did = await catchUpIndex(trimmed, {
    from: 2,
    through: 8,
    count: 100,
    ...stream(6, 20),
    stopped: () => false,
  });
  assert.deepEqual(did, { indexed: 2, missed: 4, done: true });
  assert.deepEqual(trimmed.posted, [[7, 8], ["caughtUp", null]]);
  const gone = index();
  assert.deepEqual(
    await catchUpIndex(gone, {
      from: 2,
      through: 8,
      count: 100,
      ...stream(30, 40),
      stopped: () => false,
    }),
    { indexed: 0, missed: 7, done: true },
  );
  assert.deepEqual(gone.posted, [[], ["caughtUp", null]]);
});

Deno.test("catchUpIndex() stops when told to, or when the index could not record its progress: the rest is left recorded for the next start", async () => {
  let stop = false;
  const { read, reads } = stream(1, 20);
  const stopping = index();
  const did = await catchUpIndex(stopping, {
    from: 1,
    through: 20,
    count: 5,
    read: (from, through, count) => {
      stop = from > 1;
      return read(from, through, count);
    },
    stopped: () => stop,
  });
  assert.deepEqual(did, { indexed: 4, missed: 0, done: false });
  assert.deepEqual(reads.length, 2);
  assert.deepEqual(stopping.posted, [[1, 2, 4, 5], ["caughtUp", 6]]);
  const failing = index([true, false]);
  assert.deepEqual(
    await catchUpIndex(failing, {
      from: 1,
      through: 20,
      count: 5,
      ...stream(1, 20),
      stopped: () => false,
    }),
    { indexed: 7, missed: 0, done: false },
  );
  assert.equal(failing.posted.length, 4);
});

Deno.test("a cluster's index opened again in its epoch says it lacks what followed its last line, until told it caught up; a new file or one of another epoch lacks everything from 1 (what the stream holds is taken back)", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, SEARCH_FILE);
    const open = async (epoch = "e1") => {
      const index = new SearchIndex({
        path,
        chat: null,
        epoch: () => epoch,
        clock: systemClock,
      });
      const { behind, last } = await index.opened;
      return { index, behind, last };
    };
    const first = await open();
    assert.deepEqual([first.behind, first.last], [1, 0]);
    assert.equal(await first.index.caughtUp(null), true);
    first.index.add([line(1), line(2)]);
    await first.index.close();
    const again = await open();
    assert.deepEqual([again.behind, again.last], [3, 2]);
    again.index.add([line(9)]); // a line read live
    assert.equal(await again.index.caughtUp(5), true);
    await again.index.close();
    const midway = await open(); // a kill while catching up: from 5
    assert.deepEqual([midway.behind, midway.last], [5, 9]);
    assert.equal(await midway.index.caughtUp(null), true);
    await midway.index.close();
    const done = await open(); // what followed its last line, 9, again
    assert.deepEqual([done.behind, done.last], [10, 9]);
    await done.index.close();
    const other = await open("e2");
    assert.deepEqual([other.behind, other.last], [1, 0]);
    await other.index.close();
  });
});

function line(seq: number): IndexedLine {
  return { seq, time: seq, room: "", kind: "MSG", alias: "amy", text: "w" };
}

/** Appends `texts` as messages of `origin` (alias `alias`), in one call. */
function say(
  link: RedisLink,
  origin: string,
  alias: string,
  texts: readonly string[],
): Promise<unknown> {
  const args = ["100000"];
  for (const text of texts) {
    const line: RoomLine = { type: "MSG", alias, text };
    args.push(String(Date.now()), origin, alias, JSON.stringify(line), "", "");
    args.push(newLineId(), lineSign(line), "tag", "", "MSG", "");
  }
  return link.run("append", args);
}

Deno.test("a cluster server counted lost, its reader going on after the rooms' snapshot, has its index take back from the stream what the reader skipped", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const lines: string[] = [];
    const caughtUp = Promise.withResolvers<void>();
    const log = createLogger("info", (line) => {
      lines.push(line);
      if (/search-caught-up .*after=lost/.test(line)) caughtUp.resolve();
    });
    const options = { ...DEFAULTS, clock: systemClock, log };
    const link = await RedisLink.open({
      ...options,
      url: redis.url(),
      cluster: "t",
      history: 10,
      streamEntries: 100_000,
    });
    const cluster = new Cluster(link, options);
    await cluster.start(() => {});
    // One entry per read: the reader lags far behind what is appended.
    const roomLog = await RedisLog.open(link, {
      ...options,
      keep: 10,
      redisReadCount: 1,
    });
    const search = new IndexSearch({
      clock: systemClock,
      epoch: () => link.epoch,
      path: join(dir, SEARCH_FILE),
      chat: null,
    });
    roomLog.subscribe((event) => search.heard(event));
    roomLog.catchUpSearch(search);
    try {
      const amy = `${cluster.server}/1`;
      await cluster.claim(
        { id: amy, alias: "amy", account: null, host: "::1", operator: false },
        "amy",
        null,
        false,
      );
      const texts = Array.from({ length: 300 }, (_, i) => `skipped ${i}`);
      await say(link, amy, "amy", texts);
      await roomLog.roomsNow(); // as when its heartbeat found it lost
      await say(link, amy, "amy", ["skipped after"]);
      const timeout = AbortSignal.timeout(10_000);
      const told = await Promise.race([
        caughtUp.promise.then(() => true),
        new Promise<false>((resolve) =>
          timeout.addEventListener("abort", () => resolve(false))
        ),
      ]);
      const found = await search.find(["skipped"], [""], 500);
      assert.equal(found.length, 301, lines.join("\n"));
      assert.ok(told, "search-caught-up after=lost is logged");
    } finally {
      await roomLog.close();
      await search.close();
      await cluster.stop();
      await link.close();
    }
  });
});
