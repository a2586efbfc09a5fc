/**
 * Tests of the history journal: its framing (pure: torn, damaged and
 * zero-filled tails are dropped, earlier records kept), the file owner over
 * a fake file (a failed write is taken back; syncs), and `SqliteLog` with
 * a journal over a fake clock (reads and the bounds flush; a database that
 * refuses the rows; a server killed before the database took them, on a
 * real data directory).
 */

import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import type { DatabaseSync } from "node:sqlite";
import {
  eachEvent,
  transaction,
} from "../../../lib/server/storage/events_table.ts";
import {
  decodeJournal,
  encodeRecord,
  Journal,
  JOURNAL_FILE,
  type JournalFile,
  type JournalValue,
  openJournal,
} from "../../../lib/server/storage/journal.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import type { RoomEvent, RoomLine } from "../../../lib/server/room/room_log.ts";
import { FakeClock } from "../../_fakes.ts";
import { withTempDir } from "../../_helpers.ts";

/** A row of `events` as the journal holds it. */
const row = (seq: number, text = `m${seq}`): JournalValue[] => [
  seq,
  1_000 + seq,
  "MSG",
  JSON.stringify({ type: "MSG", alias: "amy", text }),
  null,
  null,
  null,
];

/** Records of rows 1–2, 3, and 4–6, one after the other. */
function threeRecords(): { bytes: Uint8Array; ends: number[] } {
  const records = [[1, 2], [3], [4, 5, 6]].map((seqs) =>
    encodeRecord(seqs.flatMap((seq) => row(seq)))
  );
  const bytes = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  const ends: number[] = [];
  let at = 0;
  for (const record of records) {
    bytes.set(record, at);
    ends.push(at += record.length);
  }
  return { bytes, ends };
}

/** The row numbers decoded from `bytes`. */
const seqs = (bytes: Uint8Array) =>
  decodeJournal(bytes).values.filter((_, i) => i % 7 === 0);

Deno.test("journal records round-trip, record after record", () => {
  const { bytes, ends } = threeRecords();
  const decoded = decodeJournal(bytes);
  assert.deepEqual(decoded.values, [1, 2, 3, 4, 5, 6].flatMap((s) => row(s)));
  assert.equal(decoded.bytes, ends[2]);
  assert.deepEqual(decodeJournal(new Uint8Array()), { values: [], bytes: 0 });
  // Text of any kind, ids and effects too.
  const odd = [
    7,
    0,
    "TOPIC",
    '{"text":"é \\n \\u0000 😀"}',
    "id",
    "topic",
    "{}",
  ];
  assert.deepEqual(decodeJournal(encodeRecord(odd)).values, odd);
});

Deno.test("journal reading drops a torn tail, keeping the records before it", () => {
  const { bytes, ends } = threeRecords();
  for (let cut = 0; cut < bytes.length; cut++) {
    const whole = ends.filter((end) => end <= cut).length;
    const expected = [[], [1, 2], [1, 2, 3], [1, 2, 3, 4, 5, 6]][whole];
    assert.deepEqual(seqs(bytes.subarray(0, cut)), expected, `cut at ${cut}`);
    assert.equal(
      decodeJournal(bytes.subarray(0, cut)).bytes,
      [0, ...ends][whole],
    );
  }
});

Deno.test("journal reading drops a record with a flipped byte and all after it", () => {
  const { bytes, ends } = threeRecords();
  for (let at = 0; at < bytes.length; at++) {
    const damaged = bytes.slice();
    damaged[at]! ^= 0x10;
    const before = ends.filter((end) => end <= at).length;
    assert.deepEqual(
      seqs(damaged),
      [[], [1, 2], [1, 2, 3]][before],
      `byte ${at} flipped`,
    );
  }
});

Deno.test("journal reading drops a zero-filled or garbage tail, and records that do not go on from the one before", () => {
  const { bytes, ends } = threeRecords();
  const zeros = new Uint8Array(ends[1]! + 4096);
  zeros.set(bytes.subarray(0, ends[1]));
  assert.deepEqual(seqs(zeros), [1, 2, 3]);
  // A power cut can leave zeros in place of a record that was written.
  const holed = bytes.slice();
  holed.fill(0, ends[0]!, ends[1]!);
  assert.deepEqual(seqs(holed), [1, 2]);
  // Well-formed records, but not numbered on from the one before.
  const gap = new Uint8Array([
    ...encodeRecord(row(1)),
    ...encodeRecord(row(3)),
  ]);
  assert.deepEqual(seqs(gap), [1]);
  const back = new Uint8Array([
    ...encodeRecord([...row(5), ...row(6)]),
    ...encodeRecord(row(2)),
  ]);
  assert.deepEqual(seqs(back), [5, 6]);
  // Not rows: JSON, but of the wrong shape.
  const text = new TextEncoder().encode('["a"]');
  const frame = new Uint8Array(8 + text.length);
  const good = encodeRecord(row(1));
  frame.set(good.subarray(0, 8)); // the wrong length and checksum
  assert.deepEqual(seqs(frame), []);
  assert.deepEqual(seqs(encodeRecord([1, 0, "MSG"])), []);
  assert.deepEqual(seqs(encodeRecord([...row(1).slice(0, 6), 5])), []);
});

