/** Tests of the search index in its worker, on real SQLite files: what it finds, in which rooms, in what order, what it forgets, its file, catching up, starting again. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { systemClock } from "../../../lib/clock.ts";
import { ProtocolError } from "../../../lib/protocol.ts";
import type { RoomEvent, RoomLine } from "../../../lib/server/room/room_log.ts";
import { Indexer, IndexSearch } from "../../../lib/server/storage/indexer.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import {
  type IndexedLine,
  type IndexOpened,
  SEARCH_FILE,
  SearchIndex,
  type SearchIndexOptions,
} from "../../../lib/server/storage/search_index.ts";
import { searchMatch } from "../../../lib/server/storage/search_query.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { DATABASE_FILE, openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";
import { crashingOnce } from "./_worker_faults.ts";
import { withTempDir } from "../../_helpers.ts";
import { registerIn } from "./_rooms_table.ts";

const T0 = Date.UTC(2026, 11, 1);

function line(
  seq: number,
  text: string,
  room = "",
  kind: "MSG" | "ME" = "MSG",
): IndexedLine {
  return { seq, time: T0 + seq * 1000, room, kind, alias: "amy", text };
}

function event(seq: number, line: RoomLine, room?: string): RoomEvent {
  return { seq, time: T0 + seq, line, origin: "1", room };
}

const seqs = (found: readonly IndexedLine[]) => found.map((l) => l.seq);

/**
 * The nice value the worker runs at here: 19 when this test process may
 * set priorities on Linux (`deno task test` may not: 0).
 */
const NICE = Deno.build.os === "linux" &&
    Deno.permissions.querySync({ name: "sys", kind: "setPriority" }).state ===
      "granted"
  ? 19
  : 0;

/** An index in the worker's memory (or `options`' file). */
function memoryIndex(options: Partial<SearchIndexOptions> = {}) {
  return new SearchIndex({
    path: null,
    chat: null,
    epoch: () => "e1",
    clock: systemClock,
    ...options,
  });
}

/** What `index` finds for `words` in `rooms`. */
async function find(
  index: SearchIndex,
  words: string[],
  rooms = [""],
  limit = 50,
  since?: ReadonlyMap<string, number>,
): Promise<IndexedLine[]> {
  const match = searchMatch(words, rooms);
  return match === null ? [] : await index.find(match, limit, since);
}

Deno.test("SearchIndex finds lines holding every word, in the rooms asked only, newest first", async () => {
  const index = memoryIndex();
  try {
    index.add([
      line(1, "Deploy on Friday"),
      line(2, "the deploy failed", "#ops"),
      line(3, "friday drinks", "#fun"),
      line(4, "déploy again friday", "", "ME"),
      line(5, "nothing here", "#ops"),
    ]);
    assert.deepEqual(seqs(await find(index, ["deploy"])), [4, 1]);
    assert.deepEqual(seqs(await find(index, ["deploy"], ["", "#ops"])), [
      4,
      2,
      1,
    ]);
    assert.deepEqual(
      seqs(await find(index, ["deploy", "friday"], ["", "#ops", "#fun"])),
      [4, 1],
    );
    assert.deepEqual(seqs(await find(index, ["friday"], ["#fun"])), [3]);
    assert.deepEqual(seqs(await find(index, ["drinks"], ["", "#ops"])), []);
    assert.deepEqual(await find(index, ["again"]), [{
      seq: 4,
      time: T0 + 4000,
      room: "",
      kind: "ME",
      alias: "amy",
      text: "déploy again friday",
    }]);
  } finally {
    await index.close();
  }
});

Deno.test("SearchIndex finds in a room given a bound only the lines numbered above it, within the limit, whatever the room's name", async () => {
  const index = memoryIndex();
  const odd = "#o'); DROP TABLE search; --";
  try {
    index.add([
      line(1, "old zanzibar", "#tmp"),
      line(2, "zanzibar in lobby"),
      line(3, "old zanzibar again", "#tmp"),
      line(4, "new zanzibar", "#tmp"),
      line(5, "zanzibar odd", odd),
    ]);
    const rooms = ["", "#tmp", odd];
    const all = (since?: Map<string, number>, limit = 50) =>
      find(index, ["zanzibar"], rooms, limit, since).then(seqs);
    assert.deepEqual(await all(), [5, 4, 3, 2, 1]);
    assert.deepEqual(await all(new Map([["#tmp", 3]])), [5, 4, 2]);
    assert.deepEqual(await all(new Map([["#tmp", 3], [odd, 5]])), [4, 2]);
    assert.deepEqual(await all(new Map([["#tmp", 4], ["", 1]]), 2), [5, 2]);
  } finally {
    await index.close();
  }
});

