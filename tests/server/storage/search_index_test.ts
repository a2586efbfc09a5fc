/** Tests of the search index on a real SQLite database: what it finds, in which rooms, in what order, what it forgets. */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { createLogger } from "../../../lib/log.ts";
import { localBackend } from "../../../lib/server/backend.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import type { RoomEvent, RoomLine } from "../../../lib/server/room/room_log.ts";
import { Indexer, IndexSearch } from "../../../lib/server/storage/indexer.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import {
  type IndexedLine,
  SearchIndex,
} from "../../../lib/server/storage/search_index.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";
import { withTempDir } from "../../_helpers.ts";

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

Deno.test("SearchIndex finds lines holding every word, in the rooms asked only, newest first", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    const index = new SearchIndex(store.db);
    index.add([
      line(1, "Deploy on Friday"),
      line(2, "the deploy failed", "#ops"),
      line(3, "friday drinks", "#fun"),
      line(4, "déploy again friday", "", "ME"),
      line(5, "nothing here", "#ops"),
    ]);
    assert.deepEqual(seqs(index.find(["deploy"], [""], 50)), [4, 1]);
    assert.deepEqual(seqs(index.find(["deploy"], ["", "#ops"], 50)), [
      4,
      2,
      1,
    ]);
    assert.deepEqual(
      seqs(index.find(["deploy", "friday"], ["", "#ops", "#fun"], 50)),
      [4, 1],
    );
    assert.deepEqual(seqs(index.find(["friday"], ["#fun"], 50)), [3]);
    assert.deepEqual(
      seqs(index.find(["drinks"], ["", "#ops"], 50)),
      [],
      "not in #fun",
    );
    assert.deepEqual(index.find(["again"], [""], 50), [{
      seq: 4,
      time: T0 + 4000,
      room: "",
      kind: "ME",
      alias: "amy",
      text: "déploy again friday",
    }]);
    assert.equal(index.lastSeq(), 5);
    await Promise.resolve();
  });
});

Deno.test("SearchIndex answers the newest 50 of many matches", () => {
  using store = openStore(null);
  const index = new SearchIndex(store.db);
  index.add(Array.from({ length: 120 }, (_, i) => line(i + 1, `word ${i}`)));
  const found = index.find(["word"], [""], 50);
  assert.equal(found.length, 50);
  assert.deepEqual(seqs(found), Array.from({ length: 50 }, (_, i) => 120 - i));
});

Deno.test("SearchIndex: a word that is FTS5 syntax neither fails nor changes what is found", () => {
  using store = openStore(null);
  const index = new SearchIndex(store.db);
  index.add([
    line(1, "alpha beta"),
    line(2, "alpha NEAR( gamma"),
    line(3, "OR AND NOT"),
    line(4, 'she said "alpha"'),
  ]);
  const find = (...words: string[]) => seqs(index.find(words, [""], 50));
  for (
    const word of ['"', "*", "(", ")", "^", ":", "-", "+"]
  ) {
    assert.deepEqual(find("alpha", word), find("alpha"), word);
  }
  assert.deepEqual(find("alpha"), [4, 2, 1]);
  assert.deepEqual(find("NEAR(", "gamma"), [2], "near as a word");
  assert.deepEqual(find("OR"), [3], "OR as a word, not an operator");
  assert.deepEqual(find("alpha", "OR", "beta"), [], "every word required");
  assert.deepEqual(find("NOT"), [3]);
  assert.deepEqual(find("scope:r"), [], "no other column");
  assert.deepEqual(find("{scope}", "r"), [], "no column filter");
  assert.deepEqual(find("alph*"), [], "no prefix query");
  assert.deepEqual(find("r"), [], "the scope tokens are not text");
});

Deno.test("SearchIndex.trim() keeps the newest rows and none older than the days kept", () => {
  using store = openStore(null);
  const index = new SearchIndex(store.db);
  index.add(Array.from({ length: 10 }, (_, i) => line(i + 1, "x")));
  assert.equal(index.trim({ keepRows: 6, keepDays: 0, now: T0 }), 4);
  assert.deepEqual(seqs(index.find(["x"], [""], 50)), [10, 9, 8, 7, 6, 5]);
  const now = T0 + 86_400_000 + 8000; // lines 1..7 are older than a day
  assert.equal(index.trim({ keepRows: 0, keepDays: 1, now }), 3);
  assert.deepEqual(seqs(index.find(["x"], [""], 50)), [10, 9, 8]);
});