/** A journal's file in memory, whose writes and syncs fail on demand. */
class FakeFile implements JournalFile {
  bytes = new Uint8Array();
  syncs = 0;
  /** Bytes the next write takes before it fails (undefined: all). */
  failAfter: number | undefined;
  failTruncate = false;
  failSync = false;

  writeSync(bytes: Uint8Array): number {
    const take = Math.min(bytes.length, this.failAfter ?? bytes.length);
    if (take === 0 && bytes.length > 0) throw new Error("ENOSPC");
    this.bytes = new Uint8Array([...this.bytes, ...bytes.subarray(0, take)]);
    if (this.failAfter !== undefined) this.failAfter -= take;
    return take;
  }
  syncDataSync(): void {
    if (this.failSync) throw new Error("EIO");
    this.syncs++;
  }
  truncateSync(length = 0): void {
    if (this.failTruncate) throw new Error("EIO");
    this.bytes = this.bytes.slice(0, length);
  }
  close(): void {}
}

Deno.test("Journal takes back a write that failed, or refuses records until emptied if it cannot", () => {
  const file = new FakeFile();
  const journal = new Journal(file);
  journal.append(encodeRecord(row(1)), false);
  const kept = file.bytes.length;
  file.failAfter = 10; // the disk fills in mid-record
  assert.throws(() => journal.append(encodeRecord(row(2)), false), /ENOSPC/);
  assert.equal(file.bytes.length, kept, "cut back to where it was");
  assert.equal(journal.size, kept);
  file.failAfter = undefined;
  journal.append(encodeRecord(row(2)), false);
  assert.deepEqual(seqs(file.bytes), [1, 2]);
  // A sync that fails: the record is not kept either.
  file.failSync = true;
  assert.throws(() => journal.append(encodeRecord(row(3)), true), /EIO/);
  assert.deepEqual(seqs(file.bytes), [1, 2]);
  file.failSync = false;
  // It cannot even be cut back: no record is taken until it is emptied.
  file.failAfter = 5;
  file.failTruncate = true;
  assert.throws(() => journal.append(encodeRecord(row(3)), false), /ENOSPC/);
  assert.equal(journal.broken, true);
  file.failAfter = undefined;
  assert.throws(() => journal.append(encodeRecord(row(3)), false), /damaged/);
  file.failTruncate = false;
  journal.clear();
  assert.equal(journal.broken, false);
  assert.equal(file.bytes.length, 0);
  journal.append(encodeRecord(row(3)), true);
  assert.deepEqual(seqs(file.bytes), [3]);
  assert.equal(file.syncs, 1);
});

const msg = (text: string): RoomLine => ({ type: "MSG", alias: "amy", text });
const texts = (events: readonly RoomEvent[]) =>
  events.map((e) => "text" in e.line ? e.line.text : e.line.type);

/** Resolves after the turns already queued (a flush). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits until what was appended is handed on or reported. */
async function settledLog(log: SqliteLog): Promise<void> {
  while (log.settled() !== undefined) await log.settled();
}

/** A SqliteLog on a database in memory with a journal in a fake file. */
function journaled(options: { flushLines?: number; full?: boolean } = {}) {
  const store = openStore(null);
  const clock = new FakeClock();
  const file = new FakeFile();
  const errors: string[] = [];
  const log = new SqliteLog(store.db, {
    clock,
    keep: 10,
    journal: new Journal(file),
    flushLines: options.flushLines ?? 4,
    flushMs: 100,
    durability: options.full ? "full" : "normal",
    onError: (what) => errors.push(what),
    onResume: () => errors.push("resumed"),
  });
  const seen: string[] = [];
  log.subscribe(
    (event) => seen.push(texts([event])[0]!),
    (lines, outcome) =>
      seen.push(
        ...lines.map((l) =>
          `${outcome} ${texts([{ ...l, seq: 0, time: 0 }])[0]}`
        ),
      ),
  );
  const stored = () => texts([...eachEvent(store.db, {})]);
  return { store, clock, file, log, seen, errors, stored };
}

