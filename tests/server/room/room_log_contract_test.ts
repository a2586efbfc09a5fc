/**
 * The room log contract: one suite of behaviour run against every
 * `RoomLog` (`MemoryLog`; `SqliteLog` on a real data directory; `RedisLog`
 * on a real `redis-server`), so that a new backend is proved by the same
 * tests. Order and numbering, typed effects read back as they were
 * appended, what `recent()` keeps, what a restart keeps, and ids (a line
 * stored once per id). What only one backend does (retention, a full disk,
 * a Redis that stops answering) is tested with that backend.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger } from "../../../lib/log.ts";
import type { SharedSanction } from "../../../lib/server/access/moderation.ts";
import { Cluster } from "../../../lib/server/cluster/cluster.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { RedisLog } from "../../../lib/server/cluster/redis_log.ts";
import {
  type StreamEntry,
  streamEvent,
} from "../../../lib/server/cluster/stream_entry.ts";
import {
  type RoomEvent,
  type RoomLine,
  type RoomLog,
} from "../../../lib/server/room/room_log.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { newRoomRecord } from "../../../lib/server/room/room_record.ts";
import { eachEvent } from "../../../lib/server/storage/events_table.ts";
import { journalEvents } from "../../../lib/server/storage/journal.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import { openStore, type Store } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";
import { withTempDir } from "../../_helpers.ts";
import { Redis } from "../../_redis.ts";
import { jsonProbe } from "../storage/_json_probe.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";

/** The server's defaults, for the cluster's limits (under the config's names). */
const DEFAULTS = parseServerArgs([]);

/** Messages and actions every log of the suite keeps at hand. */
const KEEP = 3;

const ID_A = "AAAAAAAAAAAAAAAAAAAAAA";
const ID_B = "BBBBBBBBBBBBBBBBBBBBBB";
const ID_C = "CCCCCCCCCCCCCCCCCCCCCC";
const ID_D = "DDDDDDDDDDDDDDDDDDDDDD";

/** A kind of log, opened on storage that lasts for one test. */
interface LogKit {
  /** Opens the log (again, on the same storage), keeping {@linkcode KEEP}. */
  open(): Promise<RoomLog>;
  /** Who appends (a member the log counts in the room), as alias "amy". */
  readonly origin: string;
  /** Whether what it stored survives a reopen (a restart). */
  readonly durable: boolean;
  /** The events it stored, read back from its storage (durable logs). */
  stored?(): Promise<readonly RoomEvent[]>;
  /**
   * How many stored lines its storage has read so far (SQLite: lines whose
   * JSON a query looked into; Redis: stream entries sent back); absent: a
   * log in memory, which reads no storage.
   */
  linesRead?(): number;
  /**
   * Puts the origin in `rooms` as the log knows, without an event (a
   * cluster refuses a message in a room from a member not in it).
   */
  inRooms?(rooms: readonly string[]): Promise<void>;
  /**
   * The origin's renames and its leaving the server, as its server does
   * them (a cluster: by its scripts, handed on later); `enter` puts it in
   * the default room first (a cluster's claim did already).
   */
  readonly server: {
    enter(log: RoomLog): Promise<void>;
    rename(log: RoomLog, from: string, to: string): Promise<void>;
    leave(log: RoomLog, alias: string): Promise<void>;
  };
  /**
   * Opens the log so that it holds only its newest `keep` events once
   * `trim` ran (retention, a ring, a trimmed stream), remembering at most
   * `tombstones` of those it no longer holds; `counts`: whether it can
   * tell how many of a room's those were.
   */
  trimming(keep: number, tombstones: number): Promise<{
    log: RoomLog;
    trim(): Promise<void>;
    counts: boolean;
  }>;
}

