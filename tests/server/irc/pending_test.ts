/**
 * Tests that no request the IRC door asks of the session (`state.pending`)
 * can hold up the door's answers for good: one the session answered
 * nothing to is ended when a later one is answered, a refusal of another
 * command is not taken for its answer, and at most `PENDING_MOST` are
 * pending (no sockets: `translateIn` and the session's lines through
 * `translateOut`).
 */

import assert from "node:assert/strict";
import { translateIn } from "../../../lib/server/irc/inbound.ts";
import { inOrder } from "../../../lib/server/irc/in_order.ts";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import { ircState, recorder } from "./_sink.ts";

/** The bound on requests pending (`replies.ts`'s `PENDING_MOST`). */
const MOST = 64;

/** A registered client `me` in #lobby, #a and #b. */
function setup() {
  const state = ircState();
  state.nick = "me";
  state.registered = true;
  for (const room of ["#lobby", "#a", "#b"]) state.joined.add(room);
  const sink = recorder();
  const ordered = inOrder(state, sink);
  const send = (...lines: string[]) => {
    for (const line of lines) translateIn(state, parseIrcLine(line)!, ordered);
  };
  const answer = (...lines: string[]) => {
    for (const line of lines) translateOut(state, line, sink);
  };
  const irc = () => sink.irc_.map((l) => l.replace(/^:tlschat /, ""));
  return { state, sink, send, answer, irc };
}

Deno.test("NAMES the session answered nothing to is ended (366) once a later request is answered, and what waited behind it goes: later answers are not held for good", () => {
  const { state, send, answer, irc } = setup();
  send("NAMES #a", "NAMES #zz", "TOPIC #b");
  answer("INFO No topic is set");
  assert.deepEqual(irc(), [
    "366 me #a :End of /NAMES list",
    "366 me #zz :End of /NAMES list",
    "331 me #b :No topic is set",
  ]);
  assert.deepEqual([state.pending, state.held], [[], 0]);
  // Nothing pending: at once.
  send("NAMES #yy");
  assert.deepEqual(irc().slice(3), ["366 me #yy :End of /NAMES list"]);
});

Deno.test("LIST and MODE #a the session answered nothing to end (323, 324 +) before a later WHO's reply", () => {
  const { state, send, answer, irc } = setup();
  send("LIST", "MODE #a", "WHO #a", "WHO #zz");
  answer("#a WHO 1 me");
  assert.deepEqual(irc(), [
    "321 me Channel :Users  Name",
    "323 me :End of /LIST",
    "324 me #a :+",
    "352 me #a me tlschat tlschat me H :0 me",
    "315 me #a :End of /WHO list",
    "315 me #zz :End of /WHO list",
  ]);
  assert.deepEqual([state.pending, state.held], [[], 0]);
});

Deno.test("NAMES the session answered nothing to ends (366) before LIST's 322s, and LIST's 321 held behind it goes before them", () => {
  const { state, send, answer, irc } = setup();
  send("NAMES #a", "LIST", "MODE #b b");
  answer("ROOM #a 2 - Hi", "INFO 1 room", "BAN room alice - bob spam");
  assert.deepEqual(irc(), [
    "366 me #a :End of /NAMES list",
    "321 me Channel :Users  Name",
    "322 me #a 2 :Hi",
    "323 me :End of /LIST",
    "367 me #b :alice!*@*",
  ]);
  assert.deepEqual(state.pending, [{ kind: "bans", room: "#b" }]);
});

Deno.test("A KICK's 482 is not taken for the answer to NAMES asked after it: 482, then the names", () => {
  const { state, send, answer, irc } = setup();
  send("KICK #a bob", "NAMES #a");
  answer(
    "ERR not-operator /kick is for operators of #a only",
    "#a WHO 1 me",
  );
  assert.deepEqual(irc(), [
    "482 me #a :/kick is for operators of #a only",
    "353 me = #a :me",
    "366 me #a :End of /NAMES list",
  ]);
  assert.deepEqual(state.pending, []);
});

Deno.test(`At most ${MOST} requests pending: more NAMES, WHO, TOPIC, LIST, MODE are answered at once as empty, in their place`, () => {
  const { state, sink, send, answer, irc } = setup();
  for (let i = 0; i < MOST; i++) send("NAMES #a");
  send("NAMES #b", "WHO #b", "TOPIC #b", "LIST", "MODE #b", "MODE #b b");
  assert.equal(state.pending.length, MOST);
  assert.equal(sink.native_.length, MOST);
  assert.deepEqual(irc(), []);
  for (let i = 0; i < MOST; i++) answer("#a WHO 1 me");
  assert.deepEqual(irc().slice(2 * MOST), [
    "366 me #b :End of /NAMES list",
    "315 me #b :End of /WHO list",
    "331 me #b :No topic is set",
    "321 me Channel :Users  Name",
    "323 me :End of /LIST",
    "324 me #b :+",
    "368 me #b :End of channel ban list",
  ]);
  assert.deepEqual([state.pending, state.held], [[], 0]);
});
