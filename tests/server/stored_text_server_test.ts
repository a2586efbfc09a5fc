/**
 * Text a release before the cap on combining marks stored (a "Zalgo" line
 * of hundreds of marks on one letter), read back from a data directory:
 * every member is sent it capped, as a client's line is today, in the
 * history on joining, `/history`, a catch-up and `/search`, while the
 * stored line stays as it was. Real TLS, an in-process server.
 */

import assert from "node:assert/strict";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, TestClient, withTempDir } from "../_helpers.ts";

/** What the previous release stored: 300 marks on the Z. */
const STORED = `Z${"\u0336".repeat(300)}algo flood`;
/** What a member is sent: the first 4. */
const SENT = `Z${"\u0336".repeat(4)}algo flood`;

/** The lines up to `HISTEND`, each as "KIND ALIAS TEXT". */
async function history(client: TestClient): Promise<string[]> {
  const said: string[] = [];
  for (;;) {
    const line = (await client.readLine()) ?? "";
    if (line.startsWith("HISTEND ")) return said;
    if (line.startsWith("HIST ")) said.push(line.replace(/^HIST \d+ \S+ /, ""));
  }
}

Deno.test("a line an older release stored uncapped is sent capped from a data directory: history on joining, /history, a catch-up and /search; the stored row unchanged", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir, { exclusive: true });
    // As the previous release stored them: no room (the default room).
    const insert = store.db.prepare(
      "INSERT INTO events (seq, time, type, line) VALUES (?, ?, ?, ?)",
    );
    const time = Date.now();
    for (const [seq, type] of [[1, "MSG"], [2, "ME"]] as const) {
      insert.run(
        seq,
        time,
        type,
        JSON.stringify({ type, alias: "amy", text: STORED }),
      );
    }
    await using s = await startServer("node", [], { store });

    using bob = await TestClient.join(s.port, "bob");
    assert.deepEqual(await history(bob), [`MSG amy ${SENT}`, `ME amy ${SENT}`]);
    await bob.send("/history 5");
    assert.deepEqual(await history(bob), [`MSG amy ${SENT}`, `ME amy ${SENT}`]);
    await bob.send("/search flood");
    const found: string[] = [];
    for (;;) {
      const line = await bob.expect(/^(FOUND|FOUNDEND|ERR) /);
      if (!line.startsWith("FOUND ")) break;
      found.push(line.replace(/^FOUND (\S+) \d+ \S+Z /, "$1 "));
    }
    assert.deepEqual(found, [
      `#lobby ME amy ${SENT}`,
      `#lobby MSG amy ${SENT}`,
    ]);

    // A catch-up from before the first line: the lines as they went live.
    using carol = await TestClient.connect(s.port);
    const hello = await carol.expect(/^HELLO /);
    const epoch = /,epoch=([\w-]+)/.exec(hello)![1]!;
    await carol.send("/cap resume");
    await carol.expect(/^CAP /);
    await carol.send(`/resume ${epoch} 0`);
    await carol.send("carol");
    const caught: string[] = [];
    for (;;) {
      const line = (await carol.readLine())!.replace(/^@\S+ /, "");
      if (line.startsWith("RESUMED ")) break;
      if (/^(MSG|ME) /.test(line)) caught.push(line);
    }
    assert.deepEqual(caught, [`MSG amy ${SENT}`, `ME amy ${SENT}`]);

    const rows = store.db.prepare(
      "SELECT line FROM events WHERE seq <= 2 ORDER BY seq",
    ).all() as { line: string }[];
    assert.deepEqual(rows.map((r) => JSON.parse(r.line).text), [
      STORED,
      STORED,
    ]);
  });
});

Deno.test("a topic and reasons an older release stored outside the log are sent capped from a data directory: the settings' topic, a registered room's topic and ban, a server-wide mute; the stored rows unchanged", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir, { exclusive: true });
    // As the previous release stored them, outside the events table.
    const topic = JSON.stringify({ text: STORED, by: "opal" });
    store.db.prepare("INSERT INTO settings (key, value) VALUES ('topic', ?)")
      .run(topic);
    store.db.prepare(
      `INSERT INTO sanctions (type, kind, target, label, until, by, reason, created)
         VALUES ('mute', 'address', '127.0.0.1', 'bob', NULL, 'opal', ?, ?)`,
    ).run(STORED, Date.now());
    const room = store.db.prepare(
      `INSERT INTO rooms (name, registered_by, key_hash, invite_only,
           operators, invites, bans, mutes, topic)
         VALUES (?, 'opal', NULL, 0, '["opal"]', '[]', ?, '[]', ?)`,
    );
    room.run("#zalgo", "[]", topic);
    const ban = {
      id: 1,
      type: "ban",
      kind: "address",
      target: "127.0.0.1",
      label: "bob",
      until: null,
      by: "opal",
      reason: STORED,
    };
    room.run("#barred", JSON.stringify([ban]), null);
    await using s = await startServer("node", [], { store });

    using bob = await TestClient.connect(s.port);
    await bob.expect(/^HELLO /);
    await bob.send("/cap rooms");
    await bob.expect(/^CAP /);
    await bob.send("bob");
    assert.equal(await bob.expect(/ TOPIC /), `#lobby TOPIC opal ${SENT}`);
    await bob.send("/topic");
    assert.equal(await bob.expect(/ TOPIC /), `#lobby TOPIC opal ${SENT}`);
    await bob.send("hi");
    assert.equal(
      await bob.expect(/^ERR /),
      `ERR muted You are muted by opal until lifted: ${SENT}`,
    );
    await bob.send("/join #zalgo");
    assert.equal(await bob.expect(/ TOPIC /), `#zalgo TOPIC opal ${SENT}`);
    await bob.send("/join #barred");
    assert.equal(
      await bob.expect(/^ERR /),
      `ERR room-banned You are banned from #barred by opal until lifted: ${SENT}`,
    );

    const kept = store.db.prepare(
      `SELECT (SELECT value FROM settings WHERE key = 'topic') AS topic,
         (SELECT reason FROM sanctions) AS reason,
         (SELECT topic FROM rooms WHERE name = '#zalgo') AS roomTopic,
         (SELECT bans FROM rooms WHERE name = '#barred') AS bans`,
    ).get() as Record<string, string>;
    assert.equal(JSON.parse(kept.topic!).text, STORED);
    assert.equal(kept.reason, STORED);
    assert.equal(JSON.parse(kept.roomTopic!).text, STORED);
    assert.equal(JSON.parse(kept.bans!)[0].reason, STORED);
  });
});
