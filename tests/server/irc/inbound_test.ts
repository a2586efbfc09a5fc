/** Tests of a registered IRC client's commands as native lines, without sockets. */

import assert from "node:assert/strict";
import { left } from "../../../lib/server/irc/entering.ts";
import { translateIn } from "../../../lib/server/irc/inbound.ts";
import { inOrder } from "../../../lib/server/irc/in_order.ts";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import { ircState, recorder } from "./_sink.ts";

/** A registered client `me` in #lobby, and what its lines become. */
function setup() {
  const state = ircState();
  state.nick = "me";
  state.registered = true;
  state.joined.add("#lobby");
  const sink = recorder();
  const send = (...lines: string[]) => {
    for (const line of lines) {
      translateIn(state, parseIrcLine(line)!, inOrder(state, sink));
    }
  };
  const irc = () => sink.irc_.map((l) => l.replace(/^:tlschat /, ""));
  /** The session's lines, as if it answered. */
  const answer = (...lines: string[]) => {
    for (const line of lines) translateOut(state, line, sink);
  };
  return { state, sink, send, irc, answer };
}

Deno.test("translateIn() strips formatting codes from topics and kick, part and quit reasons as from messages", () => {
  const { state, sink, send } = setup();
  state.joined.add("#t");
  send(
    "TOPIC #t :\x02Welcome\x02 to \x0304,12red\x03 land",
    "KICK #t bob :\x1fgo\x1f away",
    "PART #t :\x0313bye\x0f now",
    "QUIT :\x1dlater\x1d",
  );
  assert.deepEqual(sink.native_, [
    "#t /topic Welcome to red land",
    "#t /kick bob go away",
    "/part #t bye now",
    "/quit later",
  ]);
});

Deno.test("translateIn() cuts a topic an IRC client sets to TOPICLEN (392 bytes here), what every IRC client gets whole", () => {
  const { sink, send } = setup();
  send(`TOPIC #lobby :${"é".repeat(240)}`);
  assert.deepEqual(sink.native_, [`#lobby /topic ${"é".repeat(196)}`]);
});

Deno.test("translateIn() cuts a kick reason an IRC client gives to KICKLEN (359 bytes), what every IRC client gets whole", () => {
  const { sink, send } = setup();
  send(`KICK #lobby bob :${"é".repeat(200)}`);
  assert.deepEqual(sink.native_, [`#lobby /kick bob ${"é".repeat(179)}`]);
});

Deno.test("translateIn() fits a topic or kick reason as the session will store it: a control character (1 byte) counts as its U+FFFD (3)", () => {
  const { sink, send } = setup();
  send(
    `TOPIC #lobby :${"\x07".repeat(392)}`,
    `KICK #lobby bob :${"\x07".repeat(359)}`,
  );
  // Before, 392 BELs went as they were, the session made them 1,176
  // bytes, and every IRC client got that topic cut at the line.
  assert.deepEqual(sink.native_, [
    `#lobby /topic ${"\uFFFD".repeat(130)}`,
    `#lobby /kick bob ${"\uFFFD".repeat(119)}`,
  ]);
});

Deno.test("translateIn() sends PRIVMSG and NOTICE to channels and nicks (a NOTICE as /notice), actions as /me, formatting stripped", () => {
  const { sink, send, irc } = setup();
  send(
    "PRIVMSG #Lobby :hi \x02all\x0f",
    "NOTICE #lobby :/not a command",
    "PRIVMSG #lobby :\x01ACTION waves\x01",
    "PRIVMSG #lobby :\x01VERSION\x01",
    "PRIVMSG j^doe,`2bob :psst",
    "PRIVMSG bob :\x01ACTION nods\x01",
    "PRIVMSG #lobby :\x02\x02 ",
    "PRIVMSG [x] :hi",
    "PRIVMSG #a.b :hi",
  );
  assert.deepEqual(sink.native_, [
    "#lobby hi all",
    "#lobby /notice /not a command",
    "#lobby /me waves",
    "/msg j.doe psst",
    "/msg 2bob psst",
    "/msg bob * me nods",
  ]);
  assert.deepEqual(irc(), [
    "412 me :No text to send",
    "401 me [x] :No such nick",
    "403 me #a.b :No such channel",
  ]);
});