Deno.test("SearchIndex answers the newest 50 of many matches", async () => {
  const index = memoryIndex();
  index.add(Array.from({ length: 120 }, (_, i) => line(i + 1, `word ${i}`)));
  const found = await find(index, ["word"]);
  assert.equal(found.length, 50);
  assert.deepEqual(seqs(found), Array.from({ length: 50 }, (_, i) => 120 - i));
  await index.close();
});

Deno.test("SearchIndex: the last word is a word's start; a word that is FTS5 syntax neither fails nor changes what is found", async () => {
  const index = memoryIndex();
  index.add([
    line(1, "alpha beta"),
    line(2, "alpha NEAR( gamma"),
    line(3, "OR AND NOT"),
    line(4, 'she said "alpha"'),
    line(5, "alphabet soup"),
  ]);
  const found = async (...words: string[]) => seqs(await find(index, words));
  for (const word of ['"', "*", "(", ")", "^", ":", "-", "+", '"*']) {
    assert.deepEqual(await found("alpha", word), await found("alpha"), word);
  }
  assert.deepEqual(await found("alpha"), [5, 4, 2, 1], "alpha*");
  assert.deepEqual(await found("alph"), [5, 4, 2, 1], "the start of a word");
  assert.deepEqual(await found("beta", "alph"), [1], "the last word's start");
  assert.deepEqual(await found("alph", "beta"), [], "the others whole");
  assert.deepEqual(await found("alph*"), [5, 4, 2, 1], "a * is only text");
  assert.deepEqual(await found('alph"*'), [5, 4, 2, 1], "so is a quote");
  assert.deepEqual(await found('al" OR "so'), [], "no operator gets in");
  assert.deepEqual(await found("NEAR(", "gam"), [2], "near as a word");
  assert.deepEqual(await found("OR"), [3], "OR as a word, not an operator");
  assert.deepEqual(await found("alpha", "OR", "beta"), [], "every word");
  assert.deepEqual(await found("NOT"), [3]);
  assert.deepEqual(await found("scope:r"), [], "no other column");
  assert.deepEqual(await found("{scope}", "r"), [], "no column filter");
  assert.deepEqual(await found("r"), [], "the scope tokens are not text");
  await index.close();
});

Deno.test("SearchIndex.trim() keeps the newest rows and none older than the days kept", async () => {
  const index = memoryIndex();
  index.add(Array.from({ length: 10 }, (_, i) => line(i + 1, "x")));
  index.trim({ keepRows: 6, keepDays: 0, now: T0 });
  assert.deepEqual(seqs(await find(index, ["x"])), [10, 9, 8, 7, 6, 5]);
  const now = T0 + 86_400_000 + 8000; // lines 1..7 are older than a day
  index.trim({ keepRows: 0, keepDays: 1, now });
  assert.deepEqual(seqs(await find(index, ["x"])), [10, 9, 8]);
  await index.close();
});

Deno.test("SearchIndex keeps its own file, search.db, with the epoch and the last number it holds; close() waits for the last lines", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, SEARCH_FILE);
    const first = memoryIndex({ path });
    first.add([line(1, "kept"), line(2, "kept too")]);
    await first.close(); // no find: close alone waits for them
    const db = new DatabaseSync(path, { readOnly: true });
    const state = Object.fromEntries(
      db.prepare("SELECT key, value FROM state").all()
        .map((row) => [row.key, row.value]),
    );
    db.close();
    // A cluster's file made anew lacks everything from 1 until caught up.
    assert.deepEqual(state, { behind: "1", epoch: "e1", last: "2" });
    const opened: IndexOpened[] = [];
    const again = memoryIndex({ path, onOpen: (o) => opened.push(o) });
    assert.deepEqual(seqs(await find(again, ["kept"])), [2, 1]);
    assert.deepEqual(opened, [{ rebuilt: false, last: 2, nice: NICE }]);
    await again.close();
  });
});

