/**
 * Tests of the room logs: the ring of recent messages, the window of ids,
 * the log in memory, and the SQLite log on real databases (in memory, or
 * files in a temporary data directory) with a fake clock, without sockets.
 * What every log does is tested once for all in
 * `room_log_contract_test.ts`.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import { type Clock, systemClock } from "../../../lib/clock.ts";
import {
  LineIdMaker,
  lineSign,
  type RoomEvent,
  type RoomLine,
  type RoomLog,
} from "../../../lib/server/room/room_log.ts";
import { RecentEvents } from "../../../lib/server/room/recent_events.ts";
import {
  DEDUPE_MAX_LINES,
  DEDUPE_MIN_LINES,
  DEDUPE_MIN_MS,
  type HeldSign,
  RecentIds,
} from "../../../lib/server/room/recent_ids.ts";
import { MemoryLog } from "../../../lib/server/room/memory_log.ts";
import { eachEvent } from "../../../lib/server/storage/events_table.ts";
import {
  SqliteLog,
  type SqliteLogOptions,
} from "../../../lib/server/storage/sqlite_log.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import { DATABASE_FILE, openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";
import { withTempDir } from "../../_helpers.ts";

const DAY_MS = 86_400_000;

const msg = (text: string, alias = "amy"): RoomLine => ({
  type: "MSG",
  alias,
  text,
});

/** Options of a SqliteLog that keeps 10 messages at hand, on `clock`. */
const keepAll = (clock: Clock) => ({ clock, keep: 10 });

/**
 * A SqliteLog on `db` with retention keeping `kept` (as the server runs
 * them: retention starts once the log listens to it), closed together.
 */
function withRetention(
  db: DatabaseSync,
  clock: FakeClock,
  kept: { keepRows?: number; keepDays?: number; keptIds?: number },
  options: Partial<SqliteLogOptions> = {},
) {
  const retention = new Retention(db, {
    clock,
    keepRows: kept.keepRows ?? 0,
    keepDays: kept.keepDays ?? 0,
    keptIds: kept.keptIds,
    everyMs: 60_000,
  });
  const log = new SqliteLog(db, { ...keepAll(clock), ...options, retention });
  retention.start();
  return {
    log,
    async close() {
      await log.close();
      retention.stop();
    },
  };
}

/** Events a log hands on, in order. */
function collect(log: { subscribe(sink: (e: RoomEvent) => void): void }) {
  const seen: RoomEvent[] = [];
  log.subscribe((event) => seen.push(event));
  return seen;
}

