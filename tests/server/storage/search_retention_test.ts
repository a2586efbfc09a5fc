/** Tests of the search index following retention across a crash: what `chat.db` deleted and the index was never told of is deleted when its worker opens. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { systemClock } from "../../../lib/clock.ts";
import { IndexSearch } from "../../../lib/server/storage/indexer.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import {
  type IndexOpened,
  SEARCH_FILE,
  SearchIndex,
} from "../../../lib/server/storage/search_index.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { DATABASE_FILE, openStore } from "../../../lib/server/storage/store.ts";
import { FakeClock } from "../../_fakes.ts";
import { endingOnce } from "./_worker_faults.ts";
import { withTempDir } from "../../_helpers.ts";
import { registerIn } from "./_rooms_table.ts";

/** The options of the index of the data directory `dir` (one server). */
function indexIn(dir: string) {
  return {
    clock: systemClock,
    epoch: () => "e1",
    path: join(dir, SEARCH_FILE),
    chat: join(dir, DATABASE_FILE),
  };
}

/** What the index at `dir` finds for `note` in both rooms, newest first. */
async function found(dir: string): Promise<number[]> {
  const search = new IndexSearch({
    ...indexIn(dir),
    onError: (error) => {
      throw error;
    },
  });
  const lines = await search.find(["note"], ["", "#quiet"], 100);
  await search.close();
  return lines.map((line) => line.seq);
}

Deno.test("IndexSearch deletes at start what retention deleted and a killed server never told it (tombstones kept, or trimmed)", async () => {
  for (const tombstones of [100, 1]) {
    await withTempDir(async (dir) => {
      using store = openStore(dir);
      registerIn(store.db, "#quiet");
      const retain = (keepRows: number, told: IndexSearch | null) => {
        const retention = new Retention(store.db, {
          clock: systemClock,
          keepDays: 0,
          keepRows,
          spare: 1,
          tombstones,
        });
        retention.onDelete((seqs, through) => told?.delete(seqs, through));
        retention.start();
        retention.stop();
      };
      const search = new IndexSearch(indexIn(dir));
      const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
      log.subscribe((e) => search.heard(e));
      log.append({ type: "MSG", alias: "q", text: "quiet note" }, "1", {
        room: "#quiet",
      });
      for (let i = 0; i < 12; i++) {
        log.append({ type: "MSG", alias: "b", text: `busy note ${i}` }, "2");
      }
      await log.close();
      retain(10, search); // told: 2 to 4 go
      await search.close();
      retain(3, null); // the server is killed before the index hears of it
      const kept = (store.db.prepare(
        "SELECT seq FROM events WHERE type = 'MSG' ORDER BY seq DESC",
      ).all() as { seq: number }[]).map((row) => Number(row.seq));
      assert.deepEqual(kept, [13, 12, 1], "the quiet room's line is spared");
      assert.deepEqual(await found(dir), kept, `tombstones ${tombstones}`);
      assert.deepEqual(await found(dir), kept, "and again, told now");
    });
  }
});

Deno.test("IndexSearch drops at start the lines numbered past chat.db's last (restored from a backup): those numbers are given again", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    const options = indexIn(dir);
    const append = async (texts: string[], search: IndexSearch) => {
      const log = new SqliteLog(store.db, { clock: systemClock, keep: 10 });
      log.subscribe((e) => search.heard(e));
      for (const text of texts) {
        log.append({ type: "MSG", alias: "amy", text }, "1");
      }
      await log.close();
    };
    const first = new IndexSearch(options);
    await append(["note one", "note two", "note three", "stale four"], first);
    await first.close();
    // The backup taken after the second line is put back.
    store.db.exec("DELETE FROM events WHERE seq > 2");
    const reopened = Promise.withResolvers<IndexOpened>();
    const second = new IndexSearch({ ...options, onOpen: reopened.resolve });
    const { rebuilt, last } = await reopened.promise;
    assert.deepEqual({ rebuilt, last }, { rebuilt: false, last: 2 });
    await append(["note three again"], second);
    const notes = await second.find(["note"], [""], 50);
    assert.deepEqual(notes.map((l) => [l.seq, l.text]), [
      [3, "note three again"],
      [2, "note two"],
      [1, "note one"],
    ]);
    assert.deepEqual(await second.find(["stale"], [""], 50), []);
    await second.close();
  });
});

