/**
 * Room mutes across servers: real `server.ts` processes on one real Redis,
 * clients with the `rooms` capability, all guests from 127.0.0.1 (one
 * address group). An address mute of one guest holds another guest of that
 * address on another server, which floods the room as the mute goes
 * through Redis: no line of it reaches anyone after the `MOD mute`, and it
 * hears `ERR muted`; a server started after the mute holds its own guest
 * of that address. A server-wide mute (the default room's) likewise holds a
 * guest of the muted address on another server, never an operator, until
 * it is lifted.
 */

import assert from "node:assert/strict";
import {
  type ServerProcess,
  testCertificates,
  TestClient,
} from "../../_helpers.ts";
import { addAccount, startServer, withCluster } from "./_cluster.ts";

/** A client with `rooms` on `server`, joined as `alias`, in `room`. */
async function member(
  server: ServerProcess,
  alias: string,
  room: string,
): Promise<TestClient> {
  const { ca } = await testCertificates();
  const client = await TestClient.connect(server.port, "127.0.0.1", ca.cert);
  await client.expect(/^HELLO .*caps=\S*rooms/);
  await client.send("/cap rooms");
  await client.expect(/^CAP rooms$/);
  await client.send(alias);
  await client.expect(/^CURRENT #lobby$/);
  await client.send(`/join ${room}`);
  await client.expect(new RegExp(`^CURRENT ${room}$`));
  return client;
}

/** The `#r` messages `client` gets before the answer to its `/who`. */
async function messagesUntilWho(client: TestClient): Promise<string[]> {
  await client.send("#r /who");
  const seen: string[] = [];
  while (true) {
    const line = await client.expect(/^#r (MSG|WHO) /, 30_000);
    if (line.startsWith("#r WHO")) return seen;
    seen.push(line);
  }
}

/** Sends `#r spam` lines, 200 at a time, until one is answered `ERR muted`. */
async function floodUntilMuted(client: TestClient, round: number) {
  for (let n = 0;; n++) {
    const lines = Array.from(
      { length: 200 },
      (_, i) => `#r spam ${round}/${n}.${i}\n`,
    );
    await client.send(new TextEncoder().encode(lines.join("")));
    const line = await client.expect(
      new RegExp(`spam ${round}/${n}\\.199$|^ERR muted `),
      30_000,
    );
    if (line.startsWith("ERR muted")) return;
  }
}

Deno.test("an address mute holds every guest of that address on every server: one flooding the room from another server as the mute goes through is refused from the MOD on (ERR muted), nobody sees its lines after it", async () => {
  await withCluster(2, async ([s0, s1], redis, dir) => {
    using amy = await member(s0!, "amy", "#r"); // its operator: not held
    using bob = await member(s0!, "bob", "#r");
    using gus = await member(s1!, "gus", "#r");
    // Three times: the lines gus's server sends while the mute of bob
    // goes through Redis, before it reads it, come after it in the log.
    for (let round = 0; round < 3; round++) {
      const flood = floodUntilMuted(gus, round);
      await amy.expect(new RegExp(`^#r MSG gus spam ${round}/3\\.0$`), 30_000);
      await amy.send("#r /mute bob 10m enough");
      await amy.expect(/^#r MOD mute bob amy /, 30_000);
      await bob.expect(/^#r MOD mute bob amy /, 30_000);
      await flood;
      for (const [name, client] of [["amy", amy], ["bob", bob]] as const) {
        assert.deepEqual(
          await messagesUntilWho(client),
          [],
          `round ${round}: ${name}`,
        );
      }
      await amy.send("#r /unmute bob");
      await gus.expect(/^#r MOD unmute bob amy$/, 30_000);
      await bob.expect(/^#r MOD unmute bob amy$/, 30_000);
      // Past every answer to the flood.
      await gus.send("#r /who");
      await gus.expect(/^#r WHO /, 30_000);
    }
    // A server started after the mute holds its own guest of that address.
    await amy.send("#r /mute bob 10m again");
    await amy.expect(/^#r MOD mute bob amy /, 30_000);
    await using s2 = await startServer(dir, "s2", redis, [
      "--room-create",
      "any",
    ]);
    using cat = await member(s2, "cat", "#r");
    await cat.send("#r hello");
    await cat.expect(/^ERR muted You are muted in #r/);
  }, { args: ["--room-create", "any"] });
});

/** Sends `spam` lines, 200 at a time, until one is answered `ERR muted`. */
async function floodLobbyUntilMuted(client: TestClient, round: number) {
  for (let n = 0;; n++) {
    const lines = Array.from(
      { length: 200 },
      (_, i) => `spam ${round}/${n}.${i}\n`,
    );
    await client.send(new TextEncoder().encode(lines.join("")));
    const line = await client.expect(
      new RegExp(`spam ${round}/${n}\\.199$|^ERR muted `),
      30_000,
    );
    if (line.startsWith("ERR muted")) return;
  }
}

/** The lines of `alias` that `client` gets before `MSG op mark`. */
async function linesOfUntilMark(
  client: TestClient,
  alias: string,
  round: number,
): Promise<string[]> {
  const seen: string[] = [];
  while (true) {
    const line = await client.expect(/^MSG /, 30_000);
    if (line === `MSG op mark ${round}`) return seen;
    if (line.startsWith(`MSG ${alias} `)) seen.push(line);
  }
}

Deno.test("a server-wide mute holds every guest of the muted address on every server: one flooding the default room from another server as the mute goes through is refused from the MOD on (ERR muted), nobody sees its lines after it; the operator at that address speaks; an unmute lets it speak again", async () => {
  const { ca } = await testCertificates();
  await withCluster(2, async ([s0, s1]) => {
    // A server operator (by account) from 127.0.0.1: never held.
    using op = await TestClient.join(s0!.port, "op", {
      ca: ca.cert,
      password: "op's password",
    });
    using bob = await TestClient.join(s0!.port, "bob", { ca: ca.cert });
    using gus = await TestClient.join(s1!.port, "gus", { ca: ca.cert });
    await op.expect(/^JOIN gus /);
    for (let round = 0; round < 3; round++) {
      const flood = floodLobbyUntilMuted(gus, round);
      await op.expect(new RegExp(`^MSG gus spam ${round}/3\\.0$`), 30_000);
      await op.send("/mute bob 10m enough");
      await op.expect(/^MOD mute bob op /, 30_000);
      await bob.expect(/^MOD mute bob op /, 30_000);
      await flood;
      await op.send(`mark ${round}`);
      for (const [name, client] of [["op", op], ["bob", bob]] as const) {
        assert.deepEqual(
          await linesOfUntilMark(client, "gus", round),
          [],
          `round ${round}: ${name}`,
        );
      }
      await op.send("/unmute bob");
      await gus.expect(/^MOD unmute bob op$/, 30_000);
      await bob.expect(/^MOD unmute bob op$/, 30_000);
      await gus.send(`free ${round}`);
      await op.expect(new RegExp(`^MSG gus free ${round}$`), 30_000);
      await bob.expect(new RegExp(`^MSG gus free ${round}$`), 30_000);
    }
  }, { before: (dir) => addAccount(dir, "s0", "op", true) });
});