Deno.test("SqliteLog with a journal hands a line on once it is in the journal; the database takes it after flushMs", async () => {
  const { store, clock, file, log, seen, stored } = journaled();
  log.append(msg("one"), "1");
  log.append(msg("two"), "1");
  await settledLog(log);
  assert.deepEqual(seen, ["one", "two"]);
  assert.deepEqual(seqs(file.bytes), [1, 2], "one record for the turn");
  assert.deepEqual(stored(), [], "not in the database yet");
  assert.deepEqual(texts(log.recent(10)), ["one", "two"], "history has them");
  await clock.advance(99);
  assert.deepEqual(stored(), []);
  await clock.advance(1);
  assert.deepEqual(stored(), ["one", "two"]);
  assert.equal(file.bytes.length, 0, "the journal starts again empty");
  assert.equal(clock.pending, 0);
  log.append(msg("three"), "1");
  await settledLog(log);
  await log.close();
  assert.deepEqual(stored(), ["one", "two", "three"], "close flushes");
  assert.equal(file.bytes.length, 0);
  assert.equal(clock.pending, 0, "no timer left");
  store.close();
});

Deno.test("SqliteLog with a journal tells a line sent again under its id from another, in the same turn, in the journal and in the database", async () => {
  const { store, clock, file, log, seen, stored } = journaled({
    flushLines: 10,
  });
  const A = "AAAAAAAAAAAAAAAAAAAAAA";
  const B = "BBBBBBBBBBBBBBBBBBBBBB";
  log.append(msg("one"), "1", { id: A });
  log.append(msg("one"), "1", { id: A }); // the same turn
  log.append(msg("uno"), "1", { id: A });
  await settledLog(log);
  log.append(msg("two"), "1", { id: B });
  await settledLog(log);
  assert.deepEqual(stored(), [], "both in the journal only");
  log.append(msg("one"), "1", { id: A });
  log.append(msg("dos"), "1", { id: B });
  await settledLog(log);
  await clock.advance(100);
  assert.deepEqual(stored(), ["one", "two"]);
  log.append(msg("two"), "1", { id: B }); // read from the database
  log.append(msg("one!"), "1", { id: A });
  await settledLog(log);
  // In a turn the journal refuses: each line as it is.
  log.append(msg("three"), "1", { id: "CCCCCCCCCCCCCCCCCCCCCC" });
  await settledLog(log);
  file.failAfter = 0;
  log.append(msg("three"), "1", { id: "CCCCCCCCCCCCCCCCCCCCCC" });
  log.append(msg("four"), "1", { id: "DDDDDDDDDDDDDDDDDDDDDD" });
  await settledLog(log);
  assert.deepEqual(seen, [
    "one",
    "duplicate one",
    "reused uno",
    "two",
    "duplicate one",
    "reused dos",
    "duplicate two",
    "reused one!",
    "three",
    "duplicate three",
    "refused four",
  ]);
  file.failAfter = undefined;
  await log.close();
  store.close();
});

Deno.test("SqliteLog with a journal has the database take the lines once flushLines wait", async () => {
  const { store, file, log, stored } = journaled({ flushLines: 4 });
  for (let i = 1; i <= 3; i++) log.append(msg(`m${i}`), "1");
  await settledLog(log);
  assert.deepEqual(stored(), []);
  log.append(msg("m4"), "1");
  await settledLog(log);
  assert.deepEqual(stored(), [], "handed on first");
  await nextTurn();
  assert.deepEqual(stored(), ["m1", "m2", "m3", "m4"]);
  assert.equal(file.bytes.length, 0);
  await log.close();
  store.close();
});

Deno.test("SqliteLog with a journal has the database take the lines before a retention step", async () => {
  using store = openStore(null);
  const clock = new FakeClock();
  const retention = new Retention(store.db, {
    clock,
    keepRows: 2,
    keepDays: 0,
    everyMs: 1_000,
  });
  const log = new SqliteLog(store.db, {
    clock,
    keep: 10,
    journal: new Journal(new FakeFile()),
    flushMs: 10_000,
    retention,
  });
  retention.start();
  for (const text of ["m1", "m2", "m3"]) log.append(msg(text), "1");
  await settledLog(log);
  assert.deepEqual(texts([...eachEvent(store.db, {})]), []);
  await clock.advance(1_000); // a step: the lines first, then the oldest gone
  assert.deepEqual(texts([...eachEvent(store.db, {})]), ["m2", "m3"]);
  assert.deepEqual(texts(log.recent(10)), ["m2", "m3"]);
  retention.stop();
  await log.close();
});

