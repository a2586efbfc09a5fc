/**
 * Replays at login end to end in process: a real TLS listener on
 * 127.0.0.1 port 0 and real TLS clients. Strangers fill the history of
 * both rooms of an account with long lines (each room's replay just under
 * half of `--queue-bytes`, both together more than all of it); the account
 * logging in again is not dropped as slow: its rooms' replays share half
 * its queue, and the room that no longer fits says so in its `HISTEND`.
 * The same through the IRC door, where a `NOTICE` to each channel cut
 * says so.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../_helpers.ts";
import { cutNotice } from "../../lib/server/irc/replay_end.ts";

/** Connects with `/cap rooms` as `alias` (with `password`), past `until`. */
async function roomsClient(
  port: number,
  alias: string,
  password?: string,
  until = /^CURRENT /,
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  await client.expect(/^CAP rooms$/);
  await client.send(alias);
  if (password !== undefined) {
    await client.expect(/^PASSWORD /);
    await client.send(`/pass ${password}`);
  }
  await client.expect(until);
  return client;
}

const TEXT = "m".repeat(4000);

/**
 * A server (by default with the default --queue-bytes, 256 KiB) where
 * account alice is in `#lobby` and `rooms`, and a stranger filled them
 * with `lines` lines of 4,000 bytes: by default each room's replay alone
 * takes nearly half the queue (32 lines of about 4,050 bytes), both
 * together more than the whole queue.
 */
async function filledServer(
  irc = false,
  flags: string[] = [],
  { lines = 33, rooms = ["#h0"] } = {},
) {
  const s = await startServer("node", flags, { irc });
  try {
    await s.server.gate.accounts.add("alice", "alice password");
    await fill(s.port, lines, rooms);
  } catch (error) {
    await s[Symbol.asyncDispose]();
    throw error;
  }
  return s;
}

/** What {@linkcode filledServer} does once the server is up. */
async function fill(port: number, lines: number, rooms: string[]) {
  using spam = await roomsClient(port, "spam");
  {
    using alice = await roomsClient(port, "alice", "alice password");
    for (const room of rooms) {
      for (const member of [alice, spam]) {
        await member.send(`/join ${room}`);
        await member.expect(new RegExp(`^CURRENT ${room}$`));
      }
    }
  }
  for (const room of ["#lobby", ...rooms]) {
    for (let i = 10; i < 10 + lines; i++) {
      await spam.send(`${room} ${i} ${TEXT}`);
      await spam.expect(new RegExp(`^${room} MSG spam ${i} `));
    }
  }
}

Deno.test("serveChat() replays an account's rooms at login within half its queue together: a stranger's long lines never get it dropped as slow", async () => {
  await using s = await filledServer();
  using again = await roomsClient(s.port, "alice", "alice password", /^/);
  const cut = "(the newest that fit at once)";
  assert.equal(
    await again.expect(/^#lobby HISTEND /),
    `#lobby HISTEND 32 End of history: 32 messages ${cut}`,
  );
  assert.equal(
    await again.expect(/^#h0 HISTEND /),
    `#h0 HISTEND 0 End of history: 0 messages ${cut}`,
  );
  await again.send("#h0 /history 1");
  assert.equal(
    (await again.expect(/^#h0 HIST /)).replace(/ \S+Z /, " TIME "),
    `#h0 HIST 71 TIME MSG spam 42 ${TEXT}`,
  );
  await again.expect(/^#h0 HISTEND 1 /);
  await again.send("#h0 still here");
  await again.expect(/^#h0 MSG alice still here$/);
  assert.equal(
    again.received.filter((line) => line.startsWith("BYE")).length,
    0,
  );
});

Deno.test("IRC door: an account's rooms replayed at registration share half its queue: a stranger's long lines never end it as slow, and a NOTICE to each channel cut says so", async () => {
  // A smaller queue (as the attack on the IRC door had it): 8 lines a room
  // fit in half of it; four rooms.
  await using s = await filledServer(true, ["--queue-bytes", "65536"], {
    lines: 9,
    rooms: ["#h0", "#h1", "#h2"],
  });
  using irc = await TestClient.connect(s.ircPort);
  for (
    const line of [
      "PASS :alice password",
      "NICK alice",
      "USER u 0 * :Alice",
    ]
  ) {
    await irc.send(line);
  }
  await irc.expect(/ 366 alice #lobby /);
  await irc.expect(/ 366 alice #h2 /);
  await irc.send("PING :still");
  await irc.expect(/^:tlschat PONG tlschat :still$/);
  const h0 = irc.received.slice(
    irc.received.findIndex((line) => / JOIN #h0$/.test(line)),
  );
  assert.equal(h0.filter((line) => / PRIVMSG #h0 /.test(line)).length, 0);
  assert.ok(!irc.received.some((line) => line.startsWith("ERROR")));
  // Each cut told, after the lines that fit (#lobby's newest; what its
  // registration queued is counted too), and none after.
  const lobby = irc.received.filter((line) =>
    / PRIVMSG #lobby :\d+ m/.test(line) // a message's first 512 bytes
  );
  assert.ok(lobby.length > 0 && lobby.length < 9, `${lobby.length} lines`);
  const notices = irc.received.filter((line) => / NOTICE #/.test(line));
  assert.deepEqual(notices, [
    `:tlschat NOTICE #lobby :${cutNotice("#lobby", String(lobby.length))}`,
    ...["#h0", "#h1", "#h2"].map((room) =>
      `:tlschat NOTICE ${room} :${cutNotice(room, "0")}`
    ),
  ]);
  assert.ok(
    irc.received.indexOf(lobby.at(-1)!) < irc.received.indexOf(notices[0]!),
  );
});

Deno.test("IRC door: JOIN of three filled channels in one line takes what half the queue has left: a guest reading as fast as it can is not ended as slow", async () => {
  await using s = await filledServer(true, ["--queue-bytes", "65536"], {
    lines: 9,
    rooms: ["#h0", "#h1", "#h2"],
  });
  using irc = await TestClient.connect(s.ircPort);
  await irc.send("NICK guest");
  await irc.send("USER u 0 * :Guest");
  await irc.expect(/ 366 guest #lobby /);
  await irc.send("JOIN #h0,#h1,#h2");
  await irc.expect(/ 366 guest #h2 /);
  await irc.send("PING :still");
  await irc.expect(/^:tlschat PONG tlschat :still$/);
  assert.ok(!irc.received.some((line) => line.startsWith("ERROR")));
});

Deno.test("serveChat() three /join lines of filled rooms in one packet share what half the queue has left: the member is not dropped as slow, and each cut says so", async () => {
  await using s = await filledServer(false, ["--queue-bytes", "65536"], {
    lines: 9,
    rooms: ["#h0", "#h1", "#h2"],
  });
  using bob = await roomsClient(s.port, "bob");
  await bob.send(new TextEncoder().encode("/join #h0\n/join #h1\n/join #h2\n"));
  const ends = [];
  for (const room of ["#h0", "#h1", "#h2"]) {
    ends.push(await bob.expect(new RegExp(`^${room} HISTEND `)));
  }
  assert.ok(
    ends.every((line) => line.endsWith("(the newest that fit at once)")),
  );
  await bob.send("#h2 still here");
  await bob.expect(/^#h2 MSG bob still here$/);
  assert.ok(!bob.received.some((line) => line.startsWith("BYE")));
});
