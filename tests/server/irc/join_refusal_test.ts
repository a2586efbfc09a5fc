/**
 * Tests of the refusals of an IRC client's `JOIN` and `NICK` as numerics
 * naming what was refused: each refusal of a `JOIN` (a limit on rooms, a
 * look-alike name) is its numeric with the channel asked for, so that the
 * client knows which join failed, and a `NICK` refused in no channel is
 * 484 naming none. Pure, then over real TLS.
 */

import assert from "node:assert/strict";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { NICK_REFUSED } from "../../../lib/server/irc/replies.ts";
import { startServer, TestClient } from "../../_helpers.ts";
import { ircState, recorder } from "./_sink.ts";

/** What the session's `lines` become for a registered client `me`. */
function translated(...lines: string[]): string[] {
  const state = ircState();
  state.nick = "me";
  state.registered = true;
  const sink = recorder();
  for (const line of lines) translateOut(state, line, sink);
  return sink.irc_.map((l) => l.replace(/^:tlschat /, ""));
}

Deno.test("translateOut() sends each refusal of a JOIN as its numeric naming the channel asked for (a look-alike's 479 not the room it looks like), not a NOTICE", () => {
  assert.deepEqual(
    translated(
      "ERR room-creations Cannot create #new: you created 10 rooms this hour, the most allowed: try later",
      "ERR rooms-full Cannot create #new: the server has 500 rooms, its most: join one of them",
      "ERR room-taken Cannot create #o-ps: it looks like #ops",
      "ERR too-many-rooms Cannot join #new: you are in 20 rooms, the most one member may be in: /part one first",
    ),
    [
      "437 me #new :Cannot create #new: you created 10 rooms this hour, the most allowed: try later",
      "437 me #new :Cannot create #new: the server has 500 rooms, its most: join one of them",
      "479 me #o-ps :Cannot create #o-ps: it looks like #ops",
      "405 me #new :Cannot join #new: you are in 20 rooms, the most one member may be in: /part one first",
    ],
  );
});

Deno.test("translateOut() answers a rename refused in no room 484 naming no channel, not 442 for the '#room' of the refusal's help text", () => {
  assert.deepEqual(
    translated("ERR not-in-room You are in no room: /join #room"),
    [`484 me :${NICK_REFUSED}`],
  );
  // Not in one named room: 442 for that room, as before.
  assert.deepEqual(
    translated("ERR not-in-room You are not in #ops"),
    ["442 me #ops :You are not in #ops"],
  );
});

/** Registers on the IRC port as `nick`; returns the client after 422. */
async function ircJoin(port: number, nick: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  for (const line of [`NICK ${nick}`, "USER u 0 * :Real Name"]) {
    await client.send(line);
  }
  await client.expect(/ 422 /);
  return client;
}

Deno.test("IRC door: a JOIN past --room-creations is 437 and one of a look-alike 479, each naming its channel; NICK after parting every channel is 484", async () => {
  await using server = await startServer("deno", ["--room-creations", "1"], {
    irc: true,
  });
  using amy = await ircJoin(server.ircPort, "amy");
  await amy.expect(/^:amy!amy@tlschat JOIN #lobby$/);
  await amy.send("JOIN #ops");
  await amy.expect(/^:amy!amy@tlschat JOIN #ops$/);
  await amy.send("JOIN #o-ps,#new");
  await amy.expect(
    /^:tlschat 479 amy #o-ps :Cannot create #o-ps: it looks like #ops$/,
  );
  await amy.expect(
    /^:tlschat 437 amy #new :Cannot create #new: you created 1 rooms this hour, /,
  );
  await amy.send("PART #ops,#lobby");
  await amy.expect(/^:amy!amy@tlschat PART #ops$/);
  await amy.expect(/^:amy!amy@tlschat PART #lobby$/);
  await amy.send("NICK amelia");
  await amy.expect(new RegExp(`^:tlschat 484 amy :${escaped(NICK_REFUSED)}$`));
});

/** `text` as a regular expression matching it alone. */
function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