/** Resolves after the turns already queued (a commit, a retention step). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function texts(events: readonly RoomEvent[]): string[] {
  return events.map((e) => ("text" in e.line ? e.line.text : e.line.type));
}

Deno.test("RecentEvents keeps the last messages and actions, oldest first", () => {
  const ring = new RecentEvents(3);
  let seq = 0;
  const add = (line: RoomLine) =>
    ring.add({ seq: ++seq, time: 0, line, origin: "1" });
  add(msg("one"));
  add({ type: "JOIN", alias: "bo", online: "2" });
  add({ type: "ME", alias: "bo", text: "waves" });
  add(msg("three"));
  add(msg("four"));
  assert.deepEqual(texts(ring.last(10)), ["waves", "three", "four"]);
  assert.deepEqual(texts(ring.last(2)), ["three", "four"]);
  assert.deepEqual(ring.last(0), []);
  ring.forgetUpTo(4); // retention deleted 1 to 4
  assert.deepEqual(texts(ring.last(10)), ["four"]);
  add(msg("six"));
  assert.deepEqual(texts(ring.last(10)), ["four", "six"]);
  const none = new RecentEvents(0);
  none.add({ seq: 1, time: 0, line: msg("x"), origin: "1" });
  assert.deepEqual(none.last(5), []);
});

Deno.test("MemoryLog numbers and hands on each line at once", () => {
  const clock = new FakeClock();
  const log = new MemoryLog(clock, 5);
  const seen = collect(log);
  log.append(msg("hi"), "1");
  assert.equal(log.settled(), undefined);
  assert.deepEqual(seen.map((e) => [e.seq, e.time]), [[1, clock.now()]]);
});

Deno.test("SqliteLog commits a turn's lines in one go, then hands them on in order", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const log = new SqliteLog(store.db, keepAll(clock));
  const seen = collect(log);
  assert.equal(log.settled(), undefined, "nothing pending");
  log.append(msg("one"), "1");
  log.append({ type: "JOIN", alias: "bo", online: "2" }, "2");
  log.append(msg("two"), "1");
  // Nobody hears of a line before it is in the database.
  assert.equal(seen.length, 0);
  assert.deepEqual([...eachEvent(store.db, {})], []);
  await log.settled();
  assert.deepEqual(seen.map((e) => [e.seq, e.origin]), [
    [1, "1"],
    [2, "2"],
    [3, "1"],
  ]);
  assert.deepEqual(texts([...eachEvent(store.db, {})]), ["one", "JOIN", "two"]);
  assert.deepEqual(texts(log.recent(10)), ["one", "two"]);
  assert.deepEqual(texts([...eachEvent(store.db, { afterSeq: 1, limit: 1 })]), [
    "JOIN",
  ]);
  assert.equal(log.settled(), undefined);
  await log.close();
});

Deno.test("SqliteLog stores a turn of any size, in order, with each line's time and id", async () => {
  using store = openStore(null);
  let now = 1_000;
  const clock = { ...systemClock, now: () => now };
  const log = new SqliteLog(store.db, { ...keepAll(clock), keep: 100 });
  const seen = collect(log);
  // 70 lines in one turn: inserted 32, 32, 4 and 2 rows at a time.
  for (let i = 1; i <= 70; i++) {
    now = 1_000 + i;
    if (i % 10 === 0) {
      log.append({ type: "JOIN", alias: `j${i}`, online: "1" }, "2");
    } else log.append(msg(`m${i}`), "1", { id: `id-${i}-0123456789abcdef` });
  }
  await log.settled();
  const stored = [...eachEvent(store.db, {})];
  assert.deepEqual(stored, seen.map((e) => ({ ...e, origin: "" })));
  assert.deepEqual(
    stored.map((e) => [e.seq, e.time, texts([e])[0], e.id]),
    Array.from({ length: 70 }, (_, k) => {
      const i = k + 1;
      return i % 10 === 0
        ? [i, 1_000 + i, "JOIN", undefined]
        : [i, 1_000 + i, `m${i}`, `id-${i}-0123456789abcdef`];
    }),
  );
  await log.close();
});

Deno.test("SqliteLog retention drops what is too old or too many, and never reuses numbers", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const options = keepAll(clock);
  {
    const log = new SqliteLog(store.db, options);
    for (let i = 1; i <= 6; i++) log.append(msg(`old ${i}`), "1");
    await log.close();
  }
  await clock.advance(2 * DAY_MS);
  {
    const log = new SqliteLog(store.db, options);
    log.append(msg("new 1"), "1");
    log.append(msg("new 2"), "1");
    await log.close();
  }
  // By count: the newest 5 stay; the log forgets the messages deleted.
  let kept = withRetention(store.db, clock, { keepRows: 5 });
  assert.deepEqual(
    [...eachEvent(store.db, {})].map((e) => e.seq),
    [4, 5, 6, 7, 8],
  );
  await kept.close();
  // By age, at the next round: what is over a day old goes.
  kept = withRetention(store.db, clock, { keepDays: 1 });
  assert.equal([...eachEvent(store.db, {})].length, 2, "pruned at start");
  assert.deepEqual(texts(kept.log.recent(10)), ["new 1", "new 2"]);
  await clock.advance(2 * DAY_MS); // the retention timer runs meanwhile
  assert.deepEqual([...eachEvent(store.db, {})], []);
  assert.deepEqual(kept.log.recent(10), [], "forgotten with their rows");
  kept.log.append(msg("after"), "1");
  await kept.log.settled();
  // Every row went; numbers still go on from the highest ever used.
  assert.deepEqual([...eachEvent(store.db, {})].map((e) => e.seq), [9]);
  await kept.close();
  assert.equal(clock.pending, 0, "stop() stops the retention timer");
});

Deno.test("SqliteLog retention deletes a large backlog in steps, between turns", async () => {
  using store = openStore(null);
  const insert = store.db.prepare(
    "INSERT INTO events (seq, time, type, line) VALUES (?, 0, 'MSG', ?)",
  );
  store.db.exec("BEGIN");
  for (let seq = 1; seq <= 5000; seq++) {
    insert.run(seq, JSON.stringify(msg(`m${seq}`)));
  }
  store.db.exec("COMMIT");
  const count = () =>
    (store.db.prepare("SELECT COUNT(*) AS n FROM events").get() as {
      n: number;
    }).n;
  const clock = new FakeClock();
  const { close } = withRetention(store.db, clock, { keepRows: 10 });
  const counts = [count()];
  while (counts.at(-1)! > 10) {
    await nextTurn();
    counts.push(count());
  }
  // Each step deletes a bounded number of rows; the room runs in between.
  assert.deepEqual(counts, [3000, 1000, 10]);
  await close();
});

Deno.test("SqliteLog reports lines it could not store and hands none of them on", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const errors: string[] = [];
  const log = new SqliteLog(store.db, {
    ...keepAll(clock),
    onError: (what) => errors.push(what),
  });
  const seen: RoomEvent[] = [];
  const lost: string[] = [];
  log.subscribe(
    (event) => seen.push(event),
    (lines) => lost.push(...lines.map((l) => `${l.origin}:${l.line.type}`)),
  );
  log.append(msg("kept"), "1");
  await log.settled();
  store.db.exec("PRAGMA query_only = 1"); // the disk refuses writes
  log.append(msg("lost"), "2");
  await log.settled();
  assert.deepEqual(lost, ["2:MSG"]);
  assert.deepEqual(errors, ["commit"]);
  store.db.exec("PRAGMA query_only = 0");
  log.append(msg("kept again"), "1");
  await log.settled();
  // No gap: the lost line never had a number.
  assert.deepEqual(seen.map((e) => [e.seq, texts([e])[0]]), [
    [1, "kept"],
    [2, "kept again"],
  ]);
  await log.close();
});

Deno.test("openStore() refuses a second server on the same data directory", async () => {
  await withTempDir((dir) => {
    const first = openStore(dir, { exclusive: true });
    assert.throws(
      () => openStore(dir, { exclusive: true }),
      new RegExp(
        `another tlschat server \\(pid ${Deno.pid}\\) is using it\\. One data directory serves one server`,
      ),
    );
    // Tools share the directory with a running server.
    openStore(dir).close();
    first.close();
    openStore(dir, { exclusive: true }).close();
    return Promise.resolve();
  });
});

Deno.test("openStore() explains a damaged or locked database", async () => {
  await withTempDir(async (dir) => {
    {
      using store = openStore(dir);
      const log = new SqliteLog(store.db, keepAll(new FakeClock()));
      for (let i = 0; i < 2000; i++) log.append(msg(`line ${i}`), "1");
      await log.close();
    }
    const path = `${dir}/${DATABASE_FILE}`;
    {
      // Another program holds a write lock: the server cannot write.
      using other = new DatabaseSync(path);
      other.exec("BEGIN IMMEDIATE");
      assert.throws(
        () => openStore(dir, { exclusive: true }),
        /Cannot use the database ".*chat\.db": database is locked\. Another program is writing to it/,
      );
      other.exec("ROLLBACK");
    }
    // Damage in the middle of the file shows at once, not in a week.
    const bytes = await Deno.readFile(path);
    bytes.fill(0x5a, 8192, 12288);
    await Deno.writeFile(path, bytes);
    assert.throws(
      () => openStore(dir, { exclusive: true }),
      /Cannot use the database ".*chat\.db": .*It is damaged or not a tlschat database; nothing was changed/,
    );
  });
});

Deno.test("SqliteLog syncs every commit to the disk with durability full", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    const synchronous = () =>
      (store.db.prepare("PRAGMA synchronous").get() as { synchronous: number })
        .synchronous;
    const clock = new FakeClock();
    await new SqliteLog(store.db, keepAll(clock)).close();
    assert.equal(synchronous(), 1, "NORMAL by default");
    await new SqliteLog(store.db, { ...keepAll(clock), durability: "full" })
      .close();
    assert.equal(synchronous(), 2, "FULL");
  });
});

Deno.test("SqliteLog numbers go on across restarts after retention recorded an older one", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  for (let round = 0; round < 3; round++) {
    // Retention runs at start.
    const { log, close } = withRetention(store.db, clock, { keepRows: 3 });
    const seen = collect(log);
    for (let i = 0; i < 4; i++) log.append(msg(`r${round} m${i}`), "1");
    await log.settled();
    assert.deepEqual(
      seen.map((e) => e.seq),
      [1, 2, 3, 4].map((i) => round * 4 + i),
      `round ${round}`,
    );
    await close();
  }
});

Deno.test("SqliteLog retention counts messages apart: comings and goings never push them out", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  {
    const log = new SqliteLog(store.db, keepAll(clock));
    for (let i = 0; i < 3; i++) log.append(msg(`said ${i}`), "1");
    for (let i = 0; i < 40; i++) {
      log.append({ type: "JOIN", alias: `j${i}`, online: "2" }, "2");
    }
    await log.close();
  }
  const { log, close } = withRetention(store.db, clock, { keepRows: 5 });
  const kept = [...eachEvent(store.db, {})];
  assert.deepEqual(texts(kept.filter((e) => e.line.type === "MSG")), [
    "said 0",
    "said 1",
    "said 2",
  ]);
  assert.deepEqual(
    kept.filter((e) => e.line.type === "JOIN").map((e) => e.seq),
    [39, 40, 41, 42, 43],
  );
  assert.equal(log.recent(10).length, 3);
  await close();
});

Deno.test("SqliteLog skips stored rows that are not single-line room lines with an effect it knows", async () => {
  using store = openStore(null);
  const insert = store.db.prepare(
    "INSERT INTO events (seq, time, type, line) VALUES (?, 0, ?, ?)",
  );
  insert.run(1, "MSG", JSON.stringify(msg("fine")));
  insert.run(2, "MSG", JSON.stringify(msg("two\nBYE kicked forged")));
  insert.run(3, "MSG", "{not json");
  insert.run(
    4,
    "PRIV",
    JSON.stringify({ type: "PRIV", alias: "a", text: "x" }),
  );
  insert.run(5, "MSG", JSON.stringify({ type: "MSG", alias: "a" }));
  // Effects: one that goes with its line, then ones this server cannot
  // carry out (their events are dropped whole: nobody sees "muted" then).
  const withEffect = store.db.prepare(
    `INSERT INTO events (seq, time, type, line, effect, effect_value)
     VALUES (?, 0, ?, ?, ?, ?)`,
  );
  const topic = { type: "TOPIC", alias: "op", text: "Hi" };
  const mute = { type: "MOD", action: "mute", alias: "b", by: "op", text: "" };
  const effects: [unknown, string, string][] = [
    [topic, "topic", '{"text":"Hi","by":"op"}'],
    [topic, "topic", '{"text":"two\\nlines","by":"op"}'],
    [topic, "sanctions", "[]"],
    [mute, "sanctions", '[{"type":"mute"}]'],
    [mute, "sanctions", "{not json"],
    [mute, "confetti", "[]"],
    [msg("said"), "bye", '"Kicked"'],
  ];
  for (const [i, [line, kind, value]] of effects.entries()) {
    const { type } = line as { type: string };
    withEffect.run(6 + i, type, JSON.stringify(line), kind, value);
  }
  const log = new SqliteLog(store.db, keepAll(new FakeClock()));
  assert.deepEqual(texts(log.recent(10)), ["fine"]);
  const events = [...eachEvent(store.db, {})];
  assert.deepEqual(events.map((e) => e.seq), [1, 6]);
  // Stored without its time (as an earlier release did): its event's (0).
  assert.deepEqual(events[1]!.effect, {
    kind: "topic",
    topic: { text: "Hi", by: "op", at: 0 },
  });
  await log.close();
});

Deno.test("LineIdMaker makes ids of the server's form, all different, across its draws of random bytes", () => {
  const maker = new LineIdMaker();
  const ids = Array.from({ length: 1_000 }, () => maker.next());
  for (const id of ids) assert.match(id, /^s[A-Za-z0-9_-]{22}$/);
  assert.equal(new Set(ids).size, ids.length);
  // Every character is random, the last one too (not 4 bits of padding).
  assert.ok(new Set(ids.map((id) => id.at(-1))).size > 16);
});

Deno.test("RecentIds keeps the last 10,000 ids and those of the last 10 minutes, at most 100,000", () => {
  const ids = new RecentIds();
  let time = 0;
  for (let i = 0; i < 20_000; i++) ids.add(`id${i}`, time, "s");
  // All within 10 minutes: all kept.
  assert.equal(ids.size, 20_000);
  assert.equal(ids.has("id0"), true);
  time += DEDUPE_MIN_MS + 1;
  ids.add("later", time, "s");
  // The old ones are out of the time window: the last 10,000 stay.
  assert.equal(ids.size, DEDUPE_MIN_LINES);
  assert.equal(ids.has("id10000"), false);
  assert.equal(ids.has("id10001"), true);
  assert.equal(ids.has("later"), true);
  // A flood within 10 minutes: never more than 100,000.
  for (let i = 0; i < DEDUPE_MAX_LINES; i++) ids.add(`f${i}`, time, "s");
  assert.equal(ids.size, DEDUPE_MAX_LINES);
  assert.equal(ids.has("later"), false);
  assert.equal(ids.has("f0"), true);
  ids.delete("f0");
  assert.equal(ids.has("f0"), false);
});

Deno.test("RecentIds forgets in the order added, ids deleted or added again included", () => {
  const ids = new RecentIds({ minLines: 3, minMs: 0, maxLines: 3 });
  for (const id of ["a", "b", "c"]) ids.add(id, 0, "s");
  ids.delete("a");
  ids.add("a", 1, "s"); // a is now the newest
  ids.add("d", 2, "s"); // forgets b, not the new a
  assert.deepEqual(["a", "b", "c", "d"].map((id) => ids.has(id)), [
    true,
    false,
    true,
    true,
  ]);
  // Lines that were not stored after all, over and over (a long outage):
  // the first one took the place of c.
  for (let i = 0; i < 100_000; i++) {
    ids.add(`x${i}`, 3, "s");
    ids.delete(`x${i}`);
  }
  assert.equal(ids.size, 2);
  ids.add("e", 4, "s");
  ids.add("f", 5, "s");
  assert.deepEqual(["a", "c", "d", "e", "f"].map((id) => ids.has(id)), [
    false,
    false,
    true,
    true,
    true,
  ]);
});

Deno.test("RecentIds takes ids at the same pace once its window is full", () => {
  // Forgetting the oldest id used to walk the map past every id forgotten
  // before: 10 to 80 µs an id at 100,000 (1 to 2 µs now).
  const ids = new RecentIds();
  let time = 0;
  for (let i = 0; i < DEDUPE_MAX_LINES; i++) ids.add(`f${i}`, time, "s");
  const start = performance.now();
  for (let i = 0; i < 200_000; i++) ids.add(`g${i}`, time++, "s");
  const ms = performance.now() - start;
  assert.equal(ids.size, DEDUPE_MAX_LINES);
  assert.ok(ms < 1500, `200,000 ids into a full window took ${ms} ms`);
});

/**
 * What `RecentIds` promises, written the slow and obvious way: its ids in
 * the order added (an id added again moves to the end), the oldest let go
 * while more than `minLines` are held and either more than `maxLines` are
 * or the oldest was taken `minMs` or more before the newest.
 */