Deno.test("translateIn() maps JOIN, PART, TOPIC, KICK, INVITE, NICK, QUIT, PONG", () => {
  const { sink, send } = setup();
  send(
    "JOIN #a,#B key1",
    "PART #a :bye all",
    "TOPIC #lobby",
    "TOPIC #lobby :new topic",
    "KICK #a j^doe :spam",
    "INVITE bob #a",
    "NICK new^nick",
    "PONG :tok",
    "QUIT :gone",
  );
  assert.deepEqual(sink.native_, [
    "/join #a key1",
    "/join #b",
    "/part #a bye all",
    "#lobby /topic",
    "#lobby /topic new topic",
    "#a /kick j.doe spam",
    "#a /invite bob",
    "/nick new.nick",
    "/pong tok",
    "/quit gone",
  ]);
});

Deno.test("translateIn() refuses the server's own name as a nick (432): it would pass for the server", () => {
  const { sink, send, irc } = setup();
  send("NICK tlschat", "NICK j^doe");
  assert.deepEqual(irc(), ["432 me tlschat :Erroneous nickname"]);
  assert.deepEqual(sink.native_, ["/nick j.doe"]);
});

Deno.test("translateIn() maps MODE: +o -o +b -b +k -k +i -i as operators' commands, lists asked for", () => {
  const { state, sink, send, irc, answer } = setup();
  send(
    "MODE #a +ob-o bob carol!*@* dave",
    "MODE #a +k-i s3cret",
    "MODE #a -k *",
    "MODE #a +z",
    "MODE #a b",
    "MODE #a",
    "MODE #lobby",
    "MODE #lobby b",
    "MODE me +i",
    "MODE bob",
  );
  assert.deepEqual(sink.native_, [
    "#a /op bob",
    "#a /roomban carol",
    "#a /deop dave",
    "#a /key s3cret",
    "#a /inviteonly off",
    "#a /key -",
    "#a /roombans",
    "/rooms #a",
  ]);
  assert.deepEqual(
    state.pending.map((p) => `${p.kind} ${"room" in p ? p.room : ""}`),
    ["bans #a", "mode #a"],
  );
  // The answers the door gives itself come after those asked before them.
  assert.deepEqual(irc(), ["472 me z :is an unknown mode char to me"]);
  answer("INFO 0 bans in #a", "ROOM #a 2 mk -", "INFO 1 room");
  assert.deepEqual(irc(), [
    "472 me z :is an unknown mode char to me",
    "368 me #a :End of channel ban list",
    "324 me #a :+k",
    "324 me #lobby :+",
    "368 me #lobby :End of channel ban list",
    "221 me :+",
    "502 me :Cannot change mode for other users",
  ]);
  assert.deepEqual(state.pending, []);
});

Deno.test("translateIn() keeps at most 32 MODE +k keys, the newest, and forgets a channel's on leaving it", () => {
  const { state, sink, send } = setup();
  // A key for each of many channels: each refused by the session
  // (not-in-room), so never seen set; they were all kept, without bound.
  for (let i = 0; i < 100; i++) send(`MODE #x${i} +k ${"k".repeat(400)}`);
  send("MODE #a +k s3cret");
  assert.equal(sink.native_.length, 101);
  assert.equal(state.keys.size, 32);
  assert.equal(state.keys.get("#a"), "s3cret");
  assert.equal(state.keys.has("#x68"), false);
  assert.equal(state.keys.has("#x69"), true);
  left(state, "#a");
  assert.equal(state.keys.has("#a"), false);
});

Deno.test("translateIn() asks for NAMES and WHO only of channels the client is in; 412, 461, 421 (AWAY too: nobody would be told), 462, TAGMSG dropped", () => {
  const { state, sink, send, irc, answer } = setup();
  send("NAMES #lobby", "WHO #lobby", "NAMES #other", "WHO #b", "LIST");
  assert.deepEqual(sink.native_, ["#lobby /who", "#lobby /who", "/rooms"]);
  assert.deepEqual(state.pending.map((p) => p.kind), ["names", "who", "list"]);
  send(
    "PRIVMSG #lobby",
    "KICK #a",
    "AWAY :lunch",
    "TAGMSG #lobby",
    "CHATHISTORY LATEST #lobby * 10",
    "USER a b c d",
  );
  assert.deepEqual(irc(), []); // held behind the pending requests
  answer("#lobby WHO 1 me", "#lobby WHO 1 me", "INFO 0 rooms");
  assert.deepEqual(irc(), [
    "353 me = #lobby :me",
    "366 me #lobby :End of /NAMES list",
    "352 me #lobby me tlschat tlschat me H :0 me",
    "315 me #lobby :End of /WHO list",
    "366 me #other :End of /NAMES list",
    "315 me #b :End of /WHO list",
    "321 me Channel :Users  Name",
    "323 me :End of /LIST",
    "412 me :No text to send",
    "461 me KICK :Not enough parameters",
    "421 me AWAY :Unknown command",
    "421 me CHATHISTORY :Unknown command",
    "462 me :You may not reregister",
  ]);
});

