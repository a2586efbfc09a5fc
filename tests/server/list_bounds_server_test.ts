/**
 * Lists asked of the rooms end to end in process (a real TLS listener on
 * 127.0.0.1 port 0 and real TLS clients): a guest that makes many rooms
 * with the longest topics cannot get whoever lists them (`/rooms`, IRC
 * `LIST`) dropped as slow; the list stops at what fits in half the queue
 * and says so.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../_helpers.ts";

const TOPIC = "t".repeat(4000);
const ROOMS = 20;

/** Connects with `/cap rooms` as `alias`, past its `CURRENT`. */
async function roomsClient(port: number, alias: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  await client.expect(/^CAP rooms$/);
  await client.send(alias);
  await client.expect(/^CURRENT /);
  return client;
}

/**
 * A server with a 64 KiB queue where a guest made {@linkcode ROOMS} rooms
 * with 4,000-byte topics (about 80 KB of `ROOM` lines) and left them.
 */
async function roomsWithLongTopics(irc: boolean) {
  const s = await startServer("node", [
    "--queue-bytes",
    "65536",
    "--room-creations",
    String(ROOMS),
  ], { irc });
  try {
    using eve = await roomsClient(s.port, "eve");
    for (let i = 0; i < ROOMS; i++) {
      await eve.send(`/join #t${i}`);
      await eve.expect(new RegExp(`^CURRENT #t${i}$`));
      await eve.send(`#t${i} /topic ${TOPIC}`);
      await eve.expect(new RegExp(`^#t${i} TOPIC eve `));
      await eve.send(`/part #t${i}`);
      await eve.expect(new RegExp(`^#t${i} LEAVE eve `));
    }
  } catch (error) {
    await s[Symbol.asyncDispose]();
    throw error;
  }
  return s;
}

Deno.test("serveChat() /rooms sends only the rooms that fit in half the queue: long topics never get the member listing them dropped as slow", async () => {
  await using s = await roomsWithLongTopics(false);
  using bob = await roomsClient(s.port, "bob");
  await bob.send("/rooms");
  const info = await bob.expect(/^INFO \d+ rooms/);
  const shown = bob.received.filter((line) => line.startsWith("ROOM ")).length;
  assert.ok(shown > 0 && shown < ROOMS, `${shown} rooms shown`);
  assert.equal(
    info,
    `INFO ${ROOMS + 1} rooms (the busiest ${shown}: those that fit at once)`,
  );
  await bob.send("still here");
  await bob.expect(/^#lobby MSG bob still here$/);
  assert.ok(!bob.received.some((line) => line.startsWith("BYE")));
});

Deno.test("IRC door: LIST of rooms with long topics ends with 323 within half the queue: the client is not ended as slow", async () => {
  await using s = await roomsWithLongTopics(true);
  using irc = await TestClient.connect(s.ircPort);
  await irc.send("NICK bob");
  await irc.send("USER u 0 * :Bob");
  await irc.expect(/ 366 bob #lobby /);
  await irc.send("LIST");
  await irc.expect(/ 323 bob :End of \/LIST$/);
  const listed = irc.received.filter((line) => / 322 bob #t/.test(line));
  assert.ok(listed.length > 0 && listed.length < ROOMS, `${listed.length}`);
  await irc.send("PING :still");
  await irc.expect(/^:tlschat PONG tlschat :still$/);
  assert.ok(!irc.received.some((line) => line.startsWith("ERROR")));
});

Deno.test("serveChat() /bans sends only the bans that fit in half the queue: long reasons never get the operator listing them dropped as slow", async () => {
  await using s = await startServer("node", ["--queue-bytes", "16384"]);
  await s.server.gate.accounts.add("opal", "opal password");
  s.server.gate.accounts.setOperator("opal", true);
  using opal = await TestClient.connect(s.port);
  await opal.expect(/^HELLO /);
  await opal.send("opal");
  await opal.expect(/^PASSWORD /);
  await opal.send("/pass opal password");
  await opal.expect(/^WELCOME /);
  const BANS = 10;
  for (let i = 0; i < BANS; i++) {
    await opal.send(`/ban 10.0.0.${i}/32 1d ${"r".repeat(3000)}`);
    await opal.expect(new RegExp(`^MOD ban 10\\.0\\.0\\.${i} `));
  }
  await opal.send("/bans");
  const info = await opal.expect(/^INFO \d+ bans/);
  const shown = opal.received.filter((line) => line.startsWith("BAN ")).length;
  assert.ok(shown > 0 && shown < BANS, `${shown} bans shown`);
  assert.equal(
    info,
    `INFO ${BANS} bans (the first ${shown}: those that fit at once)`,
  );
  await opal.send("still here");
  await opal.expect(/^MSG opal still here$/);
  assert.ok(!opal.received.some((line) => line.startsWith("BYE")));
});