class ObviousIds {
  entries: { id: string; time: number; sign: HeldSign }[] = [];
  constructor(
    readonly minLines: number,
    readonly minMs: number,
    readonly maxLines: number,
  ) {}
  held(id: string) {
    return this.entries.find((entry) => entry.id === id)?.sign;
  }
  add(id: string, time: number, sign: HeldSign) {
    this.delete(id);
    this.entries.push({ id, time, sign });
    while (this.entries.length > this.minLines) {
      const oldest = this.entries[0]!;
      if (
        this.entries.length <= this.maxLines &&
        oldest.time > time - this.minMs
      ) break;
      this.entries.shift();
    }
  }
  delete(id: string) {
    this.entries = this.entries.filter((entry) => entry.id !== id);
  }
  sign(id: string, sign: string) {
    const entry = this.entries.find((entry) => entry.id === id);
    if (entry) entry.sign = sign;
  }
}

Deno.test("RecentIds keeps exactly the ids the obvious list keeps, through adds, ids added again, deletes and signs", () => {
  // A small PRNG, so that a failure can be run again.
  let state = 12345;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const newId = () => {
    let id = "";
    const length = 16 + Math.floor(random() * 49);
    for (let i = 0; i < length; i++) id += alphabet[Math.floor(random() * 64)];
    return id;
  };
  // Windows that forget by count, by time and by both; the last one's ring
  // grows past its first 1,024 places, and is made again after deletes.
  for (
    const [minLines, minMs, maxLines, steps] of [
      [3, 0, 3, 3000],
      [5, 200, 40, 6000],
      [100, 1000, 300, 20_000],
      [1500, 100_000, 2000, 12_000],
    ] as const
  ) {
    const ids = new RecentIds({ minLines, minMs, maxLines });
    const obvious = new ObviousIds(minLines, minMs, maxLines);
    const seen: string[] = [];
    let time = 0;
    for (let step = 0; step < steps; step++) {
      time += Math.floor(random() * 20);
      const roll = random();
      const old = seen[Math.floor(random() * seen.length)];
      if (roll < 0.6 || old === undefined) {
        const id = newId();
        seen.push(id);
        const sign = random() < 0.5 ? step : `sign${step}`;
        ids.add(id, time, sign);
        obvious.add(id, time, sign);
      } else if (roll < 0.7) {
        ids.add(old, time, step);
        obvious.add(old, time, step);
      } else if (roll < 0.85) {
        ids.delete(old);
        obvious.delete(old);
      } else {
        ids.sign(old, `signed${step}`);
        obvious.sign(old, `signed${step}`);
      }
      assert.equal(ids.size, obvious.entries.length, `step ${step}`);
      for (let k = 0; k < 8; k++) {
        const id = seen[Math.floor(random() * seen.length)]!;
        assert.equal(ids.held(id), obvious.held(id), `step ${step}`);
        assert.equal(ids.has(id), obvious.held(id) !== undefined);
      }
    }
    for (const { id, sign } of obvious.entries) {
      assert.equal(ids.held(id), sign);
    }
  }
});