Deno.test("translateIn() answers WHOIS from the directory: 311 with the holder's spelling, 401 for a nick nobody holds, 311 when it cannot tell", async () => {
  const { sink, send, irc } = setup();
  const whois = async (line: string) => {
    send(line);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const said = irc();
    sink.clear();
    return said;
  };
  assert.deepEqual(await whois("WHOIS j^doe"), [
    "311 me J^Doe J^Doe tlschat * :J^Doe",
    "318 me j^doe :End of /WHOIS list",
  ]);
  assert.deepEqual(await whois("WHOIS nobody"), [
    "401 me nobody :No such nick",
    "318 me nobody :End of /WHOIS list",
  ]);
  assert.deepEqual(await whois("WHOIS [bot]"), [
    "401 me [bot] :No such nick",
    "318 me [bot] :End of /WHOIS list",
  ]);
  assert.deepEqual(await whois("WHOIS tlschat bob"), [
    "311 me bob bob tlschat * :bob",
    "318 me bob :End of /WHOIS list",
  ]);
  const broken = ircState({ holder: () => Promise.reject(new Error("down")) });
  broken.nick = "me";
  broken.registered = true;
  const told = recorder();
  translateIn(
    broken,
    { command: "WHOIS", params: ["amy"] },
    inOrder(broken, told),
  );
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(told.irc_, [
    ":tlschat 311 me amy amy tlschat * :amy",
    ":tlschat 318 me amy :End of /WHOIS list",
  ]);
});

Deno.test("translateIn() ignores NICK to the client's own nick (the session would announce that rename to every member); another case of it renames", () => {
  const { sink, send } = setup();
  send("NICK me", "NICK me", "NICK Me");
  assert.deepEqual(sink.native_, ["/nick Me"]);
});

Deno.test("translateIn() never answers a NOTICE with an error (no target, no text, a bad channel or nick); PRIVMSG gets 411, 412, 403, 401 as ngIRCd sends", () => {
  const { sink, send, irc } = setup();
  send(
    "NOTICE",
    "NOTICE #lobby",
    "NOTICE #lobby :\x02\x02",
    "NOTICE #a.b,[x],bob :hi",
  );
  assert.deepEqual(irc(), []);
  assert.deepEqual(sink.native_, ["/privnotice bob hi"]);
  send("PRIVMSG", "PRIVMSG #lobby", "PRIVMSG #a.b,[x] :hi");
  assert.deepEqual(irc(), [
    "411 me :No recipient given (PRIVMSG)",
    "412 me :No text to send",
    "403 me #a.b :No such channel",
    "401 me [x] :No such nick",
  ]);
});

Deno.test("translateIn() takes KICK of several nicks (or as many channels), NAMES of several channels, MODE -b as the ban list, and refuses to clear a topic", () => {
  const { state, sink, send, irc, answer } = setup();
  state.joined.add("#t");
  send(
    "KICK #t bob,`2x,[y] :out",
    "KICK #t,#lobby amy,bob",
    "KICK #t,#lobby amy",
    "NAMES #lobby,#t,#other",
    "MODE #t -b",
    "TOPIC #t :",
  );
  assert.deepEqual(sink.native_, [
    "#t /kick bob out",
    "#t /kick 2x out",
    "#t /kick amy",
    "#lobby /kick bob",
    "#lobby /who",
    "#t /who",
    "#t /roombans",
  ]);
  assert.deepEqual(
    state.pending.map((p) => `${p.kind} ${"room" in p ? p.room : ""}`),
    [
      "names #lobby",
      "names #t",
      "bans #t",
    ],
  );
  answer("#lobby WHO 1 me", "#t WHO 1 me", "INFO 0 bans in #t");
  assert.deepEqual(irc(), [
    "401 me [y] :No such nick",
    "461 me KICK :Not enough parameters",
    "353 me = #lobby :me",
    "366 me #lobby :End of /NAMES list",
    "353 me = #t :me",
    "366 me #t :End of /NAMES list",
    "366 me #other :End of /NAMES list",
    "368 me #t :End of channel ban list",
    "NOTICE me :#t: a topic cannot be cleared here",
  ]);
});

