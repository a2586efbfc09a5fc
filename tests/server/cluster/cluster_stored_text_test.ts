/**
 * Text a release before the cap on combining marks stored in a cluster's
 * Redis stream (a "Zalgo" line of hundreds of marks on one letter, kept
 * in the rooms' snapshot as well), or that a server of that release still
 * appends during an upgrade: a server of this release sends it capped, in
 * the history on joining, `/history`, a catch-up, `/search` and live.
 * Real Redis, a real server process.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import { RedisLink } from "../../../lib/server/cluster/redis.ts";
import { registeredRoom } from "../../../lib/server/room/room_record.ts";
import { parseServerArgs } from "../../../lib/server/server_args.ts";
import { testCertificates, TestClient } from "../../_helpers.ts";
import { startServer, withCluster } from "./_cluster.ts";

/** What the previous release stored: 300 marks on the Z. */
const STORED = `Z${"\u0336".repeat(300)}algo flood`;
/** What a member is sent: the first 4. */
const SENT = `Z${"\u0336".repeat(4)}algo flood`;

const quiet = createLogger("error", () => {});

/**
 * Stores `line` as a server of the previous release did: a stream entry
 * and, a message or action, the copy its script kept in the room's list
 * of last messages (the snapshot a server that starts later reads).
 */
async function storeOld(link: RedisLink, room: string, line: object) {
  const { keys } = link;
  const seq = String(await link.command(["INCR", keys.seq]));
  const fields = ["t", String(Date.now()), "o", "old/1", "l"];
  fields.push(JSON.stringify(line), "i", `old${seq.padStart(20, "0")}`);
  await link.command(["XADD", keys.events, `${seq}-0`, ...fields]);
  const entry = JSON.stringify([`${seq}-0`, fields]);
  await link.command(["LPUSH", keys.recent(room), entry]);
}

/** The lines up to `HISTEND`, each as "KIND ALIAS TEXT". */
async function history(client: TestClient): Promise<string[]> {
  const said: string[] = [];
  for (;;) {
    const line = (await client.readLine()) ?? "";
    if (line.startsWith("HISTEND ")) return said;
    if (line.startsWith("HIST ")) said.push(line.replace(/^HIST \d+ \S+ /, ""));
  }
}

Deno.test("a line an older server stored uncapped in the stream is sent capped: history on joining, /history, a catch-up, /search, and live", async () => {
  await withCluster(0, async (_, redis, dir) => {
    // The server's own settings: its cluster name, default room, history.
    const config = parseServerArgs(["--redis", redis.url()]);
    const link = await RedisLink.open({
      ...config,
      url: redis.url(),
      streamEntries: 1000,
      log: quiet,
    });
    try {
      const amy = { alias: "amy", text: STORED };
      await storeOld(link, config.defaultRoom, { type: "MSG", ...amy });
      await using server = await startServer(dir, "s0", redis);
      const { ca } = await testCertificates();
      using bob = await TestClient.join(server.port, "bob", { ca: ca.cert });
      assert.deepEqual(await history(bob), [`MSG amy ${SENT}`]);
      await bob.send("/history 5");
      assert.deepEqual(await history(bob), [`MSG amy ${SENT}`]);
      await bob.send("/search flood");
      const found = await bob.expect(/^FOUND /);
      assert.equal(
        found.replace(/^FOUND (\S+) \d+ \S+Z /, "$1 "),
        `#lobby MSG amy ${SENT}`,
      );
      await bob.expect(/^FOUNDEND 1 /);

      // Appended while this server reads the stream (a rolling upgrade).
      await storeOld(link, config.defaultRoom, { type: "ME", ...amy });
      assert.equal(await bob.expect(/^ME amy /), `ME amy ${SENT}`);

      using carol = await TestClient.connect(server.port);
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
    } finally {
      await link.close();
    }
  });
});

/** A sanction of bob's address as the previous release kept it. */
function sanction(type: "ban" | "mute") {
  return {
    type,
    kind: "address",
    target: "127.0.0.1",
    label: "bob",
    until: null,
    by: "opal",
    reason: STORED,
  };
}

Deno.test("a topic and reasons an older server stored uncapped outside the stream are sent capped: Redis's topic and sanctions, a room record's topic and ban", async () => {
  await withCluster(0, async (_, redis, dir) => {
    const config = parseServerArgs(["--redis", redis.url()]);
    const link = await RedisLink.open({
      ...config,
      url: redis.url(),
      streamEntries: 1000,
      log: quiet,
    });
    try {
      const { keys } = link;
      const topic = { text: STORED, by: "opal" };
      await link.command(["SET", keys.topic, JSON.stringify(topic)]);
      const mute = sanction("mute");
      await link.command(["SET", keys.sanctions, JSON.stringify([mute])]);
      const zalgo = { ...registeredRoom("#zalgo", "opal"), topic };
      const barred = {
        ...registeredRoom("#barred", "opal"),
        bans: [{ id: 1, ...sanction("ban") }],
      };
      for (const record of [zalgo, barred]) {
        const value = JSON.stringify(record);
        await link.command(["HSET", keys.rooms, record.name, value]);
      }
      await using server = await startServer(dir, "s0", redis);
      const { ca } = await testCertificates();
      using bob = await TestClient.connect(server.port, undefined, ca.cert);
      await bob.expect(/^HELLO /);
      await bob.send("/cap rooms");
      await bob.expect(/^CAP /);
      await bob.send("bob");
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
      const kept = await link.command(["HGET", keys.rooms, "#zalgo"]);
      assert.equal(JSON.parse(String(kept)).topic.text, STORED);
    } finally {
      await link.close();
    }
  });
});
