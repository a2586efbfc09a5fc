/**
 * `/read` end to end in process: a real TLS listener on 127.0.0.1 port 0
 * and real TLS clients: malformed lines and clients without `seq` get
 * `ERR usage`, a room the member is not in `ERR not-in-room`; a marker
 * that grows reaches the account's other `seq` connection as `READ`.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../_helpers.ts";

/** Logs into account alice with `/cap seq`, as `alias` after joining. */
async function device(port: number, alias: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO .*epoch=/);
  await client.send("/cap seq");
  await client.expect(/^CAP seq$/);
  await client.send("alice");
  await client.expect(/^PASSWORD account /);
  await client.send("/pass alice password");
  await client.expect(/^WELCOME alice /);
  if (alias !== "alice") {
    await client.send(`/nick ${alias}`);
    await client.expect(new RegExp(`NICK alice ${alias} `));
  }
  return client;
}

Deno.test("serveChat() tells a /read that grows to the account's other seq connection, never to the reader or a guest", async () => {
  await using s = await startServer("node");
  await s.server.gate.accounts.add("alice", "alice password");
  using phone = await device(s.port, "alice_phone");
  using laptop = await device(s.port, "alice");
  using guest = await TestClient.join(s.port, "gus");
  await laptop.expect(/JOIN gus /);
  await phone.expect(/JOIN gus /);
  await guest.send("hello");
  await guest.expect(/^MSG gus hello$/);
  const seq = Number(
    /@seq=(\d+)/.exec(await phone.expect(/MSG gus hello/))![1],
  );
  await laptop.expect(/MSG gus hello/);
  await phone.send(`/read ${seq}`);
  assert.equal(await laptop.readLine(), `READ ${seq}`);
  await phone.send(`/read ${seq - 1}`); // not growing: nobody told
  await phone.send("/who");
  assert.match(await phone.readLine() ?? "", /^WHO 3 /);
  await laptop.send("/who");
  assert.match(await laptop.readLine() ?? "", /^WHO 3 /);
  await guest.send("/who");
  assert.match(await guest.readLine() ?? "", /^WHO 3 /);
});

Deno.test("serveChat() takes /read of a room named in any case, as every other command does", async () => {
  await using s = await startServer("node");
  await s.server.gate.accounts.add("alice", "alice password");
  using phone = await device(s.port, "alice_phone");
  using laptop = await device(s.port, "alice");
  using guest = await TestClient.join(s.port, "gus");
  await laptop.expect(/JOIN gus /);
  await phone.expect(/JOIN gus /);
  await guest.send("hello");
  const seq = Number(
    /@seq=(\d+)/.exec(await phone.expect(/MSG gus hello/))![1],
  );
  await laptop.expect(/MSG gus hello/);
  await phone.send(`/read #LOBBY ${seq}`);
  assert.equal(await laptop.readLine(), `READ ${seq}`);
});

Deno.test("serveChat() answers /read without seq, malformed or for a room one is not in, and tells nobody", async () => {
  await using s = await startServer("node");
  using plain = await TestClient.join(s.port, "plain");
  using alice = await TestClient.connect(s.port);
  await alice.expect(/^HELLO /);
  await alice.send("/cap rooms");
  await alice.expect(/^CAP rooms$/);
  await alice.send("alice");
  await alice.expect(/^CURRENT /);
  await plain.expect(/^JOIN alice 2$/);
  for (const line of ["/read", "/read #lobby", "/read 1 2 3", "/read -4"]) {
    await plain.send(line);
    assert.match(await plain.readLine() ?? "", /^ERR usage .*\/read/, line);
  }
  await plain.send("/read 5"); // without seq
  assert.match(await plain.readLine() ?? "", /^ERR usage .*seq/);
  await alice.send("/read #nowhere 5");
  assert.equal(
    await alice.readLine(),
    "ERR not-in-room You are not in #nowhere",
  );
  await alice.send("/read #lobby 5");
  assert.match(await alice.readLine() ?? "", /^ERR usage .*seq/);
  await plain.send("/who"); // nothing else came before its answer
  assert.match(await plain.readLine() ?? "", /^WHO 2 /);
});
