/**
 * Tests of the checkpoints of a server's log, made by a worker: on real
 * files in a temporary data directory.
 */

import assert from "node:assert/strict";
import { WAL_LIMIT_PAGES } from "../../../lib/server/storage/checkpoints.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { WAIT_MS, withTempDir } from "../../_helpers.ts";

Deno.test("openStore() for a server checkpoints its log from a worker, not from the thread that commits", async () => {
  await withTempDir(async (dir) => {
    const copied = Promise.withResolvers<number>();
    using store = openStore(dir, {
      exclusive: true,
      checkpoints: true,
      checkpointEveryMs: 5,
      onCheckpoint: copied.resolve,
    });
    const { wal_autocheckpoint: limit } = store.db.prepare(
      "PRAGMA wal_autocheckpoint",
    ).get() as { wal_autocheckpoint: number };
    assert.equal(limit, WAL_LIMIT_PAGES, "the server's thread waits longer");
    const insert = store.db.prepare(
      "INSERT INTO settings (key, value) VALUES (?, 'x')",
    );
    for (let i = 0; i < 20; i++) insert.run(`key ${i}`);
    const pages = await Promise.race([
      copied.promise,
      new Promise<never>((_, reject) =>
        AbortSignal.timeout(WAIT_MS).onabort = () =>
          reject(new Error(`no checkpoint in ${WAIT_MS} ms`))
      ),
    ]);
    assert.ok(pages > 0);
  });
});

Deno.test("openStore() leaves checkpoints to SQLite unless asked (tools; a server with durability full)", async () => {
  await withTempDir((dir) => {
    using store = openStore(dir, { exclusive: true });
    const { wal_autocheckpoint: limit } = store.db.prepare(
      "PRAGMA wal_autocheckpoint",
    ).get() as { wal_autocheckpoint: number };
    assert.equal(limit, 1000, "SQLite's default");
    return Promise.resolve();
  });
});