/** Renames and leaves of a log of one server: the room appends them. */
const ONE_SERVER = (origin: string): LogKit["server"] => ({
  enter: (log) => {
    log.append({ type: "JOIN", alias: "amy", online: "1" }, origin);
    return settledLog(log);
  },
  rename: (log, from, to) => {
    log.append(
      { type: "NICK", alias: from, newAlias: to, online: "1" },
      origin,
    );
    return settledLog(log);
  },
  leave: (log, alias) => {
    log.append({
      type: "LEAVE",
      alias,
      online: "0",
      reason: "quit",
      text: "",
    }, origin);
    return settledLog(log);
  },
});

/** Runs a test body with a kit on fresh storage, and cleans up. */
type WithKit = (body: (kit: LogKit) => Promise<void>) => Promise<void>;

const withMemoryLog: WithKit = (body) =>
  body({
    open: () => Promise.resolve(new MemoryLog(new FakeClock(), KEEP)),
    origin: "1",
    durable: false,
    server: ONE_SERVER("1"),
    trimming: (keep, tombstones) =>
      Promise.resolve({
        log: new MemoryLog(new FakeClock(), KEEP, {
          catchUp: keep,
          tombstones,
        }),
        trim: () => Promise.resolve(),
        counts: true,
      }),
  });

/**
 * The log in SQLite in a data directory, committing each turn, or with
 * the server's journal (the database takes lines later; what it stored is
 * read back as the `history` tool reads it: the journal, then the
 * database).
 */
const withSqliteLog = (journal: boolean): WithKit => (body) =>
  withTempDir(async (dir) => {
    const clock = new FakeClock();
    let store: Store | null = null;
    const probe = jsonProbe();
    try {
      await body({
        linesRead: () => probe.read,
        open: () => {
          store?.close(); // a log not closed first: killed
          store = openStore(dir, { exclusive: true });
          probe.watch(store.db);
          const options = {
            clock,
            keep: KEEP,
            journal: journal ? store.journal : null,
          };
          return Promise.resolve(new SqliteLog(store.db, options));
        },
        origin: "1",
        durable: true,
        server: ONE_SERVER("1"),
        trimming: (keep, tombstones) => {
          store?.close();
          store = openStore(dir, { exclusive: true });
          probe.watch(store.db);
          const retention = new Retention(store.db, {
            clock,
            keepDays: 0,
            keepRows: keep, // messages only in the test
            tombstones,
          });
          const log = new SqliteLog(store.db, {
            clock,
            keep: KEEP,
            journal: journal ? store.journal : null,
            retention,
          });
          const trim = async () => {
            await settledLog(log);
            retention.start();
            retention.stop();
          };
          return Promise.resolve({ log, trim, counts: true });
        },
        stored: () => {
          const newest = journalEvents(dir);
          const stored = [...eachEvent(store!.db, {})];
          const last = stored.at(-1)?.seq ?? 0;
          return Promise.resolve([
            ...stored,
            ...newest.filter((event) => event.seq > last),
          ]);
        },
      });
    } finally {
      (store as Store | null)?.close();
      probe.close();
    }
  });

const withRedisLog: WithKit = (body) =>
  withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const log = createLogger("error", () => {});
    const link = await RedisLink.open({
      ...DEFAULTS,
      url: redis.url(),
      cluster: "t",
      streamEntries: 1000,
      log,
    });
    const entries = streamProbe(link);
    const cluster = new Cluster(link, { ...DEFAULTS, clock: systemClock, log });
    await cluster.start(() => {});
    try {
      // Only a member that holds its alias may speak.
      const amy = {
        id: `${cluster.server}/1`,
        alias: "amy",
        account: null,
        host: "127.0.0.1",
        operator: false,
      };
      await cluster.claim(amy, "amy", null, false);
      let opened: RedisLog[] = [];
      const open = async () => {
        const roomLog = await RedisLog.open(link, {
          ...DEFAULTS,
          clock: systemClock,
          keep: KEEP,
          log,
        });
        opened.push(roomLog);
        return roomLog;
      };
      await body({
        open,
        origin: amy.id,
        durable: true,
        server: {
          enter: () => Promise.resolve(), // claimed above
          rename: async (_, from, to) => {
            await cluster.claim({ ...amy, alias: to }, to, from, false);
          },
          leave: async () => {
            await cluster.remove(amy.id, "quit", "");
          },
        },
        trimming: async (keep) => ({
          log: await open(),
          trim: async () => {
            await link.command([
              "XTRIM",
              link.keys.events,
              "MAXLEN",
              `${keep}`,
            ]);
          },
          counts: false,
        }),
        stored: () => readStream(link),
        linesRead: () => entries.read,
        // As its scripts keep it (no JOIN, no number): its rooms'
        // messages are refused from a member not in them.
        inRooms: async (rooms) => {
          const list = JSON.stringify(["#lobby", ...rooms]);
          await link.command(["HSET", link.keys.roomMembers, amy.id, list]);
        },
      });
      await Promise.all(opened.map((roomLog) => roomLog.close()));
      opened = [];
    } finally {
      await cluster.stop();
      await link.close();
    }
  });

