/**
 * `ReadSync` over the rooms of one server with fake members (no sockets):
 * `/read` kept for the account, `READ` to its other `seq` connections in
 * that room only, guests ignored, the refusals, and what a member entering
 * a room is told (its marker in this epoch).
 */

import assert from "node:assert/strict";
import { ReadSync } from "../../../lib/server/room/read_sync.ts";
import { SqliteReadMarkers } from "../../../lib/server/storage/markers_table.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { type FakeMember, LIMITS, refusal, server } from "./_rooms_fakes.ts";

type Reader = FakeMember & { seqOn?: boolean };

/** Rooms with markers, members alice (two devices) and a guest in #ops. */
async function world() {
  const store = openStore(null);
  const markers = new SqliteReadMarkers(store.db, LIMITS);
  const { room, router, join, line } = server();
  const reads = new ReadSync<Reader>(markers, room);
  const seq = { seqOn: true };
  const one: Reader = await join("alice", { account: "Alice", ...seq });
  const two: Reader = await join("alice2", { account: "alice", ...seq });
  const old: Reader = await join("alice3", { account: "alice" });
  const guest: Reader = await join("gus", { account: null, ...seq });
  for (const m of [one, two, old, guest]) await line(m, "/join #ops");
  const ops = router.rooms.get("#ops")!;
  for (const m of [one, two, old, guest]) m.take();
  return {
    store,
    markers,
    reads,
    ops,
    one,
    two,
    old,
    guest,
    epoch: room.replies.epoch,
  };
}

Deno.test("ReadSync.read() keeps the account's marker and tells its other seq connections in the room", async () => {
  const w = await world();
  using _ = w.store;
  await w.reads.read(w.one, w.ops, 7);
  assert.deepEqual([...await w.markers.get("alice")], [["#ops", {
    epoch: w.epoch,
    seq: 7,
  }]]);
  assert.deepEqual(w.two.take(), ["#ops READ 7"]);
  assert.deepEqual(w.one.take(), [], "not the device that read");
  assert.deepEqual(w.old.take(), [], "not one without seq");
  await w.reads.read(w.two, w.ops, 5); // not growing: nobody told
  assert.deepEqual([w.one.take(), w.two.take()], [[], []]);
  await w.reads.read(w.guest, w.ops, 9); // a guest: accepted, ignored
  assert.deepEqual(w.guest.take(), []);
  assert.equal((await w.markers.get("gus")).size, 0);
  assert.match(
    await refusal(() => w.reads.read(w.old, w.ops, 3)),
    /^usage .*seq/,
  );
});

Deno.test("ReadSync tells a member entering a room its account's marker, in this epoch only", async () => {
  const w = await world();
  using _ = w.store;
  await w.markers.set("alice", {
    room: "#ops",
    epoch: w.epoch,
    seq: 4,
    by: "x",
  });
  assert.deepEqual([w.one.take(), w.two.take()], [["#ops READ 4"], [
    "#ops READ 4",
  ]]);
  assert.equal(w.reads.start(w.one, "#ops"), undefined, "not loaded yet");
  for (const m of [w.one, w.old, w.guest]) await w.reads.load(m);
  assert.equal(w.reads.start(w.one, "#ops"), 4);
  assert.equal(w.reads.start(w.one, "#dev"), undefined);
  assert.equal(w.reads.start(w.guest, "#ops"), undefined);
  w.reads.entered(w.one, "#ops");
  w.reads.entered(w.old, "#ops"); // no seq: nothing
  assert.deepEqual([w.one.take(), w.old.take()], [["#ops READ 4"], []]);
  await w.reads.read(w.two, w.ops, 6); // kept up to date as it grows
  assert.deepEqual(w.one.take(), ["#ops READ 6"]);
  assert.equal(w.reads.start(w.old, "#ops"), 6);
  await w.markers.set("alice", { room: "#ops", epoch: "e9", seq: 8, by: "x" });
  assert.deepEqual(w.one.take(), [], "another epoch is never told");
  assert.equal(w.reads.start(w.one, "#ops"), 6, "nor loaded");
  await w.reads.load(w.one); // loaded again: not of this epoch
  assert.equal(w.reads.start(w.one, "#ops"), undefined);
});