Deno.test("SearchIndex is made again, empty, for another epoch, and for a damaged file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, SEARCH_FILE);
    const first = memoryIndex({ path });
    first.add([line(1, "old epoch")]);
    await first.close();
    const opened: IndexOpened[] = [];
    const other = memoryIndex({
      path,
      epoch: () => "e2",
      onOpen: (o) => opened.push(o),
    });
    assert.deepEqual(await find(other, ["epoch"]), []);
    other.add([line(1, "new epoch")]);
    await other.close();
    assert.deepEqual(opened, [{ rebuilt: true, last: 0, nice: NICE }]);
    await Deno.writeTextFile(path, "not a database at all ".repeat(200));
    await Deno.remove(`${path}-wal`).catch(() => {});
    const damaged = memoryIndex({
      path,
      epoch: () => "e2",
      onOpen: (o) => opened.push(o),
    });
    assert.deepEqual(await find(damaged, ["epoch"]), []);
    assert.deepEqual(opened.at(-1), { rebuilt: true, last: 0, nice: NICE });
    await damaged.close();
  });
});

Deno.test("SearchIndex.clear() empties the file and records the new epoch: a restart in that epoch keeps what came after", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, SEARCH_FILE);
    const first = memoryIndex({ path });
    first.add([line(7, "numbered before"), line(8, "numbered before")]);
    first.clear("e2");
    first.add([line(1, "numbered again")]);
    await first.close();
    const opened: IndexOpened[] = [];
    const again = memoryIndex({
      path,
      epoch: () => "e2",
      onOpen: (o) => opened.push(o),
    });
    assert.deepEqual(seqs(await find(again, ["numbered"])), [1]);
    assert.deepEqual(opened, [{ rebuilt: false, last: 1, nice: NICE }]);
    await again.close();
  });
});

Deno.test("SearchIndex: a line posted again (not above the last it holds) is one row", async () => {
  const errors: unknown[] = [];
  const index = memoryIndex({ onError: (error) => errors.push(error) });
  index.add([line(1, "twice over"), line(2, "twice over")]);
  index.add([line(2, "twice over"), line(3, "twice over")]);
  assert.deepEqual(seqs(await find(index, ["twice"])), [3, 2, 1]);
  assert.deepEqual(errors, []);
  await index.close();
});

Deno.test("SearchIndex: a worker that ends is logged and another started, posted again what was not written (finds fail at once)", async () => {
  await withTempDir(async (dir) => {
    const errors: unknown[] = [];
    const opened: IndexOpened[] = [];
    const index = memoryIndex({
      path: join(dir, SEARCH_FILE),
      source: crashingOnce(join(dir, "crashed")),
      onError: (error) => errors.push(error),
      onOpen: (o) => opened.push(o),
    });
    index.add([line(1, "before")]);
    index.add([line(2, "crash")]);
    index.add([line(3, "after")]);
    await assert.rejects(find(index, ["crash"]), /the search index stopped/);
    const found = await find(index, ["crash"]);
    assert.deepEqual(seqs(found), [2], "the line it fell over is written");
    assert.deepEqual(seqs(await find(index, ["after"])), [3]);
    assert.deepEqual(seqs(await find(index, ["before"])), [1]);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /the worker fell over/);
    assert.deepEqual(opened, [
      { rebuilt: true, last: 0, nice: NICE },
      { rebuilt: false, last: 1, nice: NICE },
    ]);
    assert.equal(index.unwritten, 0);
    await index.close();
  });
});

Deno.test("SearchIndex.close() while its worker is down (waiting to start again) fails the finds that wait, and leaves nothing running", async () => {
  await withTempDir(async (dir) => {
    const crashed = Promise.withResolvers<unknown>();
    const clock = new FakeClock(); // the next worker waits for it: never
    const index = memoryIndex({
      clock,
      source: crashingOnce(join(dir, "crashed")),
      onError: crashed.resolve,
    });
    index.add([line(1, "crash")]);
    assert.match(String(await crashed.promise), /fell over/);
    const finding = find(index, ["crash"]);
    await index.close();
    await assert.rejects(finding, /the search index stopped/);
    assert.equal(index.unwritten, 0);
  });
});