/** Counts the stream entries `XRANGE` and `XREVRANGE` send back on `link`. */
function streamProbe(link: RedisLink): { readonly read: number } {
  const probe = { read: 0 };
  const command = link.command.bind(link);
  link.command = async (args) => {
    const reply = await command(args);
    if (/^XREV?RANGE$/i.test(args[0] ?? "") && Array.isArray(reply)) {
      probe.read += reply.length;
    }
    return reply;
  };
  return probe;
}

/** Every event in the stream, read as the log reads it. */
async function readStream(link: RedisLink): Promise<readonly RoomEvent[]> {
  const entries = await link.command(["XRANGE", link.keys.events, "-", "+"]);
  return (entries as StreamEntry[]).map(streamEvent).filter((e) => e !== null);
}

const LOGS: [string, WithKit][] = [
  ["MemoryLog", withMemoryLog],
  ["SqliteLog", withSqliteLog(false)],
  ["SqliteLog with a journal", withSqliteLog(true)],
  ["RedisLog", withRedisLog],
];

/** One behaviour of the contract, run on every log. */
function contract(title: string, run: (kit: LogKit) => Promise<void>): void {
  for (const [name, withKit] of LOGS) {
    Deno.test(`${name} ${title} (the log contract)`, () => withKit(run));
  }
}

/** Waits until what was appended is handed on or reported. */
async function settledLog(log: RoomLog): Promise<void> {
  while (log.settled() !== undefined) await log.settled();
}

/**
 * What a log hands on, in order, and a wait until what it handed on
 * passes a test.
 */
function recorder(log: RoomLog) {
  const seen: RoomEvent[] = [];
  let waiting: { test: () => boolean; resolve: () => void } | undefined;
  log.subscribe((event) => {
    seen.push(event);
    if (waiting?.test()) waiting.resolve();
  });
  const until = (test: () => boolean) =>
    test() ? Promise.resolve() : new Promise<void>((resolve) => {
      waiting = { test, resolve };
    });
  /** Waits until `count` events of `type` were handed on. */
  const count = (type: string, count: number) =>
    until(() => seen.filter((e) => e.line.type === type).length >= count);
  return { seen, count };
}

/** What a log hands on, in order. */
function handedOn(log: RoomLog): RoomEvent[] {
  const seen: RoomEvent[] = [];
  log.subscribe((event) => seen.push(event));
  return seen;
}

/**
 * What a log hands on and reports, in order: `TEXT` for a line handed on
 * (with its id), `OUTCOME TEXT ID ORIGIN` for one reported.
 */
function timeline(log: RoomLog) {
  const seen: string[] = [];
  const ids = new Map<string, string | undefined>();
  log.subscribe(
    (event) => {
      if (event.line.type !== "MSG") return;
      seen.push(event.line.text);
      ids.set(event.line.text, event.id);
    },
    (lines, outcome) => {
      for (const { line, id, origin } of lines) {
        seen.push(
          `${outcome} ${(line as { text: string }).text} ${id} ${origin}`,
        );
      }
    },
  );
  return { seen, ids };
}

