/**
 * Replays at login end to end in process: a real TLS listener on
 * 127.0.0.1 port 0 and real TLS clients. Strangers fill the history of
 * both rooms of an account with long lines (each room's replay just under
 * half of `--queue-bytes`, both together more than all of it); the account
 * logging in again is not dropped as slow: its rooms' replays share half
 * its queue, and the room that no longer fits says so in its `HISTEND`.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../_helpers.ts";

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

Deno.test("serveChat() replays an account's rooms at login within half its queue together: a stranger's long lines never get it dropped as slow", async () => {
  // The default --queue-bytes (256 KiB): each room's replay alone takes
  // nearly half (32 lines of about 4,050 bytes), both together more than
  // the whole queue.
  await using s = await startServer("node");
  await s.server.gate.accounts.add("alice", "alice password");
  {
    using alice = await roomsClient(s.port, "alice", "alice password");
    await alice.send("/join #h0");
    await alice.expect(/^CURRENT #h0$/);
  }
  using spam = await roomsClient(s.port, "spam");
  await spam.send("/join #h0");
  await spam.expect(/^CURRENT #h0$/);
  for (const room of ["#lobby", "#h0"]) {
    for (let i = 10; i < 43; i++) {
      await spam.send(`${room} ${i} ${TEXT}`);
      await spam.expect(new RegExp(`^${room} MSG spam ${i} `));
    }
  }
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
