/**
 * Tests that the IRC door answers a client's commands in the order they
 * came, the answers it gives itself held behind those asked of the session
 * (no sockets: `translateIn` and the session's lines through `translateOut`).
 */

import assert from "node:assert/strict";
import { HELD_MOST } from "../../../lib/server/irc/in_order.ts";
import { translateIn } from "../../../lib/server/irc/inbound.ts";
import { inOrder } from "../../../lib/server/irc/in_order.ts";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import { ircState, recorder } from "./_sink.ts";

/** A registered client `me` in #lobby, #a and #b. */
function setup() {
  const state = ircState();
  state.nick = "me";
  state.registered = true;
  for (const room of ["#lobby", "#a", "#b"]) state.joined.add(room);
  const sink = recorder();
  const send = (...lines: string[]) => {
    for (const line of lines) {
      translateIn(state, parseIrcLine(line)!, inOrder(state, sink));
    }
  };
  const answer = (...lines: string[]) => {
    for (const line of lines) translateOut(state, line, sink);
  };
  const irc = () => sink.irc_.map((l) => l.replace(/^:tlschat /, ""));
  return { state, sink, send, answer, irc };
}

/** Lets the directory's answers (promises) settle. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("NAMES #a,#b,#zz answers #zz (not joined) after #a and #b, as asked, not before them", () => {
  const { state, send, answer, irc } = setup();
  send("NAMES #a,#b,#zz");
  assert.deepEqual(irc(), []);
  answer("#a WHO 2 @me bob");
  assert.deepEqual(irc(), [
    "353 me = #a :@me bob",
    "366 me #a :End of /NAMES list",
  ]);
  answer("#b WHO 1 me");
  assert.deepEqual(irc(), [
    "353 me = #a :@me bob",
    "366 me #a :End of /NAMES list",
    "353 me = #b :me",
    "366 me #b :End of /NAMES list",
    "366 me #zz :End of /NAMES list",
  ]);
  assert.deepEqual([state.pending, state.held, state.released], [[], 0, []]);
});

Deno.test("WHO of a channel the client is not in, and a bad one, answered after a WHO asked before", () => {
  const { send, answer, irc } = setup();
  send("WHO #a", "WHO #zz", "NAMES #x.y");
  assert.deepEqual(irc(), []);
  answer("#a WHO 1 bob");
  assert.deepEqual(irc(), [
    "352 me #a bob tlschat tlschat bob H :0 bob",
    "315 me #a :End of /WHO list",
    "315 me #zz :End of /WHO list",
    "366 me #x.y :End of /NAMES list",
  ]);
});

Deno.test("LIST's 321, MODE of the default room, a refused TOPIC and errors wait for the requests before them; nothing pending: at once", () => {
  const { send, answer, irc } = setup();
  send("TOPIC #a", "LIST", "MODE #lobby", "TOPIC #b :", "KICK #a");
  assert.deepEqual(irc(), []);
  answer("#a INFO No topic is set");
  assert.deepEqual(irc(), [
    "331 me #a :No topic is set",
    "321 me Channel :Users  Name",
  ]);
  answer("ROOM #a 2 - Hi", "INFO 1 room");
  assert.deepEqual(irc().slice(2), [
    "322 me #a 2 :Hi",
    "323 me :End of /LIST",
    "324 me #lobby :+",
    "NOTICE me :#b: a topic cannot be cleared here",
    "461 me KICK :Not enough parameters",
  ]);
  send("NAMES #zz");
  assert.deepEqual(irc().at(-1), "366 me #zz :End of /NAMES list");
});

Deno.test("A request the session refuses (not in the room) sends what waited behind it", () => {
  const { send, answer, irc } = setup();
  send("MODE #a b", "NAMES #zz");
  answer("ERR not-in-room You are not in #a");
  assert.deepEqual(irc(), [
    "368 me #a :End of channel ban list",
    "366 me #zz :End of /NAMES list",
  ]);
});

Deno.test("TOPIC of a channel the client is not in, refused by the session, is 442 (not 331 'No topic is set': the room may have one), then what waited behind it", () => {
  const { state, send, answer, irc } = setup();
  send("TOPIC #zz", "NAMES #yy");
  answer("ERR not-in-room You are not in #zz");
  assert.deepEqual(irc(), [
    "442 me #zz :You are not in #zz",
    "366 me #yy :End of /NAMES list",
  ]);
  assert.deepEqual([state.pending, state.held], [[], 0]);
});

Deno.test("WHOIS takes its place in line: after NAMES asked before it, before a NAMES asked after it", async () => {
  const { state, send, answer, irc } = setup();
  send("NAMES #a", "WHOIS bob", "NAMES #zz");
  await settled();
  assert.deepEqual(irc(), []);
  answer("#a WHO 1 me");
  assert.deepEqual(irc(), [
    "353 me = #a :me",
    "366 me #a :End of /NAMES list",
    "311 me bob bob tlschat * :bob",
    "318 me bob :End of /WHOIS list",
    "366 me #zz :End of /NAMES list",
  ]);
  assert.deepEqual(state.pending, []);
  // Nothing pending: the directory's answer still comes before what follows.
  send("WHOIS nobody", "WHO j^doe", "NAMES #zz");
  assert.deepEqual(irc().length, 5);
  await settled();
  assert.deepEqual(irc().slice(5), [
    "401 me nobody :No such nick",
    "318 me nobody :End of /WHOIS list",
    "352 me * J^Doe tlschat tlschat J^Doe H :0 J^Doe",
    "315 me j^doe :End of /WHO list",
    "366 me #zz :End of /NAMES list",
  ]);
  assert.deepEqual([state.pending, state.held], [[], 0]);
});

Deno.test(`At most ${HELD_MOST} answers are held behind a request: more go at once`, () => {
  const { state, send, answer, irc } = setup();
  send("NAMES #a");
  for (let i = 0; i < HELD_MOST + 3; i++) send(`NAMES #z${i}`);
  assert.equal(state.held, HELD_MOST);
  assert.deepEqual(irc(), [
    `366 me #z${HELD_MOST} :End of /NAMES list`,
    `366 me #z${HELD_MOST + 1} :End of /NAMES list`,
    `366 me #z${HELD_MOST + 2} :End of /NAMES list`,
  ]);
  answer("#a WHO 1 me");
  assert.equal(irc().length, HELD_MOST + 5);
  assert.deepEqual(irc().slice(3, 6), [
    "353 me = #a :me",
    "366 me #a :End of /NAMES list",
    "366 me #z0 :End of /NAMES list",
  ]);
  assert.equal(state.held, 0);
});

Deno.test("A request the session answered nothing to is ended (empty) when a later one is answered, what waited behind it sent first: nothing stays held", async () => {
  const { state, send, answer, irc } = setup();
  send("MODE #a b", "NAMES #zz", "NAMES #b", "WHOIS bob", "NAMES #yy");
  await settled();
  assert.deepEqual(irc(), []);
  answer("#b WHO 1 me");
  assert.deepEqual(irc(), [
    "368 me #a :End of channel ban list",
    "366 me #zz :End of /NAMES list",
    "353 me = #b :me",
    "366 me #b :End of /NAMES list",
    "311 me bob bob tlschat * :bob",
    "318 me bob :End of /WHOIS list",
    "366 me #yy :End of /NAMES list",
  ]);
  assert.deepEqual([state.pending, state.held, state.released], [[], 0, []]);
});

Deno.test("A WHOIS the directory answers late holds the answer of a WHOIS asked after it, even once a request between them was answered", async () => {
  const late = Promise.withResolvers<string | null>();
  const state = ircState({
    holder: (alias) =>
      alias === "slow" ? late.promise : Promise.resolve(
        alias === "bob" ? "bob" : null,
      ),
  });
  state.nick = "me";
  state.registered = true;
  for (const room of ["#lobby", "#a"]) state.joined.add(room);
  const sink = recorder();
  for (const line of ["WHOIS slow", "NAMES #a", "WHOIS bob"]) {
    translateIn(state, parseIrcLine(line)!, inOrder(state, sink));
  }
  await settled();
  translateOut(state, "#a WHO 1 me", sink);
  const irc = () => sink.irc_.map((l) => l.replace(/^:tlschat /, ""));
  assert.ok(!irc().some((l) => l.includes(" bob ")), irc().join("\n"));
  late.resolve(null);
  await settled();
  const lines = irc();
  const slowEnd = lines.indexOf("318 me slow :End of /WHOIS list");
  const bobFirst = lines.findIndex((l) => l.includes(" bob "));
  assert.ok(slowEnd >= 0 && bobFirst > slowEnd, lines.join("\n"));
  assert.deepEqual([state.pending, state.held, state.released], [[], 0, []]);
});