const msg = (text: string): RoomLine => ({ type: "MSG", alias: "amy", text });

function texts(events: readonly RoomEvent[]): string[] {
  return events.map((e) => ("text" in e.line ? e.line.text : e.line.type));
}

contract(
  "numbers lines with no gaps and hands them on in the order appended",
  async (kit) => {
    const log = await kit.open();
    const seen = handedOn(log);
    log.append(msg("one"), kit.origin);
    log.append({ type: "ME", alias: "amy", text: "two" }, kit.origin);
    await settledLog(log);
    log.append(msg("three"), kit.origin);
    log.append({ type: "TOPIC", alias: "amy", text: "four" }, kit.origin);
    await settledLog(log);
    const ours = seen.filter((e) => e.origin === kit.origin);
    assert.deepEqual(texts(ours), ["one", "two", "three", "four"]);
    const seqs = seen.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), "no gaps");
    for (const event of ours) assert.ok(Number.isFinite(event.time));
    await log.close();
  },
);

const SANCTIONS: readonly SharedSanction[] = [{
  type: "mute",
  kind: "account",
  target: "bob",
  label: "bob",
  until: null,
  by: "amy",
  reason: "quiet",
}, {
  type: "ban",
  kind: "address",
  target: "203.0.113.0/24",
  label: "203.0.113.0/24",
  until: 1_800_000_000_000,
  by: "amy",
  reason: "",
  // When it was set: kept (the mute above, an earlier release's, has none).
  at: 1_700_000_000_250,
}];

/** A topic and when it was set (not its event's time: kept as set). */
const TOPIC = { text: "Hi", by: "amy", at: 1_700_000_000_500 };

contract(
  "hands on and stores each event's effect as it was appended, typed",
  async (kit) => {
    const log = await kit.open();
    const seen = handedOn(log);
    log.append({ type: "TOPIC", alias: "amy", text: "Hi" }, kit.origin, {
      effect: { kind: "topic", topic: TOPIC },
    });
    const mute = {
      type: "MOD",
      action: "mute",
      alias: "bob",
      by: "amy",
      text: "quiet",
    } as const;
    log.append(mute, kit.origin, {
      effect: { kind: "sanctions", sanctions: SANCTIONS },
    });
    log.append({ ...mute, action: "unmute" }, kit.origin, {
      effect: { kind: "sanctions", sanctions: [] },
    });
    log.append(msg("plain"), kit.origin);
    await settledLog(log);
    const effects = [
      { kind: "topic", topic: TOPIC },
      { kind: "sanctions", sanctions: SANCTIONS },
      { kind: "sanctions", sanctions: [] },
      undefined,
    ];
    const ours = (events: readonly RoomEvent[]) =>
      events.filter((e) => e.line.type !== "JOIN").map((e) => e.effect);
    assert.deepEqual(ours(seen), effects);
    await log.close();
    if (kit.stored) assert.deepEqual(ours(await kit.stored()), effects);
  },
);

contract(
  "hands on and stores the member a MOD names by id (its target) beside its line, as it was appended",
  async (kit) => {
    const log = await kit.open();
    await kit.inRooms?.(["#ops"]);
    const seen = handedOn(log);
    const mute = {
      type: "MOD",
      action: "mute",
      alias: "bob",
      by: "amy",
      text: "quiet",
    } as const;
    log.append(mute, kit.origin, { room: "#ops", target: "s2/7" });
    log.append({ ...mute, action: "unmute" }, kit.origin, { room: "#ops" });
    await settledLog(log);
    const expected = [
      { line: mute, target: "s2/7" },
      { line: { ...mute, action: "unmute" }, target: undefined },
    ];
    const ours = (events: readonly RoomEvent[]) =>
      events.filter((e) => e.line.type === "MOD").map(({ line, target }) => ({
        line,
        target,
      }));
    assert.deepEqual(ours(seen), expected);
    const first = seen.find((e) => e.line.type === "MOD")!;
    const read = await log.since("#ops", first.seq - 1, { limit: 10 });
    assert.deepEqual(ours(read.events), expected);
    await log.close();
    if (kit.stored) assert.deepEqual(ours(await kit.stored()), expected);
  },
);

