/**
 * Tests of what the IRC door takes in from a hostile client, over real
 * TLS in process: one line cannot make the door answer without limit (its
 * answers past the first cost flood tokens, as lines handed on do).
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../../_helpers.ts";

/** Registers on the IRC port as `nick`; returns the client after 366. */
async function ircJoin(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.send(`NICK ${nick}`);
  await client.send("USER u 0 * :Real Name");
  await client.expect(/ 366 /);
  return client;
}

Deno.test("IRC door: each answer past the first the door gives one line itself (a MODE of 60 unknown modes) takes a flood token: the next line waits", async () => {
  await using server = await startServer("node", [
    "--flood-rate",
    "20",
    "--flood-burst",
    "3",
  ], { irc: true });
  using amy = await ircJoin(server.ircPort, "amy");
  const started = Date.now();
  await amy.send(`MODE #lobby +${"z".repeat(60)}`);
  await amy.send("PING :after");
  await amy.expect(/^:tlschat PONG tlschat :after$/, 15_000);
  const waited = Date.now() - started;
  const unknown = amy.received.filter((l) => / 472 amy z /.test(l));
  assert.equal(unknown.length, 60);
  // 59 tokens more at 18 a second: about 3.3 s (before: at once).
  assert.ok(waited >= 2500, `${waited} ms`);
  assert.doesNotMatch(amy.received.join("\n"), /ERROR|Slow down/);
});
