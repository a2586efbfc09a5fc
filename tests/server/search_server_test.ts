/** End-to-end tests of `/search` over real TLS: what it finds, in whose rooms, and its limits. */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../_helpers.ts";

/** Joins with `rooms` on. */
async function joinWithRooms(port: number, alias: string) {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  await client.expect(/^CAP rooms$/);
  await client.send(alias);
  await client.expect(/^CURRENT #lobby$/);
  return client;
}

/** Sends a search and reads its answer up to FOUNDEND. */
async function search(client: TestClient, words: string): Promise<string[]> {
  await client.send(`/search ${words}`);
  const lines: string[] = [];
  for (;;) {
    const line = await client.expect(/^(FOUND|FOUNDEND|ERR) /);
    lines.push(line);
    if (!line.startsWith("FOUND ")) return lines;
  }
}

const TIME = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";

Deno.test("/search finds what was said in the member's rooms, before it joined too, newest first, the last word as a word's start, and nothing of other rooms or private messages", async () => {
  await using s = await startServer("node");
  using amy = await joinWithRooms(s.port, "amy");
  await amy.send("/join #ops");
  await amy.expect(/^CURRENT #ops$/);
  await amy.send("#ops deploy the secret build");
  await amy.expect(/^#ops MSG amy deploy the secret build$/);
  await amy.send("#lobby deploy on Friday");
  await amy.expect(/^#lobby MSG amy deploy on Friday$/);
  await amy.send("#lobby /me deploys nothing");
  await amy.expect(/^#lobby ME amy deploys nothing$/);
  using bob = await TestClient.join(s.port, "bob");
  await amy.send("/msg bob deploy privately");
  await amy.expect(/^SENT bob deploy privately$/);
  await bob.expect(/^PRIV amy deploy privately$/);
  await bob.send("#lobby DEPLOY at noon"); // a plain client: text as is
  await bob.expect(/^MSG bob #lobby DEPLOY at noon$/);

  const bobs = await search(bob, "deploy");
  assert.equal(bobs.length, 4);
  assert.match(
    bobs[0]!,
    new RegExp(`^FOUND #lobby \\d+ ${TIME} MSG bob #lobby DEPLOY at noon$`),
  );
  assert.match(
    bobs[1]!,
    new RegExp(`^FOUND #lobby \\d+ ${TIME} ME amy deploys nothing$`),
  );
  assert.match(
    bobs[2]!,
    new RegExp(`^FOUND #lobby \\d+ ${TIME} MSG amy deploy on Friday$`),
  );
  assert.equal(bobs[3], "FOUNDEND 3 End of search: 3 lines");

  const amys = await search(amy, "deploy");
  assert.deepEqual(amys.map((l) => l.replace(/ \d+ \S+Z /, " ")), [
    "FOUND #lobby MSG bob #lobby DEPLOY at noon",
    "FOUND #lobby ME amy deploys nothing",
    "FOUND #lobby MSG amy deploy on Friday",
    "FOUND #ops MSG amy deploy the secret build",
    "FOUNDEND 4 End of search: 4 lines",
  ]);
  assert.deepEqual(
    (await search(amy, "secr")).map((l) => l.replace(/ \d+ \S+Z /, " ")),
    [
      "FOUND #ops MSG amy deploy the secret build",
      "FOUNDEND 1 End of search: 1 line",
    ],
    "the last word's start",
  );
  assert.deepEqual(
    (await search(amy, "secr build")).at(-1),
    "FOUNDEND 0 End of search: 0 lines",
    "the other words whole",
  );
  const numbers = amys.slice(0, 4).map((l) => Number(l.split(" ")[2]));
  assert.deepEqual(numbers, numbers.toSorted((a, b) => b - a));
  assert.deepEqual(
    (await search(amy, 'secret " * (')).map((l) => l.split(" ")[0]),
    ["FOUND", "FOUNDEND"],
    "FTS5 syntax in words is only text",
  );
  // #ops left: its lines are no longer searched.
  await amy.send("/part #ops");
  await amy.expect(/^#ops LEAVE amy /);
  assert.deepEqual(await search(amy, "secret"), [
    "FOUNDEND 0 End of search: 0 lines",
  ]);
});

Deno.test("/search refuses past its limits: no words, too many, too long, too often", async () => {
  await using s = await startServer("node", ["--search-rate", "2"]);
  using amy = await TestClient.join(s.port, "amy");
  await amy.send("/search");
  await amy.expect(/^ERR usage Usage: \/search WORDS/);
  await amy.send(`/search ${"w ".repeat(9)}`);
  await amy.expect(/^ERR usage /);
  await amy.send(`/search ${"x".repeat(201)}`);
  await amy.expect(/^ERR usage /);
  assert.equal(
    (await search(amy, "a")).at(-1),
    "FOUNDEND 0 End of search: 0 lines",
  );
  assert.equal(
    (await search(amy, "b")).at(-1),
    "FOUNDEND 0 End of search: 0 lines",
  );
  assert.match(
    (await search(amy, "c"))[0]!,
    /^ERR search-limit Too many searches: try again in \d+ s$/,
  );
});

Deno.test("/search --search-results bounds the answer to the newest lines", async () => {
  await using s = await startServer("node", ["--search-results", "3"]);
  using amy = await TestClient.join(s.port, "amy");
  for (let i = 1; i <= 5; i++) {
    await amy.send(`note ${i}`);
    await amy.expect(new RegExp(`^MSG amy note ${i}$`));
  }
  const found = await search(amy, "note");
  assert.deepEqual(found.map((l) => l.replace(/^FOUND #lobby \d+ \S+ /, "")), [
    "MSG amy note 5",
    "MSG amy note 4",
    "MSG amy note 3",
    "FOUNDEND 3 End of search: 3 lines (the newest 3)",
  ]);
});

for (const flags of [["--history", "0"], ["--durability", "memory"]]) {
  Deno.test(`/search with ${flags.join(" ")}: ERR no-history`, async () => {
    await using s = await startServer("node", flags);
    using amy = await TestClient.join(s.port, "amy");
    await amy.send("hello");
    await amy.expect(/^MSG amy hello$/);
    assert.deepEqual(await search(amy, "hello"), [
      "ERR no-history This server keeps no history to search",
    ]);
  });
}