Deno.test("SqliteLog with durability full syncs the journal once a turn", async () => {
  const { store, file, log } = journaled({ full: true, flushLines: 100 });
  log.append(msg("one"), "1");
  log.append(msg("two"), "1");
  await settledLog(log);
  assert.equal(file.syncs, 1);
  log.append(msg("three"), "1");
  await settledLog(log);
  assert.equal(file.syncs, 2);
  await log.close();
  const normal = journaled({ flushLines: 100 });
  normal.log.append(msg("one"), "1");
  await settledLog(normal.log);
  assert.equal(normal.file.syncs, 0);
  await normal.log.close();
  normal.store.close();
  store.close();
});

Deno.test("SqliteLog with a journal: a database that refuses the lines leaves them in the journal; past flushLines new lines are refused, until it takes them", async () => {
  const { store, clock, file, log, seen, errors, stored } = journaled({
    flushLines: 3,
  });
  store.db.exec("PRAGMA query_only = 1"); // the disk refuses the database's writes
  for (const text of ["a", "b", "c"]) {
    log.append(msg(text), "1");
    await settledLog(log);
  }
  assert.deepEqual(seen, ["a", "b", "c"], "durable in the journal");
  await nextTurn(); // the database is asked to take them
  assert.deepEqual(errors, ["commit"], "told once");
  log.append(msg("d"), "1");
  await settledLog(log);
  assert.deepEqual(seen.slice(3), ["refused d"]);
  await clock.advance(100); // tried again: still refused
  assert.deepEqual(seqs(file.bytes), [1, 2, 3]);
  store.db.exec("PRAGMA query_only = 0");
  log.append(msg("e"), "1");
  await settledLog(log);
  assert.deepEqual(seen.slice(4), ["e"]);
  assert.deepEqual(errors, ["commit", "resumed"]);
  assert.deepEqual(stored(), ["a", "b", "c"]);
  await log.close();
  assert.deepEqual(stored(), ["a", "b", "c", "e"]);
  store.close();
});

Deno.test("SqliteLog with a journal fails a line as before when the journal cannot take it", async () => {
  const { store, file, log, seen, errors, stored } = journaled();
  file.failAfter = 0;
  log.append(msg("lost"), "1", { id: "AAAAAAAAAAAAAAAAAAAAAA" });
  await settledLog(log);
  file.failAfter = undefined;
  log.append(msg("lost"), "1", { id: "AAAAAAAAAAAAAAAAAAAAAA" });
  await settledLog(log);
  assert.deepEqual(seen, ["refused lost", "lost"], "its id is free again");
  assert.deepEqual(errors, ["commit"]);
  await log.close();
  assert.deepEqual(stored(), ["lost"]);
  store.close();
});

Deno.test("SqliteLog with a journal, killed before the database took its lines: the next start has every line once, in order, and their ids", async () => {
  await withTempDir(async (dir) => {
    const clock = new FakeClock();
    const open = () => {
      const store = openStore(dir, { exclusive: true });
      const log = new SqliteLog(store.db, {
        clock,
        keep: 10,
        journal: store.journal,
        flushLines: 4,
      });
      return { store, log };
    };
    const ids = Array.from({ length: 6 }, (_, i) => `id-${i}-0123456789abcdef`);
    let { store, log } = open();
    for (const [i, id] of ids.entries()) {
      log.append(msg(`m${i}`), "1", { id });
      await settledLog(log); // a turn each: m0–m3 flushed, m4 and m5 not
    }
    assert.equal(store.recovery?.rows, 0);
    assert.deepEqual(texts([...eachEvent(store.db, {})]), [
      "m0",
      "m1",
      "m2",
      "m3",
    ]);
    // Killed: the log is never closed (the timer would have flushed).
    store.close();
    const journal = await Deno.readFile(`${dir}/${JOURNAL_FILE}`);
    assert.deepEqual(seqs(journal), [5, 6]);
    ({ store, log } = open());
    assert.equal(store.recovery?.rows, 2);
    assert.equal((await Deno.readFile(`${dir}/${JOURNAL_FILE}`)).length, 0);
    const events = [...eachEvent(store.db, {})];
    assert.deepEqual(texts(events), ids.map((_, i) => `m${i}`));
    assert.deepEqual(
      events.map((e) => [e.seq, e.id]),
      ids.map((id, i) => [i + 1, id]),
    );
    assert.deepEqual(texts(log.recent(10)), ids.map((_, i) => `m${i}`));
    // Their ids are known: a resend is a duplicate, not stored again.
    const seen: string[] = [];
    log.subscribe(
      (event) => seen.push(texts([event])[0]!),
      (lines, outcome) => seen.push(`${outcome} ${lines.length}`),
    );
    log.append(msg("m5"), "1", { id: ids[5] });
    log.append(msg("m4"), "1", { id: ids[4] });
    log.append(msg("m6"), "1");
    await settledLog(log);
    assert.deepEqual(seen, ["duplicate 1", "duplicate 1", "m6"]);
    assert.equal(log.recent(10).at(-1)?.seq, 7, "numbers go on");
    await log.close();
    store.close();
    // A journal whose rows the database has already (killed between the
    // database's commit and emptying the journal): not inserted again.
    await Deno.writeFile(`${dir}/${JOURNAL_FILE}`, journal);
    ({ store, log } = open());
    assert.equal(store.recovery?.rows, 0);
    assert.equal([...eachEvent(store.db, {})].length, 7);
    await log.close();
    store.close();
  });
});

