/**
 * The durable log's index of each room's numbers as a restart builds it
 * (`roomSeqsOf` in `log_range.ts`), real SQLite: from the rows and from
 * the tombstones of what retention deleted, so that a catch-up after the
 * restart says what it said before; a line written by hand that is no
 * JSON does not stop the start; a position older than the index's window
 * is a gap.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import type { SinceOptions } from "../../../lib/server/room/room_log.ts";
import { roomSeqsOf } from "../../../lib/server/storage/log_range.ts";
import { Retention } from "../../../lib/server/storage/retention.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";

const OPTIONS = { clock: systemClock, keep: 0 };

Deno.test("SqliteLog.since() after a restart counts as before the lines retention deleted (the index takes the tombstones too) and those over the limit", async () => {
  using store = openStore(null);
  const log = new SqliteLog(store.db, OPTIONS);
  for (let i = 1; i <= 10; i++) {
    const room = i % 2 === 0 ? "#a" : undefined;
    log.append({ type: "MSG", alias: "b", text: `m${i}` }, "1", { room });
  }
  log.append({ type: "NICK", alias: "b", newAlias: "c", online: "1" }, "1");
  await log.close();
  const retention = new Retention(store.db, {
    clock: systemClock,
    keepDays: 0,
    keepRows: 4,
    tombstones: 100,
  });
  retention.start();
  retention.stop();
  const again = new SqliteLog(store.db, OPTIONS);
  const asks: [string, number, SinceOptions][] = [
    ["#lobby", 0, { limit: 2, defaultRoom: true }],
    ["#lobby", 2, { limit: 10, defaultRoom: true }],
    ["#a", 0, { limit: 1 }],
    ["#a", 7, { limit: 10, before: 10 }],
  ];
  for (const [room, after, options] of asks) {
    const before = await log.since(room, after, options);
    assert.deepEqual(await again.since(room, after, options), before);
  }
  const a = await again.since("#a", 0, { limit: 1 });
  assert.deepEqual(a.events.map((e) => e.seq), [10]);
  assert.deepEqual([a.over, a.lost.lines, a.gap], [1, 3, false]);
  await again.close();
});

Deno.test("roomSeqsOf() files a line that is no JSON under no room rather than stopping the start, and holds no further back than its window", () => {
  using store = openStore(null);
  const insert = store.db.prepare(
    "INSERT INTO events (seq, time, type, line) VALUES (?, 0, 'MSG', ?)",
  );
  insert.run(1, '{"type":"MSG","alias":"b","text":"x","room":"#a"}');
  insert.run(2, "not json");
  insert.run(3, '{"type":"MSG","alias":"b","text":"y","room":"#a"}');
  const index = roomSeqsOf(store.db, 3);
  assert.deepEqual([...index.count("#a", 0, 9, false).newest()], [3, 1]);
  assert.equal(index.count("#lobby", 0, 9, true).count, 1);
  const narrow = roomSeqsOf(store.db, 3, 2);
  assert.equal(narrow.from, 1);
  assert.deepEqual([...narrow.count("#a", 0, 9, false).newest()], [3]);
});