Deno.test("Indexer drops lines past searchPendingBytes; the index takes them again from chat.db once it holds them, as it runs or when its next worker starts", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir, { exclusive: true }); // with its journal
    const options = {
      clock: new FakeClock(), // lines wait for a search to be posted
      epoch: () => "e1",
      path: join(dir, SEARCH_FILE),
      chat: join(dir, DATABASE_FILE),
      searchPendingBytes: 200, // two lines of 82
      fillLines: 1, // a gap is taken again a line at each search
    };
    const opened = Promise.withResolvers<IndexOpened>();
    const search = new IndexSearch({ ...options, onOpen: opened.resolve });
    await opened.promise; // it caught up with an empty chat.db
    const seqs = async (index: IndexSearch) =>
      (await index.find(["note"], [""], 50)).map((line) => line.seq);
    /** Where the index's next start would take up a gap. */
    const behind = () => {
      const db = new DatabaseSync(options.path, { readOnly: true });
      const row = db.prepare("SELECT value FROM state WHERE key = 'behind'")
        .get();
      db.close();
      return row?.value;
    };
    // Its lines stay in the journal: chat.db takes them at close.
    const { journal } = store;
    const log = () =>
      new SqliteLog(store.db, { clock: new FakeClock(), keep: 10, journal });
    const say = async (from: number, through: number) => {
      const said = log();
      said.subscribe((e) => search.heard(e));
      for (let i = from; i <= through; i++) {
        said.append({ type: "MSG", alias: "amy", text: `note ${i}` }, "1");
      }
      await said.settled(); // handed on: in the journal
      return said;
    };
    const first = await say(1, 4);
    assert.deepEqual(search.backlog(), { waiting: 2, dropped: 2 });
    assert.deepEqual(await seqs(search), [2, 1], "chat.db holds no gap yet");
    assert.equal(behind(), "3");
    await first.close();
    assert.deepEqual(await seqs(search), [3, 2, 1], "once chat.db does");
    assert.equal(behind(), "4", "the rest of the gap");
    assert.deepEqual(await seqs(search), [4, 3, 2, 1]);
    assert.equal(behind(), undefined, "no gap left");
    assert.deepEqual(search.backlog(), { waiting: 0, dropped: 2 });
    const second = await say(5, 8);
    assert.deepEqual(await seqs(search), [6, 5, 4, 3, 2, 1]);
    await search.close(); // before chat.db holds 7 and 8
    await second.close();
    const again = new IndexSearch(options);
    assert.deepEqual(await seqs(again), [8, 7, 6, 5, 4, 3, 2, 1], "its next");
    await again.close();
  });
});

/** Where the index at `path` would take up a gap at its next start. */
function behindIn(path: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT value FROM state WHERE key = 'behind'").get()
      ?.value;
  } finally {
    db.close();
  }
}

Deno.test("IndexSearch: a worker started again while a gap is still in the journal keeps it for the next start", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir, { exclusive: true }); // with its journal
    const clock = new FakeClock();
    const options = {
      clock,
      epoch: () => "e1",
      path: join(dir, SEARCH_FILE),
      chat: join(dir, DATABASE_FILE),
      searchPendingBytes: 200, // two lines of 82
    };
    const opened = Promise.withResolvers<IndexOpened>();
    const search = new IndexSearch({
      ...options,
      source: endingOnce(join(dir, "ended"), "add", "crash"),
      onError: () => {},
      onOpen: opened.resolve,
    });
    await opened.promise;
    const log = new SqliteLog(store.db, {
      clock: new FakeClock(), // the journal's lines reach chat.db at close
      keep: 10,
      journal: store.journal,
    });
    log.subscribe((e) => search.heard(e));
    for (let i = 1; i <= 4; i++) {
      log.append({ type: "MSG", alias: "amy", text: `note ${i}` }, "1");
    }
    await log.settled();
    const seqs = async (index: IndexSearch) =>
      (await index.find(["note"], [""], 50)).map((line) => line.seq);
    assert.deepEqual(await seqs(search), [2, 1], "3 and 4 dropped");
    log.append({ type: "MSG", alias: "amy", text: "crash" }, "1");
    await log.settled();
    await assert.rejects(seqs(search), /Search failed/); // the worker ended
    await clock.advance(0); // the next one starts, and follows chat.db
    assert.deepEqual(await seqs(search), [2, 1]);
    assert.equal(behindIn(options.path), "3", "kept for the next start");
    await log.close(); // chat.db holds them now
    await search.close(); // before any fill (none at close)
    const again = new IndexSearch(options);
    assert.deepEqual(await seqs(again), [4, 3, 2, 1]);
    await again.close();
  });
});

