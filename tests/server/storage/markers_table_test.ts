/**
 * `SqliteReadMarkers` on a real data directory: the ReadMarkers contract
 * (a reopen is a new `openStore` on the same directory, as a restart), and
 * what only SQLite does: deleting an account deletes its markers, and a
 * row written by hand that is no marker is ignored.
 */

import assert from "node:assert/strict";
import { Accounts } from "../../../lib/server/access/accounts.ts";
import { SqliteReadMarkers } from "../../../lib/server/storage/markers_table.ts";
import { openStore, type Store } from "../../../lib/server/storage/store.ts";
import { withTempDir } from "../../_helpers.ts";
import { MARKER_LIMITS, MARKERS_CASES } from "../room/read_markers_contract.ts";

for (const contract of MARKERS_CASES) {
  Deno.test(`SqliteReadMarkers: ${contract.name}`, async () => {
    await withTempDir(async (dir) => {
      const opened: Store[] = [];
      const open = () => {
        opened.at(-1)?.close(); // one server at a time, as a restart
        const store = openStore(`${dir}/data`, { exclusive: true });
        opened.push(store);
        return new SqliteReadMarkers(store.db, MARKER_LIMITS);
      };
      try {
        await contract.run({
          markers: open(),
          reopen: () => Promise.resolve(open()),
        });
      } finally {
        for (const store of opened) store.close();
      }
    });
  });
}

Deno.test("SqliteReadMarkers: deleting an account deletes its markers, not another's", async () => {
  using store = openStore(null);
  const accounts = new Accounts(store.db);
  await accounts.add("bob", "bob-pass-1");
  const markers = new SqliteReadMarkers(store.db, MARKER_LIMITS);
  const mark = { room: "#ops", epoch: "e", seq: 3, by: "1" };
  await markers.set("bob", mark);
  await markers.set("carol", mark);
  assert.equal(accounts.remove("Bob"), true);
  assert.equal((await markers.get("bob")).size, 0);
  assert.equal((await markers.get("carol")).size, 1);
});

Deno.test("SqliteReadMarkers.get() ignores a row that is no marker", async () => {
  using store = openStore(null);
  store.db.exec(`INSERT INTO read_markers (account, room, epoch, seq, turn)
    VALUES ('bob', '#ops', 'not an epoch!', 3, 1), ('bob', '#dev', 'e', -4, 2),
      ('bob', '#lobby', 'e', 9, 3)`);
  const markers = new SqliteReadMarkers(store.db, MARKER_LIMITS);
  assert.deepEqual(
    [...await markers.get("bob")],
    [["#lobby", { epoch: "e", seq: 9 }]],
  );
});