contract(
  "reads back a topic stored without its time (an earlier release's) as set at its event's time",
  async (kit) => {
    if (!kit.stored) return;
    const log = await kit.open();
    const untimed = { text: "Hi", by: "amy" };
    log.append({ type: "TOPIC", alias: "amy", text: "Hi" }, kit.origin, {
      effect: { kind: "topic", topic: untimed },
    });
    const record = { ...newRoomRecord("#ops"), topic: untimed };
    log.append({ type: "TOPIC", alias: "amy", text: "Hi" }, kit.origin, {
      effect: { kind: "room", record },
      room: "#ops",
    });
    await settledLog(log);
    await log.close();
    const topics = (await kit.stored()).filter((e) => e.line.type === "TOPIC")
      .map((e) => ({
        time: e.time,
        topic: e.effect?.kind === "topic"
          ? e.effect.topic
          : e.effect?.kind === "room"
          ? e.effect.record.topic
          : null,
      }));
    assert.equal(topics.length, 2);
    for (const { time, topic } of topics) {
      assert.deepEqual(topic, { ...untimed, at: time });
    }
  },
);

contract(
  "keeps the last messages and actions at hand, and a durable log keeps them and its numbers across a restart",
  async (kit) => {
    let log = await kit.open();
    let seen = handedOn(log);
    for (const text of ["m1", "m2", "m3", "m4"]) {
      log.append(msg(text), kit.origin);
      log.append({ type: "TOPIC", alias: "amy", text: `t${text}` }, kit.origin);
    }
    await settledLog(log);
    assert.deepEqual(texts(log.recent(10)), ["m2", "m3", "m4"]);
    assert.deepEqual(texts(log.recent(2)), ["m3", "m4"]);
    const top = seen.at(-1)!.seq;
    await log.close();
    log = await kit.open();
    seen = handedOn(log);
    assert.deepEqual(
      texts(log.recent(10)),
      kit.durable ? ["m2", "m3", "m4"] : [],
    );
    log.append(msg("after"), kit.origin);
    await settledLog(log);
    assert.equal(seen.at(-1)!.seq, kit.durable ? top + 1 : 1);
    await log.close();
  },
);

/**
 * An id names one line. The same line again under an id it holds (same
 * kind, alias in any case, and text) is not stored again, and is reported
 * `duplicate` (with its origin and id) after the echo of the line that
 * holds the id; another line under it is not stored either, and is
 * reported `reused`; lines without an id, or with a new one, are stored; a
 * durable log still knows the ids after a restart.
 */
contract("stores each id once, across a restart too", async (kit) => {
  const { origin } = kit;
  const say = (log: RoomLog, text: string, id?: string, alias = "amy") =>
    log.append({ type: "MSG", alias, text }, origin, { id });
  let log = await kit.open();
  let { seen, ids } = timeline(log);
  // One turn: the repeats come in the same batch as their first.
  say(log, "one", ID_A);
  say(log, "two", ID_B);
  say(log, "one", ID_A, "Amy");
  say(log, "not one", ID_A);
  await settledLog(log);
  assert.deepEqual(seen, [
    "one",
    "two",
    `duplicate one ${ID_A} ${origin}`,
    `reused not one ${ID_A} ${origin}`,
  ]);
  assert.equal(ids.get("one"), ID_A, "the event carries its id");
  // Later turns; a line without an id is stored as ever.
  say(log, "two", ID_B);
  await settledLog(log);
  log.append({ type: "ME", alias: "amy", text: "two" }, origin, { id: ID_B });
  await settledLog(log);
  say(log, "three", ID_C);
  say(log, "no id");
  await settledLog(log);
  assert.deepEqual(seen.slice(4).sort(), [
    `duplicate two ${ID_B} ${origin}`,
    "no id",
    `reused two ${ID_B} ${origin}`,
    "three",
  ]);
  assert.deepEqual(seen.filter((l) => !/^(duplicate|reused) /.test(l)), [
    "one",
    "two",
    "three",
    "no id",
  ]);
  if (!kit.durable) return await log.close();
  await log.close();
  log = await kit.open();
  ({ seen } = timeline(log));
  say(log, "one", ID_A);
  say(log, "one after a restart", ID_A);
  say(log, "new after a restart", ID_D);
  await settledLog(log);
  assert.deepEqual(seen.sort(), [
    `duplicate one ${ID_A} ${origin}`,
    "new after a restart",
    `reused one after a restart ${ID_A} ${origin}`,
  ]);
  await log.close();
});