Deno.test("RecentIds tells a line again under its id from another line under it", () => {
  const ids = new RecentIds();
  assert.equal(ids.check("x", "sign-a"), "new");
  ids.add("x", 0, "sign-a");
  assert.equal(ids.check("x", "sign-a"), "duplicate");
  assert.equal(ids.check("x", "sign-b"), "reused");
  assert.equal(ids.check("y", "sign-a"), "new");
});

const ID_A = "AAAAAAAAAAAAAAAAAAAAAA";
const ID_B = "BBBBBBBBBBBBBBBBBBBBBB";
const ID_C = "CCCCCCCCCCCCCCCCCCCCCC";
const ID_D = "DDDDDDDDDDDDDDDDDDDDDD";

/**
 * What a log hands on and reports, in order: `TEXT` for a line handed on
 * (with its id), `duplicate TEXT` for one reported.
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

/** Waits until what was appended is handed on or reported. */
async function settledLog(log: RoomLog): Promise<void> {
  while (log.settled() !== undefined) await log.settled();
}

Deno.test("SqliteLog keeps the ids of the recent lines it loads at start, and forgets those of lines it could not store", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const window = { minLines: 3, minMs: 0, maxLines: 3 };
  const options = { ...keepAll(clock), ids: window };
  const say = (log: RoomLog, text: string, id: string) =>
    log.append({ type: "MSG", alias: "amy", text }, "1", { id });
  let log = new SqliteLog(store.db, options);
  const ids = [ID_A, ID_B, ID_C, ID_D, "EEEEEEEEEEEEEEEEEEEEEE"];
  for (const [i, id] of ids.entries()) say(log, `m${i}`, id);
  log.append({ type: "JOIN", alias: "bo", online: "2" }, "2");
  await log.close();
  log = new SqliteLog(store.db, options);
  const { seen } = timeline(log);
  // The last 3 ids were loaded; the older ones are out of the window.
  for (const [i, id] of [...ids.entries()].reverse()) {
    say(log, `again ${i}`, id);
  }
  await settledLog(log);
  assert.deepEqual(seen, [
    `reused again 4 ${ids[4]} 1`,
    `reused again 3 ${ID_D} 1`,
    `reused again 2 ${ID_C} 1`,
    "again 1",
    "again 0",
  ]);
  // A line the disk refused is not stored: its id may come again.
  store.db.exec("PRAGMA query_only = 1");
  say(log, "refused", "FFFFFFFFFFFFFFFFFFFFFF");
  await settledLog(log);
  store.db.exec("PRAGMA query_only = 0");
  say(log, "stored", "FFFFFFFFFFFFFFFFFFFFFF");
  await settledLog(log);
  assert.deepEqual(seen.slice(5), [
    "refused refused FFFFFFFFFFFFFFFFFFFFFF 1",
    "stored",
  ]);
  // Each id is stored with its line.
  assert.deepEqual(
    [...eachEvent(store.db, {})].filter((e) => e.line.type === "MSG").map((
      e,
    ) => e.id),
    [...ids, ids[1], ids[0], "FFFFFFFFFFFFFFFFFFFFFF"],
  );
  await log.close();
});