Deno.test("Indexer posts messages and actions a timer later, in batches, never private lines or others", async () => {
  const clock = new FakeClock();
  const index = memoryIndex();
  const indexer = new Indexer(index, {
    clock,
    epoch: () => "e1",
    flushMs: 100,
    batchLines: 2,
  });
  indexer.take(event(1, { type: "MSG", alias: "amy", text: "one" }));
  indexer.take(event(2, { type: "JOIN", alias: "bob", online: "2" }));
  await clock.advance(99);
  assert.equal(indexer.pending, 1, "the JOIN is not indexed; a timer later");
  indexer.take(event(3, { type: "ME", alias: "amy", text: "one two" }, "#ops"));
  indexer.take(event(4, { type: "MSG", alias: "amy", text: "one three" }));
  assert.equal(indexer.pending, 3);
  assert.equal(index.unwritten, 0, "nothing posted in the step");
  await clock.advance(0);
  assert.equal(indexer.pending, 0, "a full batch, once the step is done");
  assert.equal(index.unwritten, 3, "posted, in two batches");
  assert.deepEqual(seqs(await find(index, ["one"], ["", "#ops"])), [4, 3, 1]);
  assert.equal(index.unwritten, 0);
  indexer.close();
  await index.close();
});

Deno.test("Indexer empties the index when the log's numbering starts again, and drops lines past its bound", async () => {
  const index = memoryIndex();
  index.add([line(7, "old epoch"), line(8, "old epoch")]);
  assert.deepEqual(seqs(await find(index, ["old"])), [8, 7]);
  let epoch = "e1";
  const indexer = new Indexer(index, {
    clock: systemClock,
    epoch: () => epoch,
    maxPending: 2,
  });
  indexer.take(event(9, { type: "MSG", alias: "amy", text: "old epoch" }));
  epoch = "e2";
  indexer.take(event(1, { type: "MSG", alias: "amy", text: "new epoch" }));
  indexer.take(event(2, { type: "MSG", alias: "amy", text: "new epoch" }));
  indexer.take(event(3, { type: "MSG", alias: "amy", text: "new epoch" }));
  assert.equal(indexer.dropped, 1);
  indexer.flush();
  assert.deepEqual(seqs(await find(index, ["epoch"])), [2, 1]);
  indexer.close();
  await index.close();
});

Deno.test("Indexer takes a line handed on again in its epoch once (a server counted lost reads on from the rooms' snapshot): the index is not emptied", async () => {
  const index = memoryIndex();
  const indexer = new Indexer(index, { clock: systemClock, epoch: () => "e1" });
  indexer.take(event(1, { type: "MSG", alias: "amy", text: "kept one" }));
  indexer.take(event(2, { type: "MSG", alias: "amy", text: "kept two" }));
  indexer.flush();
  indexer.take(event(2, { type: "MSG", alias: "amy", text: "kept two" }));
  indexer.take(event(3, { type: "MSG", alias: "amy", text: "kept three" }));
  indexer.flush();
  assert.deepEqual(seqs(await find(index, ["kept"])), [3, 2, 1]);
  indexer.close();
  await index.close();
});

Deno.test("IndexSearch finds a line handed on just now, before its timer; past its finds at once, ERR search-limit", async () => {
  const search = new IndexSearch({
    clock: new FakeClock(),
    epoch: () => "e1",
    path: null,
    chat: null,
    maxFinds: 1,
  });
  search.heard(event(1, { type: "MSG", alias: "amy", text: "fresh" }));
  search.heard(event(2, { type: "JOIN", alias: "bob", online: "2" }));
  assert.deepEqual(search.backlog(), { waiting: 1, dropped: 0 }, "waits");
  const first = search.find(["fresh"], [""], 50);
  assert.deepEqual(search.backlog(), { waiting: 1, dropped: 0 }, "posted");
  await assert.rejects(
    search.find(["fresh"], [""], 50),
    (e) => e instanceof ProtocolError && e.code === "search-limit",
  );
  assert.deepEqual((await first).map((l) => l.seq), [1]);
  assert.deepEqual(search.backlog(), { waiting: 0, dropped: 0 }, "written");
  assert.deepEqual(await search.find(["*"], [""], 50), [], "nothing to find");
  await search.close();
});

Deno.test("IndexSearch's backlog counts the lines it left out, past its bound", async () => {
  const search = new IndexSearch({
    clock: new FakeClock(),
    epoch: () => "e1",
    path: null,
    chat: null,
    maxPending: 2,
  });
  for (let seq = 1; seq <= 3; seq++) {
    search.heard(event(seq, { type: "MSG", alias: "amy", text: `n${seq}` }));
  }
  assert.deepEqual(search.backlog(), { waiting: 2, dropped: 1 });
  await search.close();
});