contract(
  "since() gives a room's events after a number, oldest first, the newest that fit the limit and below `before`, and how many more",
  async (kit) => {
    const log = await kit.open();
    await kit.inRooms?.(["#ops"]);
    const seen = handedOn(log);
    const say = (text: string, room?: string) =>
      log.append(msg(text), kit.origin, { room });
    say("d1");
    say("o1", "#ops");
    say("d2", "#lobby"); // the default room, named
    say("o2", "#ops");
    log.append({ type: "TOPIC", alias: "amy", text: "o3" }, kit.origin, {
      room: "#ops",
    });
    say("d3");
    await settledLog(log);
    const first = seen.find((e) => "text" in e.line && e.line.text === "d1")!;
    const base = first.seq - 1;
    const all = await log.since("#ops", base, { limit: 10 });
    assert.deepEqual(texts(all.events), ["o1", "o2", "o3"]);
    assert.equal(all.over, 0);
    assert.equal(all.gap, false);
    const lobby = await log.since("#lobby", base, {
      limit: 10,
      defaultRoom: true,
    });
    assert.deepEqual(texts(lobby.events), ["d1", "d2", "d3"]);
    const newest = await log.since("#ops", base, { limit: 2 });
    assert.deepEqual(texts(newest.events), ["o2", "o3"]);
    assert.equal(newest.over, 1);
    const before = await log.since("#ops", base + 2, {
      limit: 10,
      before: base + 5,
    });
    assert.deepEqual(texts(before.events), ["o2"]);
    const none = await log.since("#ops", base + 6, { limit: 10 });
    assert.deepEqual(none, {
      events: [],
      over: 0,
      overRoomsOnly: 0,
      gap: false,
      lost: { lines: 0, roomsOnly: 0 },
    });
    for (const event of all.events) assert.equal(event.room, "#ops");
    await log.close();
  },
);

contract(
  "since() says how many of the events over the limit only members with rooms see (a room operator's MOD)",
  async (kit) => {
    const log = await kit.open();
    const seen = handedOn(log);
    const mod = (action: "op" | "deop" | "kick") =>
      log.append(
        { type: "MOD", action, alias: "bob", by: "amy", text: "" },
        kit.origin,
      );
    log.append(msg("first"), kit.origin);
    mod("op");
    mod("kick"); // everyone sees it
    log.append(msg("between"), kit.origin);
    mod("deop");
    log.append(msg("newest"), kit.origin);
    await settledLog(log);
    const base = seen[0]!.seq;
    const range = await log.since("#lobby", base, {
      limit: 1,
      defaultRoom: true,
    });
    assert.deepEqual(texts(range.events), ["newest"]);
    assert.deepEqual([range.over, range.overRoomsOnly], [4, 2]);
    await log.close();
  },
);