Deno.test("openStore() gives a database from before line ids their column; its old lines have none", async () => {
  await withTempDir(async (dir) => {
    {
      using store = openStore(dir);
      // As an older tlschat left it: no id column, schema version 4.
      store.db.exec(`ALTER TABLE events DROP COLUMN id;
        INSERT INTO events (seq, time, type, line)
          VALUES (1, 0, 'MSG', '{"type":"MSG","alias":"amy","text":"old"}');
        PRAGMA user_version = 4`);
    }
    using store = openStore(dir);
    const log = new SqliteLog(store.db, keepAll(new FakeClock()));
    const { seen } = timeline(log);
    assert.deepEqual(log.recent(10).map((e) => [texts([e])[0], e.id]), [
      ["old", undefined],
    ]);
    log.append(msg("new"), "1", { id: ID_A });
    log.append(msg("new"), "1", { id: ID_A });
    await settledLog(log);
    assert.deepEqual(seen, ["new", `duplicate new ${ID_A} 1`]);
    assert.deepEqual([...eachEvent(store.db, {})].map((e) => e.id), [
      undefined,
      ID_A,
    ]);
    await log.close();
  });
});

Deno.test("SqliteLog keeps its window of ids when retention deletes their lines, and trims it from the oldest end", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const window = { minLines: 3, minMs: 0, maxLines: 3 };
  const options = { ...keepAll(clock), ids: window };
  const idRows = () =>
    store.db.prepare("SELECT id FROM line_ids ORDER BY seq").all()
      .map((row) => row.id);
  const ids = [ID_A, ID_B, ID_C];
  let log = new SqliteLog(store.db, options);
  for (const [i, id] of ids.entries()) log.append(msg(`m${i}`), "1", { id });
  await log.close();
  // Retention keeps one message: the lines of A and B are gone, their ids
  // (held by the log) kept with their signs; C's is in its line only.
  let kept = withRetention(store.db, clock, { keepRows: 1 }, options);
  assert.deepEqual(texts([...eachEvent(store.db, {})]), ["m2"]);
  assert.deepEqual(idRows(), [ID_A, ID_B]);
  await kept.close();
  log = new SqliteLog(store.db, options);
  const { seen } = timeline(log);
  log.append(msg("m0"), "1", { id: ID_A });
  log.append(msg("not m1"), "1", { id: ID_B });
  await settledLog(log);
  assert.deepEqual(seen, [`duplicate m0 ${ID_A} 1`, `reused not m1 ${ID_B} 1`]);
  // Newer lines push the oldest ids out of the window: when retention
  // deletes their lines, only the ids still held are kept, and the table
  // is trimmed from its oldest end (one over at most).
  for (let i = 0; i < 4; i++) {
    log.append(msg(`n${i}`), "1", { id: `new-id-${i}-0123456789` });
    await settledLog(log);
  }
  await log.close();
  kept = withRetention(store.db, clock, { keepRows: 1, keptIds: 2 }, options);
  assert.deepEqual(texts([...eachEvent(store.db, {})]), ["n3"]);
  await kept.close();
  assert.deepEqual(idRows(), [1, 2].map((i) => `new-id-${i}-0123456789`));
});

