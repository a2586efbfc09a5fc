/**
 * The behaviour every {@linkcode ReadMarkers} must have, as one suite run
 * against each implementation (`SqliteReadMarkers` in
 * `../storage/markers_table_test.ts`, `RedisReadMarkers` in
 * `../cluster/redis_markers_test.ts`): a marker only grows within an
 * epoch, another epoch replaces it, accounts are apart and named without
 * case, each keeps at most its bound (the room set longest ago goes),
 * listeners hear each growth once, and what is set outlives a restart.
 */

import assert from "node:assert/strict";
import {
  markersPerAccount,
  type ReadMark,
  type ReadMarkers,
} from "../../../lib/server/room/read_markers.ts";

/** The limits every implementation of the suite is opened with. */
export const MARKER_LIMITS = { maxRoomsPerMember: 2 };

/** Markers under test, and the same data opened again (a restart). */
export interface MarkersWorld {
  readonly markers: ReadMarkers;
  /** The markers as a restarted server would open them. */
  reopen(): Promise<ReadMarkers>;
}

/** One case of the contract. */
export interface MarkersCase {
  readonly name: string;
  run(world: MarkersWorld): Promise<void>;
}

/** A mark in `room` of epoch `epoch` at `seq`, by member "m1". */
function mark(room: string, seq: number, epoch = "e1"): ReadMark {
  return { room, epoch, seq, by: "m1" };
}

/** The markers of `account` as plain `room: "epoch seq"` entries. */
async function plain(
  markers: ReadMarkers,
  account: string,
): Promise<Record<string, string>> {
  const found = await markers.get(account);
  return Object.fromEntries(
    [...found].map(([room, m]) => [room, `${m.epoch} ${m.seq}`]),
  );
}

/** The cases, in the order they run. */
export const MARKERS_CASES: readonly MarkersCase[] = [
  {
    name: "an account with no markers has none",
    async run({ markers }) {
      assert.deepEqual(await plain(markers, "alice"), {});
    },
  },
  {
    name: "a marker set is read back, the account named without case",
    async run({ markers }) {
      assert.equal(await markers.set("Alice", mark("#lobby", 12)), true);
      assert.deepEqual(await plain(markers, "alice"), { "#lobby": "e1 12" });
      assert.deepEqual(await plain(markers, "ALICE"), { "#lobby": "e1 12" });
      assert.deepEqual(await plain(markers, "bob"), {});
    },
  },
  {
    name: "a marker only grows within an epoch; another epoch replaces it",
    async run({ markers }) {
      assert.equal(await markers.set("alice", mark("#ops", 40)), true);
      assert.equal(await markers.set("alice", mark("#ops", 39)), false);
      assert.equal(await markers.set("alice", mark("#ops", 40)), false);
      assert.deepEqual(await plain(markers, "alice"), { "#ops": "e1 40" });
      assert.equal(await markers.set("alice", mark("#ops", 41)), true);
      assert.equal(await markers.set("alice", mark("#ops", 3, "e2")), true);
      assert.deepEqual(await plain(markers, "alice"), { "#ops": "e2 3" });
    },
  },
  {
    name: "sets at once keep the largest",
    async run({ markers }) {
      const seqs = [7, 90, 3, 45, 89, 12];
      await Promise.all(seqs.map((seq) => markers.set("a", mark("#r", seq))));
      assert.deepEqual(await plain(markers, "a"), { "#r": "e1 90" });
    },
  },
  {
    name:
      "an account keeps its bound: a new room pushes out the one set longest ago",
    async run({ markers }) {
      const most = markersPerAccount(MARKER_LIMITS);
      assert.equal(most, 3);
      await markers.set("alice", mark("#a", 1));
      await markers.set("alice", mark("#b", 1));
      await markers.set("alice", mark("#c", 1));
      await markers.set("alice", mark("#a", 2)); // #b is now the oldest
      await markers.set("alice", mark("#b", 1)); // not growing: no change
      assert.deepEqual(Object.keys(await plain(markers, "alice")).sort(), [
        "#a",
        "#b",
        "#c",
      ]);
      await markers.set("alice", mark("#d", 5));
      assert.deepEqual(await plain(markers, "alice"), {
        "#a": "e1 2",
        "#c": "e1 1",
        "#d": "e1 5",
      });
      await markers.set("bob", mark("#a", 1)); // another account's own bound
      assert.equal((await markers.get("alice")).size, 3);
    },
  },
  {
    name: "listeners hear each marker that grew, once, with the account's key",
    async run({ markers }) {
      const heard: string[] = [];
      markers.watch((account, m) =>
        heard.push(`${account} ${m.room} ${m.epoch} ${m.seq} ${m.by}`)
      );
      await markers.set("Alice", { ...mark("#ops", 5), by: "s/7" });
      await markers.set("alice", mark("#ops", 4));
      await markers.set("alice", mark("#ops", 6));
      assert.deepEqual(heard, ["alice #ops e1 5 s/7", "alice #ops e1 6 m1"]);
    },
  },
  {
    name: "markers outlive a restart",
    async run({ markers, reopen }) {
      await markers.set("alice", mark("#lobby", 1234567890123));
      const again = await reopen();
      assert.deepEqual(await plain(again, "alice"), {
        "#lobby": "e1 1234567890123",
      });
      assert.equal(await again.set("alice", mark("#lobby", 5)), false);
    },
  },
];