Deno.test("translateIn() answers WHO of a nick from the directory: 352 for its holder (ngIRCd's form), then 315; only 315 for nobody or when it cannot tell", async () => {
  const { sink, send, irc } = setup();
  const who = async (line: string) => {
    send(line);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const said = irc();
    sink.clear();
    return said;
  };
  assert.deepEqual(await who("WHO j^doe"), [
    "352 me * J^Doe tlschat tlschat J^Doe H :0 J^Doe",
    "315 me j^doe :End of /WHO list",
  ]);
  assert.deepEqual(await who("WHO nobody"), [
    "315 me nobody :End of /WHO list",
  ]);
  assert.deepEqual(await who("WHO *"), ["315 me * :End of /WHO list"]);
  assert.deepEqual(sink.native_, []);
  const broken = ircState({ holder: () => Promise.reject(new Error("down")) });
  broken.nick = "me";
  broken.registered = true;
  const told = recorder();
  translateIn(
    broken,
    { command: "WHO", params: ["amy"] },
    inOrder(broken, told),
  );
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(told.irc_, [":tlschat 315 me amy :End of /WHO list"]);
});

Deno.test("translateIn() refuses a MODE +k key the room could not keep as given (525): '-' would remove the key, a space would cut it", () => {
  const { state, sink, send, irc } = setup();
  send(
    "MODE #a +k -",
    "MODE #a +k :two words",
    "MODE #a +k :",
    "MODE #a +k ok",
  );
  assert.deepEqual(irc(), [
    "525 me #a :Key is not well-formed",
    "525 me #a :Key is not well-formed",
    "525 me #a :Key is not well-formed",
  ]);
  assert.deepEqual(sink.native_, ["#a /key ok"]);
  assert.equal(state.keys.get("#a"), "ok");
});

Deno.test("translateIn() answers WHOIS without a nick 431, as RFC 2812 and ngIRCd do", () => {
  const { send, irc } = setup();
  send("WHOIS", "WHOIS :");
  assert.deepEqual(irc(), [
    "431 me :No nickname given",
    "431 me :No nickname given",
  ]);
});

Deno.test("translateIn() takes the masks irssi's and weechat's /ban send (*!*nick@tlschat, *!nick@tlschat: every member is nick!nick@tlschat) as bans of that nick", () => {
  const { state, sink, send, irc } = setup();
  state.joined.add("#a");
  send(
    "MODE #a +b *!*bob@tlschat",
    "MODE #a +b *!j^doe@tlschat",
    "MODE #a -b *!~bob@*",
    "MODE #a +b bob!*@*",
    // No member is at another host, and *!*@tlschat names nobody.
    "MODE #a +b *!bob@example.org",
    "MODE #a +b *!*@tlschat",
    "MODE #a +b *!b*b@tlschat",
  );
  assert.deepEqual(sink.native_, [
    "#a /roomban bob",
    "#a /roomban j.doe",
    "#a /roomunban bob",
    "#a /roomban bob",
  ]);
  assert.deepEqual(irc(), [
    "401 me * :No such nick",
    "401 me * :No such nick",
    "401 me * :No such nick",
  ]);
});

Deno.test("translateIn() answers MODE +o, -o or a ban in a mode string without its nick 461, as +k without its key (a nick is needed)", () => {
  const { state, sink, send, irc } = setup();
  state.joined.add("#a");
  send("MODE #a +o", "MODE #a -o", "MODE #a +ob bob");
  assert.deepEqual(sink.native_, ["#a /op bob"]);
  assert.deepEqual(irc(), [
    "461 me MODE :Not enough parameters",
    "461 me MODE :Not enough parameters",
    "461 me MODE :Not enough parameters",
  ]);
});

Deno.test("translateIn() answers MODE of a channel that is no room 403 (the session's /rooms #zz found none), not 324 +", () => {
  const { send, irc, answer } = setup();
  send("MODE #zz", "MODE #a");
  answer("INFO 0 rooms", "ROOM #a 1 - ", "INFO 1 room");
  assert.deepEqual(irc(), [
    "403 me #zz :No such channel",
    "324 me #a :+",
  ]);
});

Deno.test("translateIn() answers MODE of its own nick in another case (CASEMAPPING=ascii) 221, not 502 as if it were another's", () => {
  const { send, irc } = setup();
  send("MODE ME", "MODE Me +i", "MODE you");
  assert.deepEqual(irc(), [
    "221 me :+",
    "221 me :+",
    "502 me :Cannot change mode for other users",
  ]);
});
