/**
 * Rooms end to end in process (capability `rooms`): a real TLS listener on
 * 127.0.0.1 port 0 and real TLS clients. Members in different rooms do not
 * see each other's lines, a member in both sees both, prefixed; a client
 * without the capability chats in the default room as before.
 */

import assert from "node:assert/strict";
import { openStore } from "../../lib/server/storage/store.ts";
import { ENGINES, startServer, TestClient } from "../_helpers.ts";

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

for (const engine of ENGINES) {
  Deno.test(`[${engine}] rooms: HELLO offers rooms and a rooms client gets its own JOIN and CURRENT`, async () => {
    await using s = await startServer(engine);
    using alice = await TestClient.connect(s.port);
    assert.match(
      await alice.readLine() ?? "",
      /caps=ids\+rooms\+seq\+resume\+notice,epoch=[\w-]+ /,
    );
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
    // Its /help is worded for a client with rooms.
    await alice.send("/help");
    const help: string[] = [];
    while (!help.at(-1)?.startsWith("INFO Server operators")) {
      help.push(await alice.readLine() ?? "");
    }
    assert.ok(help.includes("INFO /who: list who is in the room"), `${help}`);
    assert.ok(help.some((l) => l.startsWith("INFO Rooms: /join #ROOM")));
    assert.ok(
      help.includes(
        "INFO /quit [REASON]: leave the server, and every room with it",
      ),
    );
    assert.ok(!help.some((l) => l.includes("/read")));
  });

  Deno.test(`[${engine}] rooms: two rooms are apart, a member of both sees both prefixed, ncat-style clients see the lobby as before`, async () => {
    await using s = await startServer(engine);
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
    assert.equal(
      await bob.expect(/^ERR/),
      "ERR not-in-room You are not in #ops",
    );
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

  Deno.test(`[${engine}] rooms: lines piped right after /join go to the new room (the join is waited for)`, async () => {
    using store = openStore(null);
    await using s = await startServer(engine, ["--history", "5"], { store });
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

  Deno.test(`[${engine}] rooms: a client without rooms sees only its room's lines, in today's format, whatever rooms clients do elsewhere`, async () => {
    await using s = await startServer(engine);
    using plain = await TestClient.join(s.port, "plain");
    using bob = await roomsClient(s.port, "bob");
    assert.equal(await plain.readLine(), "JOIN bob 2");
    await bob.send("/join #ops");
    await bob.expect(/^CURRENT #ops$/);
    await bob.send("#ops /invite plain");
    await bob.expect(/^INFO plain is invited/);
    await bob.send("#ops /key k3y");
    await bob.send("#ops /inviteonly on");
    await bob.send("#ops secret stuff");
    await bob.expect(/^#ops MSG bob secret stuff$/);
    await bob.send("/nick robert");
    await bob.expect(/^#ops NICK bob robert 1$/);
    await bob.send("#ops /part");
    await bob.expect(/^CURRENT #lobby$/);
    await bob.send("#lobby hi all");
    // Two senders: plain's /who goes once bob's line is out (echoed).
    await bob.expect(/^#lobby MSG robert hi all$/);
    await plain.send("/who");
    assert.deepEqual(
      [await plain.readLine(), await plain.readLine(), await plain.readLine()],
      ["NICK bob robert 2", "MSG robert hi all", "WHO 2 plain robert"],
    );
  });

  Deno.test(`[${engine}] rooms: odd lines from a rooms client (with ids) get answers, never end the session or the server`, async () => {
    await using s = await startServer(engine);
    using amy = await TestClient.connect(s.port);
    await amy.expect(/^HELLO /);
    await amy.send("/cap ids rooms");
    await amy.expect(/^CAP /);
    await amy.send("amy");
    await amy.expect(/^CURRENT /);
    const odd = [
      "#",
      "# x",
      "#".repeat(40),
      `#${"a".repeat(33)} hi`,
      "#\u212Aey hi",
      "/join #a KEY EXTRA",
      "/join #\u212Aey",
      "/part #nope",
      "/op amy",
      "/kick amy",
      "#a /deop amy",
      "#a /roomban amy",
      "#a /mute amy 1s",
      "#a /key \u{1F600}",
      "@id=odd-line-id-0001 #nope hi",
      "@id=odd-line-id-0002 #a",
      "@id=odd-line-id-0003 #a /who",
      "@id=odd-line-id-0004 #",
      "@id=odd-line-id-0005 # hi",
      "#a @id=odd-line-id-0006 hi",
      "#lobby /part",
      "/part",
      "hi",
      "/join #lobby",
    ];
    for (const line of odd) await amy.send(line);
    await amy.send("#lobby /who");
    assert.equal(await amy.expect(/^#lobby WHO /), "#lobby WHO 1 amy");
    // Nothing odd was taken for a room: no line named one but #a and #lobby.
    const named = amy.received.flatMap((line) =>
      line.match(/^(?:@id=\S+ )?(#\S+) /)?.[1] ?? []
    );
    assert.deepEqual([...new Set(named)].sort(), ["#a", "#lobby"]);
  });

  Deno.test(`[${engine}] rooms: a member kicked or banned from a room is told so (MOD) before its LEAVE`, async () => {
    await using s = await startServer(engine);
    using amy = await roomsClient(s.port, "amy");
    using bob = await roomsClient(s.port, "bob");
    await amy.send("/join #a");
    await amy.expect(/^CURRENT #a$/);
    await bob.send("/join #a");
    await bob.expect(/^CURRENT #a$/);
    await amy.send("#a /kick bob out");
    assert.equal(await bob.readLine(), "#a MOD kick bob amy out");
    assert.equal(await bob.readLine(), "#a LEAVE bob 1 kicked out");
    assert.equal(await bob.readLine(), "CURRENT #lobby");
    assert.equal(await amy.expect(/^#a MOD/), "#a MOD kick bob amy out");
    assert.equal(await amy.readLine(), "#a LEAVE bob 1 kicked out");
    await bob.send("/join #a");
    await bob.expect(/^CURRENT #a$/);
    await amy.send("#a /roomban bob 1h spam");
    assert.match(await bob.expect(/^#a /), /^#a MOD ban bob amy /);
    assert.equal(await bob.readLine(), "#a LEAVE bob 1 banned spam");
  });

  Deno.test(`[${engine}] rooms: a member in no room cannot rename unseen: /nick needs a room to announce it`, async () => {
    await using s = await startServer(engine);
    using amy = await roomsClient(s.port, "amy");
    await amy.send("/part");
    await amy.expect(/^CURRENT -$/);
    await amy.send("/nick amelia");
    assert.equal(
      await amy.readLine(),
      "ERR not-in-room You are in no room: /join #room",
    );
    await amy.send("/join #lobby");
    await amy.expect(/^CURRENT #lobby$/);
    await amy.send("/nick amelia");
    assert.equal(await amy.readLine(), "#lobby NICK amy amelia 1");
  });
}

Deno.test("rooms: /roomban of an account not connected keeps it out when it logs in", async () => {
  await using s = await startServer("node");
  await s.server.gate.accounts.add("bob", "bob password");
  using amy = await roomsClient(s.port, "amy");
  await amy.send("/join #a");
  await amy.expect(/^CURRENT #a$/);
  await amy.send("#a /roomban bob 1h spam");
  assert.match(await amy.expect(/^#a MOD/), /^#a MOD ban bob amy by amy /);
  using bob = await TestClient.connect(s.port);
  await bob.expect(/^HELLO /);
  await bob.send("/cap rooms");
  await bob.expect(/^CAP rooms$/);
  await bob.send("bob");
  await bob.expect(/^PASSWORD /);
  await bob.send("/pass bob password");
  await bob.expect(/^CURRENT #lobby$/);
  await bob.send("/join #a");
  assert.match(await bob.readLine() ?? "", /^ERR room-banned /);
});

Deno.test("rooms: a /join the database cannot store (full) is answered with ERR unavailable, the joiner not in the room; the same /join enters once storage is back", async () => {
  using store = openStore(null);
  await using s = await startServer("node", [], { store });
  using amy = await roomsClient(s.port, "amy");
  using bob = await roomsClient(s.port, "bob");
  await bob.send("/join #den");
  await bob.expect(/^CURRENT #den$/);
  // No page more: tiny messages fill what room is left, until one fails
  // (a JOIN, with its room's record, is bigger: it fails too).
  const { page_count: pages } = store.db.prepare("PRAGMA page_count")
    .get() as { page_count: number };
  store.db.exec(`PRAGMA max_page_count = ${pages}`);
  for (let i = 0;; i++) {
    assert.ok(i < 5000, "the database never filled up");
    await amy.send("#lobby x");
    const got = await amy.expect(/^(#lobby MSG amy x|ERR unavailable .*)$/);
    if (got.startsWith("ERR ")) break;
  }
  await amy.send("/join #den");
  assert.equal(
    await amy.expect(/^(ERR|CURRENT) /),
    "ERR unavailable Cannot join #den: the room cannot store events right now; /join #den again later",
  );
  await amy.send("#den hi");
  assert.equal(
    await amy.expect(/^ERR /),
    "ERR not-in-room You are not in #den",
  );
  await bob.send("#den /who");
  assert.equal(await bob.expect(/WHO/), "#den WHO 1 @bob");
  // Storage is back: the same /join enters.
  store.db.exec("PRAGMA max_page_count = 1000000");
  await amy.send("/join #den");
  assert.equal(await amy.expect(/^(ERR|CURRENT) /), "CURRENT #den");
  assert.equal(await bob.expect(/^#den JOIN /), "#den JOIN amy 2");
});