Deno.test("Retention deletes from the index the messages it deletes from the log", async () => {
  using store = openStore(null);
  registerIn(store.db, "#quiet");
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  const search = new IndexSearch({
    clock: systemClock,
    epoch: () => log.epoch,
    path: null,
    chat: null,
  });
  log.subscribe((e) => search.heard(e));
  log.append({ type: "MSG", alias: "q", text: "quiet note" }, "1", {
    room: "#quiet",
  });
  for (let i = 0; i < 20; i++) {
    log.append({ type: "MSG", alias: "b", text: `busy note ${i}` }, "2");
  }
  await log.close();
  const retention = new Retention(store.db, {
    clock: systemClock,
    keepDays: 0,
    keepRows: 5,
    spare: 1, // each registered room's newest line stays
  });
  retention.onDelete((gone, through) => search.delete(gone, through));
  retention.start();
  retention.stop();
  const inEvents = (store.db.prepare(
    "SELECT seq FROM events WHERE type = 'MSG' ORDER BY seq DESC",
  ).all() as { seq: number }[]).map((row) => Number(row.seq));
  const found = seqs(await search.find(["note"], ["", "#quiet"], 50));
  assert.equal(inEvents.length, 5);
  assert.deepEqual(found, inEvents, "the index holds what the log holds");
  assert.ok(found.includes(1), "the quiet room's spared line stays");
  await search.close();
});

Deno.test("IndexSearch catches up at start from what chat.db stored after the index's last line (a killed server, an older data directory)", async () => {
  await withTempDir(async (dir) => {
    const options = {
      clock: systemClock,
      epoch: () => "e1",
      path: join(dir, SEARCH_FILE),
      chat: join(dir, DATABASE_FILE),
    };
    {
      using store = openStore(dir);
      const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
      const search = new IndexSearch(options);
      log.subscribe((e) => search.heard(e));
      log.append({ type: "MSG", alias: "amy", text: "indexed first" }, "1");
      await log.close();
      await search.close();
      // The server goes on without its index (killed before it wrote).
      const more = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
      more.subscribe(() => {});
      more.append({ type: "MSG", alias: "amy", text: "stored unindexed" }, "1");
      more.append({ type: "JOIN", alias: "bob", online: "2" }, "2");
      more.append({ type: "ME", alias: "bob", text: "also unindexed" }, "2", {
        room: "#ops",
      });
      await more.close();
    }
    const opened: IndexOpened[] = [];
    const search = new IndexSearch({
      ...options,
      onOpen: (o) => opened.push(o),
    });
    assert.deepEqual(
      (await search.find(["unindexed"], ["", "#ops"], 50)).map((l) => l.seq),
      [4, 2],
    );
    assert.deepEqual(
      (await search.find(["first"], [""], 50)).map((l) => l.seq),
      [1],
    );
    assert.deepEqual(opened, [{ rebuilt: false, last: 4, nice: NICE }]);
    await search.close();
  });
});

Deno.test("A cluster's index caught up from the stream still lacks, at its next start, a line it dropped live meanwhile", async () => {
  await withTempDir(async (dir) => {
    const open = () =>
      new IndexSearch({
        clock: new FakeClock(),
        epoch: () => "e1",
        path: join(dir, "search.db"),
        chat: null, // a cluster's
        maxPending: 2,
      });
    const note = (seq: number) =>
      event(seq, { type: "MSG", alias: "amy", text: `note ${seq}` });
    const first = open();
    // A new cluster: nothing to take back from the stream.
    assert.equal(await first.catchUp!.caughtUp(null), true);
    first.heard(note(1));
    first.heard(note(2));
    await first.close();
    const second = open(); // down meanwhile: it lacks 3 on
    assert.equal(await second.catchUp!.lacking(), 3);
    for (const seq of [10, 11, 12]) second.heard(note(seq)); // read live
    assert.equal(second.indexer.dropped, 1); // 12: too many waiting
    await second.find(["note"], [""], 50); // written: room for more
    second.heard(note(13)); // indexed after it
    await second.find(["note"], [""], 50);
    second.catchUp!.add([note(3), note(9)]); // read back from the stream
    assert.equal(await second.catchUp!.caughtUp(null), true);
    await second.close();
    const third = open();
    // Before, the catch-up's end forgot it: 12 was never indexed.
    assert.equal(await third.catchUp!.lacking(), 12);
    await third.close();
  });
});