Deno.test("SqliteLog holds an id the server made for a line, without looking it up, and tells the line sent again under it", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, keepAll(new FakeClock()));
  const { seen } = timeline(log);
  log.append(msg("one"), "1", { id: ID_A, newId: true });
  log.append(msg("one"), "1", { id: ID_A }); // the same turn
  await settledLog(log);
  log.append(msg("one"), "1", { id: ID_A });
  log.append(msg("two"), "1", { id: ID_A });
  await settledLog(log);
  assert.deepEqual(seen, [
    "one",
    `duplicate one ${ID_A} 1`,
    `duplicate one ${ID_A} 1`,
    `reused two ${ID_A} 1`,
  ]);
  await log.close();
});

Deno.test("SqliteLog keeps ids in their lines only; at start it holds those and the ones in line_ids, and tells a line again by its sign", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const idRows = () =>
    (store.db.prepare("SELECT COUNT(*) AS n FROM line_ids").get() as {
      n: number;
    }).n;
  const log = new SqliteLog(store.db, keepAll(clock));
  log.append(msg("one"), "1", { id: ID_A });
  log.append(msg("two"), "1", { id: ID_B });
  log.append(msg("three"), "1", { id: ID_C });
  await settledLog(log);
  await log.close();
  assert.equal(idRows(), 0, "in their lines only");
  // A previous release wrote B's id to line_ids too, with its sign.
  store.db.prepare("INSERT INTO line_ids VALUES (2, ?, ?, 0)").run(
    ID_B,
    lineSign(msg("two")),
  );
  const again = new SqliteLog(store.db, keepAll(clock));
  const { seen } = timeline(again);
  again.append(msg("one", "AMY"), "1", { id: ID_A });
  again.append(msg("not two"), "1", { id: ID_B });
  again.append(msg("two"), "1", { id: ID_B });
  await settledLog(again);
  // A line deleted by hand: its id stays taken, for another line.
  store.db.exec("DELETE FROM events WHERE seq = 3");
  again.append(msg("three"), "1", { id: ID_C });
  await settledLog(again);
  assert.deepEqual(seen, [
    `duplicate one ${ID_A} 1`,
    `reused not two ${ID_B} 1`,
    `duplicate two ${ID_B} 1`,
    `reused three ${ID_C} 1`,
  ]);
  await again.close();
  assert.equal(idRows(), 1);
});

