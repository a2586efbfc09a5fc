/**
 * Tests of `LIST` on the IRC door (no sockets: `translateIn` and the
 * session's lines through `translateOut`): without a channel every room,
 * with channels only those (RFC 2812 3.2.6), each asked of the session on
 * its own (`/rooms #room`), so that a room past the busiest that fit in
 * `/rooms` is listed too.
 */

import assert from "node:assert/strict";
import { translateIn } from "../../../lib/server/irc/inbound.ts";
import { inOrder } from "../../../lib/server/irc/in_order.ts";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import { ircState, recorder } from "./_sink.ts";

/** A registered client `me` in #lobby. */
function setup() {
  const state = ircState();
  state.nick = "me";
  state.registered = true;
  state.joined.add("#lobby");
  const sink = recorder();
  const ordered = inOrder(state, sink);
  const send = (line: string) =>
    translateIn(state, parseIrcLine(line)!, ordered);
  const answer = (...lines: string[]) => {
    for (const line of lines) translateOut(state, line, sink);
  };
  const irc = () => sink.irc_.map((l) => l.replace(/^:tlschat /, ""));
  return { state, sink, send, answer, irc };
}

Deno.test("LIST #a,#zz lists #a alone (and nothing for #zz, which is no room), asking the session for each channel", () => {
  const { state, sink, send, answer, irc } = setup();
  send("LIST #a,#zz,#A,nick");
  assert.deepEqual(sink.native_, ["/rooms #a", "/rooms #zz"]);
  answer("ROOM #a 2 - Hi", "INFO 1 room", "INFO 0 rooms");
  assert.deepEqual(irc(), [
    "321 me Channel :Users  Name",
    "322 me #a 2 :Hi",
    "323 me :End of /LIST",
  ]);
  assert.deepEqual([state.pending, state.held], [[], 0]);
});

Deno.test("LIST without a channel (or with only what names none: ELIST's >1) lists every room", () => {
  const { sink, send, answer, irc } = setup();
  send("LIST");
  send("LIST >1");
  assert.deepEqual(sink.native_, ["/rooms", "/rooms"]);
  answer("ROOM #a 2 - Hi", "ROOM #b 1 - ", "INFO 2 rooms");
  answer("ROOM #a 2 - Hi", "INFO 1 room");
  assert.deepEqual(irc(), [
    "321 me Channel :Users  Name",
    "322 me #a 2 :Hi",
    "322 me #b 1 :",
    "323 me :End of /LIST",
    "321 me Channel :Users  Name",
    "322 me #a 2 :Hi",
    "323 me :End of /LIST",
  ]);
});

Deno.test("LIST #a with a NAMES before it the session never answered: 366, then #a's line and 323", () => {
  const { state, send, answer, irc } = setup();
  send("NAMES #lobby");
  send("LIST #a");
  answer("ROOM #a 2 - Hi", "INFO 1 room");
  assert.deepEqual(irc(), [
    "366 me #lobby :End of /NAMES list",
    "321 me Channel :Users  Name",
    "322 me #a 2 :Hi",
    "323 me :End of /LIST",
  ]);
  assert.deepEqual([state.pending, state.held], [[], 0]);
});
