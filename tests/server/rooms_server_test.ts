/**
 * Rooms end to end in process (capability `rooms`): a real TLS listener on
 * 127.0.0.1 port 0 and real TLS clients. Members in different rooms do not
 * see each other's lines, a member in both sees both, prefixed; a client
 * without the capability chats in the default room as before.
 */

import assert from "node:assert/strict";
import { openStore } from "../../lib/server/storage/store.ts";
import { startServer, TestClient } from "../_helpers.ts";

/** Connects with `/cap ids rooms` and joins as `alias`, past `CURRENT`. */
async function roomsClient(port: number, alias: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  assert.equal(await client.readLine(), "CAP rooms");
  await client.send(alias);
  await client.expect(/^WELCOME /);
  await client.expect(/^CURRENT /);
  return client;
}

Deno.test("rooms: HELLO offers rooms and a rooms client gets its own JOIN and CURRENT", async () => {
  await using s = await startServer("node");
  using alice = await TestClient.connect(s.port);
  assert.match(await alice.readLine() ?? "", /caps=ids\+rooms /);
  await alice.send("/cap ids rooms");
  assert.equal(await alice.readLine(), "CAP ids rooms");
  await alice.send("alice");
  assert.equal(
    await alice.readLine(),
    "WELCOME alice 1 Type /help for commands",
  );
  assert.equal(await alice.readLine(), "#lobby JOIN alice 1");
  assert.equal(await alice.readLine(), "CURRENT #lobby");
  await alice.send("hi");
  assert.match(await alice.readLine() ?? "", /^@id=\S+ #lobby MSG alice hi$/);
});

Deno.test("rooms: two rooms are apart, a member of both sees both prefixed, ncat-style clients see the lobby as before", async () => {
  await using s = await startServer("node");
  using plain = await TestClient.join(s.port, "plain");
  using alice = await roomsClient(s.port, "alice");
  using bob = await roomsClient(s.port, "bob");
  using carol = await roomsClient(s.port, "carol");
  await alice.expect(/^#lobby JOIN carol 4$/);
  await alice.send("/join #Ops");
  assert.equal(await alice.readLine(), "#ops JOIN alice 1");
  assert.equal(await alice.readLine(), "CURRENT #ops");
  await bob.send("/join #dev");
  assert.equal(await bob.expect(/^CURRENT/), "CURRENT #dev");
  await carol.send("/join #ops");
  assert.equal(await carol.expect(/^CURRENT/), "CURRENT #ops");
  await carol.send("/join #dev");
  assert.equal(await carol.expect(/^CURRENT/), "CURRENT #dev");
  assert.equal(await alice.expect(/^#ops JOIN carol/), "#ops JOIN carol 2");
  await alice.send("#ops deploy done");
  assert.equal(await alice.readLine(), "#ops MSG alice deploy done");
  await bob.send("build green");
  assert.equal(await bob.expect(/MSG/), "#dev MSG bob build green");
  assert.equal(await carol.expect(/MSG/), "#ops MSG alice deploy done");
  assert.equal(await carol.expect(/MSG/), "#dev MSG bob build green");
  await bob.send("#lobby hello lobby");
  assert.equal(await plain.expect(/^MSG/), "MSG bob hello lobby");
  await plain.send("old style");
  assert.equal(await alice.expect(/MSG/), "#lobby MSG bob hello lobby");
  assert.equal(await alice.expect(/MSG/), "#lobby MSG plain old style");
  await bob.send("#ops nope");
  assert.equal(await bob.expect(/^ERR/), "ERR not-in-room You are not in #ops");
  await plain.send("/join #ops");
  assert.equal(
    await plain.expect(/^ERR/),
    "ERR usage Rooms need the rooms capability: send /cap rooms before your alias",
  );
  await alice.send("/part #ops bye");
  assert.equal(await alice.readLine(), "#ops LEAVE alice 1 part bye");
  assert.equal(await alice.readLine(), "CURRENT #lobby");
  assert.equal(await carol.expect(/LEAVE/), "#ops LEAVE alice 1 part bye");
  await alice.send("/rooms");
  assert.deepEqual(
    [await alice.readLine(), await alice.readLine(), await alice.readLine()],
    ["ROOM #lobby 4 m", "ROOM #dev 2 -", "ROOM #ops 1 -"],
  );
  assert.equal(await alice.readLine(), "INFO 3 rooms");
});

Deno.test("rooms: lines piped right after /join go to the new room (the join is waited for)", async () => {
  using store = openStore(null);
  await using s = await startServer("node", ["--history", "5"], { store });
  using watcher = await roomsClient(s.port, "watcher");
  await watcher.send("/join #ops");
  await watcher.expect(/^CURRENT #ops$/);
  using bot = await TestClient.connect(s.port);
  await bot.expect(/^HELLO /);
  await bot.send(
    "/cap rooms\nbot\n/join #ops\ndeploy done\n#ops /who\n/join #dev\nsecond",
  );
  assert.equal(await watcher.expect(/MSG/), "#ops MSG bot deploy done");
  assert.equal(await bot.expect(/WHO/), "#ops WHO 2 bot @watcher");
  assert.equal(await bot.expect(/MSG bot second/), "#dev MSG bot second");
});