contract(
  "since() with `fits` keeps the newest events up to the first that takes their size past its bytes; the rest count in over",
  async (kit) => {
    const log = await kit.open();
    const seen = handedOn(log);
    for (let i = 1; i <= 6; i++) log.append(msg(`m${i}`), kit.origin);
    log.append(
      { type: "MOD", action: "op", alias: "bob", by: "amy", text: "" },
      kit.origin,
    );
    log.append(msg("m7"), kit.origin);
    await settledLog(log);
    const base = seen[0]!.seq - 1;
    const since = (bytes: number) =>
      log.since("#lobby", base, {
        limit: 10,
        defaultRoom: true,
        fits: { bytes, size: (e) => e.line.type === "MOD" ? 0 : 100 },
      });
    // m7 (100), the MOD (0), m6 (200), m5 (300): past 250.
    const cut = await since(250);
    assert.deepEqual(texts(cut.events), ["m5", "m6", "", "m7"]); // the MOD: ""
    assert.deepEqual([cut.over, cut.overRoomsOnly], [4, 0]);
    const all = await since(10_000);
    assert.equal(all.events.length, 8);
    assert.equal(all.over, 0);
    const first = await since(0);
    assert.deepEqual(texts(first.events), ["m7"]);
    assert.deepEqual([first.over, first.overRoomsOnly], [7, 1]);
    await log.close();
  },
);

contract(
  "has an epoch (1 to 32 of A-Z a-z 0-9 _ -) that a durable log keeps across a restart and a log in memory does not",
  async (kit) => {
    let log = await kit.open();
    const epoch = log.epoch;
    assert.match(epoch, /^[A-Za-z0-9_-]{1,32}$/);
    log.append(msg("one"), kit.origin);
    await settledLog(log);
    await log.close();
    log = await kit.open();
    if (kit.durable) assert.equal(log.epoch, epoch);
    else assert.notEqual(log.epoch, epoch);
    const range = await log.since("#lobby", 0, {
      limit: 10,
      defaultRoom: true,
    });
    const said = range.events.filter((e) => e.line.type === "MSG");
    assert.deepEqual(texts(said), kit.durable ? ["one"] : []);
    await log.close();
  },
);

contract(
  "since() gives each room the renames and leaves of the server its members made while in it, once each, in order, with the rooms they reached",
  async (kit) => {
    const log = await kit.open();
    const { seen, count } = recorder(log);
    await kit.server.enter(log);
    await kit.inRooms?.(["#elsewhere"]);
    log.append(msg("from here"), kit.origin, { room: "#elsewhere" });
    await count("MSG", 1);
    await kit.inRooms?.([]); // it left it (what it reached is the point)
    const base = seen.at(-1)!.seq;
    log.append({ type: "JOIN", alias: "amy", online: "1" }, kit.origin, {
      room: "#ops",
    });
    await settledLog(log);
    await kit.server.rename(log, "amy", "ann");
    await count("NICK", 1);
    log.append(
      {
        type: "LEAVE",
        alias: "ann",
        online: "0",
        reason: "part",
        text: "",
      },
      kit.origin,
      { room: "#lobby" },
    );
    await settledLog(log);
    await kit.server.rename(log, "ann", "amy");
    await count("NICK", 2);
    await kit.server.leave(log, "amy");
    await count("LEAVE", 2);
    const kinds = (range: { events: readonly RoomEvent[] }) =>
      range.events.map((e) =>
        `${e.line.type} ${e.room ?? (e.rooms ?? []).join("+")}`
      );
    const read = async (reading: RoomLog) => ({
      ops: kinds(await reading.since("#ops", base, { limit: 10 })),
      lobby: kinds(
        await reading.since("#lobby", base, { limit: 10, defaultRoom: true }),
      ),
      dev: kinds(await reading.since("#dev", base, { limit: 10 })),
    });
    const expected = {
      ops: ["JOIN #ops", "NICK #lobby+#ops", "NICK #ops", "LEAVE #ops"],
      lobby: ["NICK #lobby+#ops", "LEAVE #lobby"],
      dev: [],
    };
    assert.deepEqual(await read(log), expected);
    const handed = seen.filter((e) => e.seq > base && e.room === undefined);
    assert.deepEqual(handed.map((e) => e.rooms), [
      ["#lobby", "#ops"],
      ["#ops"],
      ["#ops"],
    ]);
    await log.close();
    if (kit.durable) {
      const again = await kit.open();
      assert.deepEqual(await read(again), expected, "as stored");
      await again.close();
    }
  },
);