Deno.test("SqliteLog writes the ids not yet in line_ids before retention deletes their lines", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const retention = new Retention(store.db, {
    clock,
    keepRows: 1,
    keepDays: 0,
    everyMs: 1_000,
  });
  const log = new SqliteLog(store.db, { ...keepAll(clock), retention });
  retention.start();
  log.append(msg("one"), "1", { id: ID_A });
  log.append(msg("two"), "1", { id: ID_B });
  await settledLog(log);
  await clock.advance(1_000); // retention: only "two" is left
  assert.deepEqual(texts([...eachEvent(store.db, {})]), ["two"]);
  // Killed: never closed (and its retention never runs again).
  retention.stop();
  const again = new SqliteLog(store.db, keepAll(clock));
  const { seen } = timeline(again);
  again.append(msg("one"), "1", { id: ID_A });
  await settledLog(again);
  assert.deepEqual(seen, [`duplicate one ${ID_A} 1`]);
  await again.close();
});

Deno.test("Retention with no log to ask keeps the ids of every line it deletes, with their signs", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const log = new SqliteLog(store.db, keepAll(clock));
  log.append(msg("one"), "1", { id: ID_A });
  log.append(msg("two"), "1", { id: ID_B });
  await log.close();
  // A server with history in memory runs retention on the rows stored
  // before: nothing tells it which ids are still held.
  const retention = new Retention(store.db, {
    clock,
    keepRows: 0,
    keepDays: 1,
    everyMs: 60_000,
  });
  await clock.advance(2 * DAY_MS);
  retention.start();
  retention.stop();
  assert.deepEqual(texts([...eachEvent(store.db, {})]), []);
  const again = new SqliteLog(store.db, keepAll(clock));
  const { seen } = timeline(again);
  again.append(msg("one"), "1", { id: ID_A });
  again.append(msg("not two"), "1", { id: ID_B });
  await settledLog(again);
  assert.deepEqual(seen, [
    `duplicate one ${ID_A} 1`,
    `reused not two ${ID_B} 1`,
  ]);
  await again.close();
});

Deno.test("openStore() moves the ids of a database from before line_ids into it, with their signs", async () => {
  await withTempDir(async (dir) => {
    {
      using store = openStore(dir);
      // As the previous tlschat left it: ids in events only, version 5.
      store.db.exec(`DROP TABLE line_ids;
        INSERT INTO events (seq, time, type, line, id)
          VALUES (1, 0, 'MSG', '{"type":"MSG","alias":"amy","text":"old"}',
            '${ID_A}');
        PRAGMA user_version = 5`);
    }
    using store = openStore(dir);
    const log = new SqliteLog(store.db, keepAll(new FakeClock()));
    const { seen } = timeline(log);
    log.append(msg("old", "Amy"), "1", { id: ID_A });
    log.append(msg("new"), "1", { id: ID_A });
    await settledLog(log);
    assert.deepEqual(seen, [`duplicate old ${ID_A} 1`, `reused new ${ID_A} 1`]);
    await log.close();
  });
});
