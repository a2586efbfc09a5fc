/**
 * The catch-up lines one address group may be read over time
 * (`--resume-rate`, `catch_up_quota.ts`), pure, on a fake clock: a group's
 * minute's worth runs out and refills at the rate, the addresses of one
 * IPv6 /64 share it and another address does not; and a catch-up of the
 * SQLite log reads no more of the room's lines than its group has left
 * (the rest are MISSING), and spends what it read at once: catch-ups
 * started in the same turn neither starve one another nor read more.
 */

import assert from "node:assert/strict";
import { systemClock } from "../../../lib/clock.ts";
import { catchUp } from "../../../lib/server/room/catch_up.ts";
import { CatchUpQuota } from "../../../lib/server/room/catch_up_quota.ts";
import type { Member } from "../../../lib/server/room/member.ts";
import type {
  LogRange,
  RoomLog,
  SinceOptions,
} from "../../../lib/server/room/room_log.ts";
import { SqliteLog } from "../../../lib/server/storage/sqlite_log.ts";
import { openStore } from "../../../lib/server/storage/store.ts";

Deno.test("CatchUpQuota.left() gives a group a minute's worth, then what refills at the rate; two addresses of one /64 share it, another address does not", () => {
  let now = 1_000_000;
  const quota = new CatchUpQuota({ linesPerMinute: 6_000, now: () => now });
  assert.equal(quota.left("2001:db8:1:2::5"), 6_000);
  quota.spend("2001:db8:1:2::5", 2_000);
  quota.spend("2001:db8:1:2::5", 2_000);
  // Another address of the same /64: the same subscriber, the same lines.
  assert.equal(quota.left("2001:db8:1:2:ffff::7"), 2_000);
  quota.spend("2001:db8:1:2:ffff::7", 2_000);
  assert.equal(quota.left("2001:db8:1:2::5"), 0);
  // Another /64, and an IPv4 address: each its own minute's worth.
  assert.equal(quota.left("2001:db8:1:3::5"), 6_000);
  quota.spend("192.0.2.1", 6_000);
  assert.equal(quota.left("::ffff:192.0.2.1"), 0); // the same IPv4
  assert.equal(quota.left("192.0.2.2"), 6_000);
  // 100 lines a second come back, a minute's worth at most.
  now += 1_500;
  assert.equal(quota.left("2001:db8:1:2::6"), 150);
  now += 10 * 60_000;
  assert.equal(quota.left("2001:db8:1:2::6"), 6_000);
});

Deno.test("CatchUpQuota.spend() over what a group has is owed, paid by the refill; full groups are forgotten; 0 is no limit", () => {
  let now = 0;
  const quota = new CatchUpQuota({ linesPerMinute: 600, now: () => now });
  quota.spend("10.0.0.1", 900); // reads under way at once took 300 more
  assert.equal(quota.left("10.0.0.1"), 0);
  now = 30_000; // 300 back: the debt paid
  assert.equal(quota.left("10.0.0.1"), 0);
  now = 40_000;
  assert.equal(quota.left("10.0.0.1"), 100);
  assert.equal(quota.left(undefined), Infinity); // no address: no count
  quota.spend(undefined, 1_000);
  assert.equal(quota.groups, 1);
  now = 3 * 60_000; // full again: nothing left to remember
  assert.equal(quota.left("10.0.0.2"), 600);
  assert.equal(quota.groups, 1);
  const off = new CatchUpQuota({ linesPerMinute: 0, now: () => now });
  off.spend("10.0.0.1", 9_000);
  assert.equal(off.left("10.0.0.1"), Infinity);
  assert.equal(off.groups, 0);
});

/** Lines in the room before the catch-ups. */
const LINES = 500;

Deno.test("catchUp() reads from the SQLite log no more of the room's lines than its address group has left, says the rest are MISSING, and spends what it read, before another catch-up of the same turn asks", async () => {
  using store = openStore(null);
  const sqlite = new SqliteLog(store.db, { clock: systemClock, keep: 0 });
  for (let i = 1; i <= LINES; i++) {
    sqlite.append({ type: "MSG", alias: "bob", text: `m${i}` }, "2");
  }
  await sqlite.settled();
  // What the log was asked for, and how many lines it read.
  const reads: { limit: number; read: number }[] = [];
  const log = {
    since: async (room: string, after: number, options: SinceOptions) => {
      const range: LogRange = await sqlite.since(room, after, options);
      reads.push({ limit: options.limit, read: range.events.length });
      return range;
    },
  } as unknown as RoomLog;
  let now = 0;
  const quota = new CatchUpQuota({ linesPerMinute: 300, now: () => now });
  const resume = async (host: string, after: number) => {
    const got: string[] = [];
    const amy: Member = {
      id: "1",
      alias: "amy",
      operator: false,
      host,
      deliver: (line) => got.push(new TextDecoder().decode(line)) > 0,
      close: () => {},
    };
    const room = { name: "#lobby", defaultRoom: true, before: LINES + 1 };
    const options = {
      log,
      resumeLines: 10_000,
      budget: { left: Infinity },
      quota,
    };
    catchUp(amy, after, room, options, () => {});
    await sqlite.settled();
    await Promise.resolve();
    await Promise.resolve();
    return { sent: got.length - 1, resumed: got.at(-1)?.trimEnd() };
  };
  const first = await resume("2001:db8::5", 0);
  assert.deepEqual(first, {
    sent: 300,
    resumed:
      "RESUMED 500 200 Resumed: 300 lines you missed; 200 more are not sent (no longer kept or too many)",
  });
  // The same /64, its lines spent: nothing is read, all 500 are MISSING.
  const second = await resume("2001:db8::6", 0);
  assert.equal(second.sent, 0);
  assert.match(second.resumed!, /^RESUMED 0 500 /);
  // Another address: its own lines.
  assert.equal((await resume("192.0.2.9", 0)).sent, 300);
  // Ten seconds: 50 lines back for the /64; it reads the last 20 and
  // spends those alone.
  now += 10_000;
  assert.equal((await resume("2001:db8::5", LINES - 20)).sent, 20);
  assert.equal((await resume("2001:db8::5", 0)).sent, 30);
  // Another minute, and catch-ups started together (the joins of one
  // turn): each reads what the ones before it left, no more, none less.
  now += 60_000;
  const together = await Promise.all([
    resume("2001:db8::5", LINES - 100),
    resume("2001:db8::6", 0),
    resume("2001:db8::7", 0),
  ]);
  assert.deepEqual(together.map((r) => r.sent), [100, 200, 0]);
  assert.deepEqual(reads, [
    { limit: 300, read: 300 },
    { limit: 0, read: 0 },
    { limit: 300, read: 300 },
    { limit: 50, read: 20 },
    { limit: 30, read: 30 },
    { limit: 300, read: 100 },
    { limit: 200, read: 200 },
    { limit: 0, read: 0 },
  ]);
  await sqlite.close();
});
