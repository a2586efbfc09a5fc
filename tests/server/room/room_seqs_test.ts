/**
 * Each room's numbers kept for catch-ups (`room_seqs.ts`), without a log:
 * counts by room (the default room's too, a rename reaching several rooms
 * once in each), the newest found first, the window let go of in order
 * (and what it holds after), a restart, and `readNewest`'s limit, `fits`
 * and numbers asked for in vain.
 */

import assert from "node:assert/strict";
import type { RoomEvent } from "../../../lib/server/room/room_log.ts";
import {
  NO_ROOM,
  readNewest,
  roomKeys,
  RoomSeqs,
} from "../../../lib/server/room/room_seqs.ts";

const msg = (seq: number, room?: string) =>
  ({ seq, room, line: { type: "MSG" } }) as const;

Deno.test("RoomSeqs counts a room's numbers in a range by room, the default room's with those naming none", () => {
  const index = new RoomSeqs();
  index.add(msg(1, "#a"));
  index.add(msg(2));
  index.add({ seq: 3, rooms: ["#a", "#b", "#a"], line: { type: "NICK" } });
  index.add({ seq: 4, room: "#a", line: { type: "MOD", action: "op" } });
  index.add({ seq: 5, room: "#a", line: { type: "MOD", action: "kick" } });
  index.add(msg(6, "#lobby"));
  const a = index.count("#a", 0, Infinity, false);
  assert.deepEqual([a.count, a.roomsOnly, [...a.newest()]], [4, 1, [
    5,
    4,
    3,
    1,
  ]]);
  const some = index.count("#a", 1, 5, false);
  assert.deepEqual([some.count, [...some.newest()]], [2, [4, 3]]);
  const lobby = index.count("#lobby", 0, Infinity, true);
  assert.deepEqual([lobby.count, [...lobby.newest()]], [2, [6, 2]]);
  assert.equal(index.count("#lobby", 0, Infinity, false).count, 1);
  assert.equal(index.count("#none", 0, Infinity, true).count, 1);
  assert.deepEqual(roomKeys({ seq: 1 }), [NO_ROOM]);
  assert.deepEqual(roomKeys({ seq: 1, rooms: [] }), []);
});

Deno.test("RoomSeqs keeps about its window of entries, letting the oldest go in order, and counts none from before what it holds", () => {
  const index = new RoomSeqs(0, 1500);
  for (let seq = 1; seq <= 5000; seq++) index.add(msg(seq, `#r${seq % 3}`));
  assert.equal(index.from, 3500);
  assert.equal(index.top, 5000);
  const r0 = index.count("#r0", 0, Infinity, false);
  assert.equal(r0.count, 500);
  assert.equal([...r0.newest()].at(-1), 3501);
  index.add(msg(4000, "#r0")); // not above the last: filed already
  assert.equal(index.count("#r0", 0, Infinity, false).count, 500);
  index.forgetThrough(4999);
  assert.deepEqual([...index.count("#r2", 0, Infinity, false).newest()], [
    5000,
  ]);
  index.restart(7);
  assert.deepEqual([index.from, index.top], [7, 7]);
  assert.equal(index.count("#r2", 0, Infinity, false).count, 0);
  index.add(msg(8, "#r2"));
  assert.equal(index.count("#r2", 0, Infinity, false).count, 1);
});

Deno.test("readNewest asks for the newest a page at a time and stops at the limit, at fits, and after the misses allowed", () => {
  const index = new RoomSeqs();
  for (let seq = 1; seq <= 300; seq++) index.add(msg(seq, "#a"));
  const asked: number[][] = [];
  const event = (seq: number) => ({ ...msg(seq, "#a"), time: 0, origin: "1" });
  const gone = new Set([300, 299]);
  const read = (seqs: readonly number[]) => {
    asked.push([...seqs]);
    return seqs.filter((s) => !gone.has(s)).map(event) as RoomEvent[];
  };
  const counted = () => index.count("#a", 0, Infinity, false);
  const two = readNewest(counted(), read, { limit: 2 }, 2);
  assert.deepEqual(two.map((e) => e.seq), [297, 298]);
  assert.deepEqual(asked, [[300, 299], [298, 297]]);
  asked.length = 0;
  const short = readNewest(counted(), read, { limit: 2 }, 1);
  assert.deepEqual(short.map((e) => e.seq), [298]);
  assert.deepEqual(asked, [[300, 299], [298]]);
  asked.length = 0;
  const many = readNewest(counted(), read, { limit: 100 });
  assert.equal(
    many.length,
    98,
    "no more asked than the limit: no misses allowed",
  );
  assert.deepEqual(asked.map((page) => page.length), [8, 16, 32, 44]);
  const fits = { bytes: 25, size: () => 10 };
  const fitting = readNewest(counted(), read, { limit: 100, fits }, 2);
  // As `fitting` keeps: up to the first that takes them past the bytes.
  assert.deepEqual(fitting.map((e) => e.seq), [296, 297, 298]);
});

Deno.test("readNewest asks for whole pages once numbers are found gone, not one number a read up to the limit", () => {
  // A room of 5,000 lines of which retention deleted all but the newest
  // 10, and a limit of 11 (what a resuming address had left): each page was
  // cut to what the limit lacked, one number, so the log was asked 4,990
  // times for a number it no longer held.
  const index = new RoomSeqs();
  for (let seq = 1; seq <= 5_000; seq++) index.add(msg(seq, "#a"));
  const event = (seq: number) => ({ ...msg(seq, "#a"), time: 0, origin: "1" });
  let reads = 0;
  const read = (seqs: readonly number[]) => {
    reads++;
    return seqs.filter((s) => s > 4_990).map(event) as RoomEvent[];
  };
  const counted = index.count("#a", 0, Infinity, false);
  const events = readNewest(counted, read, { limit: 11 }, 4_990);
  assert.equal(events.length, 10);
  assert.ok(reads < 100, `${reads} reads`);
});