contract(
  "since() says how many of a room's events it no longer holds while it remembers them all, and that it cannot know past that",
  async (kit) => {
    const { log, trim, counts } = await kit.trimming(4, 5);
    await kit.inRooms?.(["#a", "#b"]);
    const { seen } = recorder(log);
    // m1 ... m10 in #a (a) or #b (b): m7 to m10 stay.
    const rooms = "abaababaab";
    for (let i = 1; i <= 10; i++) {
      log.append(msg(`m${i}`), kit.origin, { room: `#${rooms[i - 1]}` });
    }
    await settledLog(log);
    await trim();
    const base = seen.find((e) => "text" in e.line && e.line.text === "m1")!
      .seq - 1;
    const since = (room: string, after: number) =>
      log.since(room, base + after, { limit: 10 });
    const a = await since("#a", 1);
    assert.deepEqual(texts(a.events), ["m8", "m9"]);
    const b = await since("#b", 1);
    assert.deepEqual(texts(b.events), ["m7", "m10"]);
    if (counts) {
      assert.deepEqual([a.gap, a.lost], [false, { lines: 3, roomsOnly: 0 }]);
      assert.deepEqual([b.gap, b.lost], [false, { lines: 2, roomsOnly: 0 }]);
    } else {
      assert.deepEqual([a.gap, b.gap], [true, true]);
    }
    const past = await since("#a", 0);
    assert.equal(past.gap, true, "m1 is not remembered (5 tombstones)");
    const none = await since("#a", 6);
    assert.deepEqual([none.gap, none.lost], [false, {
      lines: 0,
      roomsOnly: 0,
    }]);
    await log.close();
  },
);

contract(
  "since() counts and finds a room's events without reading the other rooms' lines (a catch-up's cost does not grow with the log)",
  async (kit) => {
    let log = await kit.open();
    await kit.inRooms?.(["#quiet", "#busy"]);
    const seen = handedOn(log);
    log.append(msg("hush"), kit.origin, { room: "#quiet" });
    await settledLog(log);
    const base = seen[0]!.seq - 1;
    // Fewer than a stream keeps (the suite's --redis-stream-entries 1000).
    const busy = 600;
    for (let i = 0; i < busy; i++) {
      log.append(msg(`b${i}`), kit.origin, { room: "#busy" });
    }
    log.append(msg("again"), kit.origin, { room: "#quiet" });
    await settledLog(log);
    if (kit.durable) {
      // As a restart finds it: what it knows of the rooms is read at start.
      await log.close();
      log = await kit.open();
    }
    const reads = async (room: string, limit: number) => {
      const before = kit.linesRead?.() ?? 0;
      const range = await log.since(room, base, { limit });
      return { range, read: (kit.linesRead?.() ?? 0) - before };
    };
    const quiet = await reads("#quiet", 10);
    assert.deepEqual(texts(quiet.range.events), ["hush", "again"]);
    assert.deepEqual([quiet.range.over, quiet.range.gap], [0, false]);
    // The oldest entry (a trimmed stream?) and the two sent, at most.
    assert.ok(quiet.read <= 3, `${quiet.read} lines read for 2 of #quiet`);
    const loud = await reads("#busy", 5);
    assert.deepEqual(texts(loud.range.events), [
      "b595",
      "b596",
      "b597",
      "b598",
      "b599",
    ]);
    assert.deepEqual([loud.range.over, loud.range.gap], [busy - 5, false]);
    assert.ok(loud.read <= 6, `${loud.read} lines read to count ${busy}`);
    await log.close();
  },
);
