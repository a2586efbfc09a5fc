/**
 * A room's record in the cluster's Redis stream (the cluster attack
 * review): a guest who made a room of its own and gave it 100 bans with
 * 3,900-byte reasons made every `MOD` and `TOPIC` entry carry them all,
 * 404 KB each (800 KB with 100 mutes more), bounded only by the
 * stream's 100,000 entries. Reasons are cut to `roomReasonBytes` and no
 * record grows past `roomRecordBytes`. Real processes, real Redis, real
 * TLS.
 */

import assert from "node:assert/strict";
import { SERVER_SETTINGS } from "../../../lib/server/config.ts";
import { openStore } from "../../../lib/server/storage/store.ts";
import { aliasSkeleton } from "../../../lib/text.ts";
import { testCertificates, TestClient } from "../../_helpers.ts";
import type { Redis } from "../../_redis.ts";
import { addAccount, streamEntries, withCluster } from "./_cluster.ts";

const BANS = 100;
const { roomRecordBytes } = SERVER_SETTINGS;
/** What an entry holds besides the record: its line, room, ids, server. */
const ENTRY_BESIDES_RECORD = 2_048;

/**
 * Accounts `user0`... in server `name`'s database, none of which ever logs
 * in (rows as `Accounts.add` writes them, without 100 scrypt hashes).
 */
function addAbsentAccounts(dir: string, name: string): void {
  using store = openStore(`${dir}/${name}`);
  const insert = store.db.prepare(
    "INSERT INTO accounts (key, alias, skeleton, hash, created) VALUES (?, ?, ?, ?, ?)",
  );
  for (let i = 0; i < BANS; i++) {
    insert.run(`user${i}`, `user${i}`, aliasSkeleton(`user${i}`), "-", 0);
  }
}

/** Each `MOD` and `TOPIC` entry of `room`: its type, its record's and its bytes. */
async function recordEntries(redis: Redis, room: string) {
  const utf8 = new TextEncoder();
  return (await streamEntries(redis)).flatMap(([, fields]) => {
    const field = (name: string) => fields[fields.indexOf(name) + 1] ?? "";
    const { type } = JSON.parse(field("l"));
    if (field("r") !== room || !["MOD", "TOPIC"].includes(type)) return [];
    return [{
      type: type as string,
      record: utf8.encode(field("v")).length,
      bytes: utf8.encode(fields.join("")).length,
    }];
  });
}

Deno.test("a room's TOPIC after 100 bans with 3,900-byte reasons: its Redis stream entry carries a record under roomRecordBytes", async () => {
  await withCluster(1, async ([s0], redis) => {
    const { ca } = await testCertificates();
    using op = await TestClient.connect(s0!.port, "127.0.0.1", ca.cert);
    await op.expect(/^HELLO /);
    await op.send("/cap rooms");
    await op.expect(/^CAP rooms$/);
    await op.send("op");
    await op.expect(/^CURRENT #lobby$/);
    await op.send("/join #big");
    await op.expect(/^CURRENT #big$/);
    for (let i = 0; i < BANS; i++) {
      await op.send(`#big /roomban user${i} 1d ${"x".repeat(3900)}`);
      // Every ban is taken (its reason cut to roomReasonBytes).
      assert.match(await op.expect(/^(#big MOD ban|ERR) /), /^#big MOD ban /);
    }
    await op.send("#big /topic Welcome");
    await op.expect(/^#big TOPIC op Welcome$/);
    const entries = await recordEntries(redis, "#big");
    assert.equal(entries.length, BANS + 1);
    assert.equal(entries.at(-1)!.type, "TOPIC");
    for (const { record, bytes } of entries) {
      // Before: the TOPIC's record took 403,950 bytes, 65,150 now.
      assert.ok(record <= roomRecordBytes, `${record} bytes of record`);
      assert.ok(bytes <= roomRecordBytes + ENTRY_BESIDES_RECORD, `${bytes}`);
    }
  }, {
    args: ["--room-create", "any"],
    before: async (dir) => {
      await addAccount(dir, "s0", "ann"); // makes the database
      addAbsentAccounts(dir, "s0");
    },
  });
});