Deno.test("IndexSearch: the first worker to open cuts what a restored chat.db lost, even after one ended before it could", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    const options = indexIn(dir);
    const first = new IndexSearch(options);
    const log = new SqliteLog(store.db, { clock: new FakeClock(), keep: 10 });
    log.subscribe((e) => first.heard(e));
    for (const text of ["note one", "note two", "lost note"]) {
      log.append({ type: "MSG", alias: "amy", text }, "1");
    }
    await log.close();
    await first.close();
    store.db.exec("DELETE FROM events WHERE seq = 3"); // a backup put back
    const opened = Promise.withResolvers<IndexOpened>();
    const second = new IndexSearch({
      ...options,
      source: endingOnce(join(dir, "ended"), "open"),
      onError: () => {},
      onOpen: opened.resolve,
    });
    await opened.promise; // its second worker's
    const found = await second.find(["note"], [""], 50);
    await second.close();
    assert.deepEqual(found.map((line) => line.text), ["note two", "note one"]);
  });
});

Deno.test("IndexSearch: a gap it cannot take from chat.db is told once and left to the next start; the index goes on", async () => {
  await withTempDir(async (dir) => {
    const errors: unknown[] = [];
    const opened = Promise.withResolvers<IndexOpened>();
    const search = new IndexSearch({
      clock: new FakeClock(),
      epoch: () => "e1",
      path: join(dir, SEARCH_FILE),
      chat: join(dir, "missing", DATABASE_FILE), // cannot be opened
      maxPending: 2,
      fillLines: 1,
      onError: (error) => errors.push(error),
      onOpen: opened.resolve,
    });
    await opened.promise;
    assert.equal(errors.length, 1, "following chat.db at start");
    for (let seq = 1; seq <= 5; seq++) {
      const line = { type: "MSG", alias: "amy", text: `note ${seq}` } as const;
      search.heard({ seq, time: seq, line, origin: "1" });
    }
    const seqs = async () =>
      (await search.find(["note"], [""], 50)).map((line) => line.seq);
    assert.deepEqual(await seqs(), [2, 1]);
    assert.deepEqual(await seqs(), [2, 1], "a second search, no retry");
    assert.equal(errors.length, 2, "the fill's failure, once");
    assert.match(String(errors[1]), /unable to open/);
    await search.close();
    assert.equal(behindIn(join(dir, SEARCH_FILE)), "3");
  });
});

Deno.test("SearchIndex.fill clears or moves only the gap it took (not an older one)", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    const log = new SqliteLog(store.db, { clock: new FakeClock(), keep: 10 });
    for (let i = 1; i <= 30; i++) {
      log.append({ type: "MSG", alias: "amy", text: `note ${i}` }, "1");
    }
    await log.close();
    const path = join(dir, SEARCH_FILE);
    const index = new SearchIndex({
      clock: systemClock,
      epoch: () => "e1",
      path,
      chat: join(dir, DATABASE_FILE),
      catchUpLimit: 0, // takes nothing at start
    });
    index.behind(5);
    assert.equal(await index.fill(10, 20, null), true);
    assert.equal(behindIn(path), "5", "a later gap's fill");
    assert.equal(await index.fill(5, 8, 9), true);
    assert.equal(behindIn(path), "9", "5 to 8 taken; 9 on, still to take");
    assert.equal(await index.fill(1, 3, null), true);
    assert.equal(behindIn(path), "9", "an older gap's fill");
    await index.close();
  });
});