Deno.test("a journal the database has no room for: the start fails saying the disk is full, and the journal keeps its rows", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/${JOURNAL_FILE}`;
    const big = "x".repeat(20_000);
    const rows = [1, 2, 3].flatMap((seq) => row(seq, big));
    await Deno.writeFile(path, encodeRecord(rows));
    const journal = await Deno.readFile(path);
    const store = openStore(null);
    try {
      const pages = store.db.prepare("PRAGMA page_count").get() as {
        page_count: number;
      };
      store.db.exec(`PRAGMA max_page_count = ${pages.page_count + 2}`);
      assert.throws(() => openJournal(path, store.db), /disk is full/);
      assert.equal(store.db.isTransaction, false);
    } finally {
      store.close();
    }
    assert.deepEqual(await Deno.readFile(path), journal, "nothing lost");
  });
});

Deno.test("a transaction SQLite rolled back by itself (a full disk at COMMIT) throws the disk's error, not the rollback's", () => {
  let open = false;
  const db = {
    get isTransaction() {
      return open;
    },
    exec(sql: string) {
      if (sql === "BEGIN") open = true;
      else if (sql === "COMMIT") {
        open = false; // SQLite gives the transaction up on SQLITE_FULL
        throw new Error("database or disk is full");
      } else if (sql === "ROLLBACK") {
        if (!open) {
          throw new Error("cannot rollback - no transaction is active");
        }
        open = false;
      }
    },
  } as unknown as DatabaseSync;
  assert.throws(() => transaction(db, () => 1), /disk is full/);
  assert.equal(transaction(fakeOk(), () => 7), 7);
});

/** A database whose transactions all commit. */
function fakeOk(): DatabaseSync {
  return { isTransaction: false, exec() {} } as unknown as DatabaseSync;
}

Deno.test("SqliteLog with a journal that cannot be emptied once the database took its lines takes no more than flushLines until it can", async () => {
  const { store, file, log, seen, errors, stored } = journaled({
    flushLines: 3,
  });
  file.failTruncate = true; // the journal cannot be emptied
  for (let i = 0; i < 12; i++) {
    log.append(msg(`m${i}`), "1");
    await settledLog(log);
    await nextTurn(); // a flush, once flushLines wait
  }
  // The database has the first lines; the journal, holding them still,
  // takes no more: its size stays bounded while it cannot be emptied.
  assert.deepEqual(stored(), ["m0", "m1", "m2"]);
  assert.ok(seqs(file.bytes).length <= 3, `${seqs(file.bytes).length} rows`);
  assert.deepEqual(seen.slice(0, 3), ["m0", "m1", "m2"]);
  assert.ok(seen.slice(3).every((s) => s.startsWith("refused ")), `${seen}`);
  assert.deepEqual(errors, ["commit"], "told once");
  file.failTruncate = false;
  log.append(msg("after"), "1");
  await settledLog(log);
  assert.deepEqual(seen.at(-1), "after");
  assert.deepEqual(seqs(file.bytes), [4], "emptied, then the new line");
  await log.close();
  assert.deepEqual(stored(), ["m0", "m1", "m2", "after"]);
  assert.deepEqual(errors, ["commit", "resumed"]);
  store.close();
});
