/**
 * Upgrades: a data directory written by the previous release
 * (`tests/fixtures/release-7246526/`, made by that release's own code)
 * loads in today's `server.ts`, migrated, with its history, bans, mute and
 * topic. A real process, real TLS.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openStore } from "../../../lib/server/storage/store.ts";
import {
  loopbackArgs,
  serverPermissions,
  testCertificates,
  TestClient,
  withServerProcess,
  withTempDir,
  writeTestCertificates,
} from "../../_helpers.ts";

const FIXTURE = new URL(
  "../../fixtures/release-7246526/chat.db",
  import.meta.url,
);

/** When the fixture's one `TOPIC` was stored (ms), read before it migrates. */
function topicEventTime(path: string): number {
  using db = new DatabaseSync(path, { readOnly: true });
  const row = db.prepare("SELECT time FROM events WHERE type = 'TOPIC'")
    .get() as { time: number };
  return row.time;
}

/** A row's effect value (JSON text). */
function effectValue(row: Record<string, unknown> | undefined): string {
  return String(row?.effect_value);
}

/** Reads history up to `HISTEND`: "KIND ALIAS TEXT" of each line. */
async function history(client: TestClient): Promise<string[]> {
  const said: string[] = [];
  while (true) {
    const line = (await client.readLine()) ?? "";
    if (line.startsWith("HISTEND ")) return said;
    said.push(line.replace(/^HIST \d+ \S+ /, ""));
  }
}

Deno.test("server.ts loads a data directory of the previous release: its history, bans, mute and topic", async () => {
  await withTempDir(async (dir) => {
    await writeTestCertificates(dir);
    const { ca } = await testCertificates();
    await Deno.mkdir(`${dir}/data`, { mode: 0o700 });
    await Deno.copyFile(FIXTURE, `${dir}/data/chat.db`);
    const topicSet = new Date(topicEventTime(`${dir}/data/chat.db`))
      .toISOString();
    await withServerProcess(
      serverPermissions(dir),
      loopbackArgs(dir),
      async (server) => {
        const join = (alias: string, password?: string) =>
          TestClient.join(server.port, alias, { ca: ca.cert, password });
        using amy = await join("amy");
        assert.equal(
          await amy.expect(/^TOPIC /),
          "TOPIC opal Topic from the previous release",
        );
        // Kept without its time; dated from the TOPIC event that set it.
        using dated = await TestClient.connect(server.port, undefined, ca.cert);
        await dated.expect(/^HELLO /);
        await dated.send("/cap seq");
        await dated.expect(/^CAP seq$/);
        await dated.send("carol");
        assert.equal(
          await dated.expect(/TOPIC /),
          `@time=${topicSet} TOPIC opal Topic from the previous release`,
        );
        assert.deepEqual(await history(amy), [
          "MSG amy hello from the previous release",
          "ME amy waves",
          "MSG opal operators speak too",
        ]);
        // Muted by account, banned by account: as they were.
        using bob = await join("bob", "bob-pass-1");
        await bob.send("hello again");
        await bob.expect(/^ERR muted /);
        using mallory = await TestClient.connect(
          server.port,
          undefined,
          ca.cert,
        );
        await mallory.expect(/^HELLO /);
        await mallory.send("mallory");
        await mallory.expect(/^PASSWORD /);
        await mallory.send("/pass mallory-pass-1");
        await mallory.expect(/^BYE banned /);
        using opal = await join("opal", "operator-pass-1");
        await opal.send("/bans");
        await opal.expect(/^INFO 2 bans$/);
        const bans = opal.received.filter((line) => line.startsWith("BAN "));
        assert.deepEqual(bans.map((line) => line.split(" ").slice(1, 3)), [
          ["account", "mallory"],
          ["address", "203.0.113.0/24"],
        ]);
        // New events go on from the old numbers, with their effect stored.
        await opal.send("/topic Topic of this release");
        await amy.expect(/^TOPIC opal Topic of this release$/);
      },
    );
    // Killed: its last lines are in the journal, moved to the database
    // when the data directory is next opened by a server.
    using store = openStore(`${dir}/data`, { exclusive: true });
    {
      const rows = store.db.prepare(
        "SELECT seq, effect, effect_value FROM events WHERE type = 'TOPIC'",
      ).all().map((row) => ({ ...row }));
      assert.deepEqual(rows.map((row) => [row.effect, row.effect_value]), [
        [null, null],
        ["topic", effectValue(rows[1])],
      ]);
      assert.deepEqual(JSON.parse(effectValue(rows[1])), {
        text: "Topic of this release",
        by: "opal",
        at: JSON.parse(effectValue(rows[1])).at,
      });
      assert.ok(Number.isInteger(JSON.parse(effectValue(rows[1])).at));
      assert.ok(Number(rows[1]!.seq) > 11, "numbers are never reused");
    }
  });
});