Deno.test("Indexer indexes messages and actions a timer later, in batches, never private lines or others", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const index = new SearchIndex(store.db);
  const indexer = new Indexer(index, { clock, flushMs: 100, batchLines: 2 });
  indexer.take(event(1, { type: "MSG", alias: "amy", text: "one" }));
  indexer.take(event(2, { type: "JOIN", alias: "bob", online: "2" }));
  indexer.take(event(3, { type: "ME", alias: "amy", text: "one two" }, "#ops"));
  indexer.take(event(4, { type: "MSG", alias: "amy", text: "one three" }));
  assert.equal(indexer.pending, 3, "the JOIN is not indexed");
  assert.equal(index.lastSeq(), 0, "nothing in the step that handed it on");
  await clock.advance(100);
  // One batch of 2 on the timer, the rest on the next turn.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(indexer.pending, 0);
  assert.deepEqual(seqs(index.find(["one"], ["", "#ops"], 50)), [4, 3, 1]);
  indexer.close();
});

Deno.test("Indexer empties the index when the log's numbering starts again", () => {
  using store = openStore(null);
  const index = new SearchIndex(store.db);
  index.add([line(7, "old epoch"), line(8, "old epoch")]);
  const indexer = new Indexer(index, { clock: systemClock });
  indexer.take(event(1, { type: "MSG", alias: "amy", text: "new epoch" }));
  indexer.flush();
  assert.deepEqual(seqs(index.find(["epoch"], [""], 50)), [1]);
  indexer.close();
});

Deno.test("IndexSearch finds a line handed on just now, before its timer", () => {
  using store = openStore(null);
  const search = new IndexSearch(store.db, { clock: new FakeClock() });
  search.heard(event(1, { type: "MSG", alias: "amy", text: "fresh" }));
  assert.deepEqual(search.find(["fresh"], [""], 50).map((l) => l.seq), [1]);
  search.close();
});

Deno.test("Retention deletes from the index the messages it deletes from the log", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  const search = new IndexSearch(store.db, { clock: systemClock });
  log.subscribe((e) => search.heard(e));
  log.append({ type: "MSG", alias: "q", text: "quiet note" }, "1", {
    room: "#quiet",
  });
  for (let i = 0; i < 20; i++) {
    log.append({ type: "MSG", alias: "b", text: `busy note ${i}` }, "2");
  }
  await log.close();
  search.indexer.flush();
  const retention = new Retention(store.db, {
    clock: systemClock,
    keepDays: 0,
    keepRows: 5,
    spare: 1, // each room's newest line stays
  });
  retention.onDelete((gone) => search.index.delete(gone));
  retention.start();
  retention.stop();
  const inEvents = (store.db.prepare(
    "SELECT seq FROM events WHERE type = 'MSG' ORDER BY seq DESC",
  ).all() as { seq: number }[]).map((row) => Number(row.seq));
  const found = seqs(search.find(["note"], ["", "#quiet"], 50));
  assert.equal(inEvents.length, 5);
  assert.deepEqual(found, inEvents, "the index holds what the log holds");
  assert.ok(found.includes(1), "the quiet room's spared line stays");
  search.close();
});

Deno.test("localBackend() indexes at start what the log stored after the index's last line (a killed server, an older data directory)", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
  log.subscribe(() => {}); // stored, never indexed
  log.append({ type: "MSG", alias: "amy", text: "stored unindexed" }, "1");
  log.append({ type: "JOIN", alias: "bob", online: "2" }, "2");
  log.append({ type: "ME", alias: "bob", text: "also unindexed" }, "2", {
    room: "#ops",
  });
  await log.close();
  const backend = localBackend(
    store,
    parseServerArgs([]),
    systemClock,
    createLogger("error", () => {}),
  );
  try {
    assert.deepEqual(
      backend.search.find(["unindexed"], ["", "#ops"], 50).map((l) => l.seq),
      [3, 1],
    );
  } finally {
    backend.search.close();
    await backend.close();
  }
});
