/**
 * Tests of the IRC door over real TLS, in process: an IRC client spoken by
 * hand registers, is in the default room with its names, and chats with a
 * native member both ways, in one order; refusals reach it as numerics.
 */

import assert from "node:assert/strict";
import { startServer, TestClient } from "../../_helpers.ts";

/** Registers on the IRC port as `nick`; returns the client after 422. */
async function ircJoin(
  port: number,
  nick: string,
  lines: string[] = [],
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  for (const line of [...lines, `NICK ${nick}`, "USER u 0 * :Real Name"]) {
    await client.send(line);
  }
  await client.expect(/ 422 /);
  return client;
}

Deno.test("IRC door: registration, the default room's names, PRIVMSG both ways with a native member", async () => {
  await using server = await startServer("node", [], { irc: true });
  using bob = await TestClient.join(server.port, "bob");
  using irc = await ircJoin(server.ircPort, "j|doe");
  assert.match(irc.received[0]!, /^:tlschat 001 j\|doe :Welcome/);
  assert.ok(irc.received.some((l) => / 005 .*CHANTYPES=# /.test(l)));
  await irc.expect(/^:j\|doe!j\|doe@tlschat JOIN #lobby$/);
  assert.match(await irc.expect(/ 353 /), / 353 j\|doe = #lobby :bob j\|doe$/);
  await irc.expect(/ 366 j\|doe #lobby /);
  await bob.expect(/^JOIN j\.doe 2$/);
  await bob.send("hello irc");
  await irc.expect(/^:bob!bob@tlschat PRIVMSG #lobby :hello irc$/);
  await irc.send("PRIVMSG #lobby :\x02hi\x02 bob");
  await bob.expect(/^MSG j\.doe hi bob$/);
  await irc.send("PRIVMSG #lobby :\x01ACTION waves\x01");
  await bob.expect(/^ME j\.doe waves$/);
  await irc.send("PRIVMSG bob :psst");
  await bob.expect(/^PRIV j\.doe psst$/);
  await bob.send("/msg j.doe back");
  await irc.expect(/^:bob!bob@tlschat PRIVMSG j\|doe :back$/);
  await irc.send("FOO bar");
  await irc.expect(/ 421 j\|doe FOO :Unknown command$/);
  await irc.send("QUIT :bye now");
  assert.match((await irc.readToEnd()).at(-1)!, /^ERROR :Closing link/);
  await bob.expect(/^LEAVE j\.doe 1 quit bye now$/);
});
