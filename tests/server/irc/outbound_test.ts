/**
 * Tests of the session's lines as IRC lines, without sockets: messages,
 * echoes, history in a batch, room events once each, lists asked for, and
 * every ERR as its numeric.
 */

import assert from "node:assert/strict";
import { quietNotice } from "../../../lib/server/irc/entering.ts";
import { translateOut } from "../../../lib/server/irc/outbound.ts";
import { translateIn } from "../../../lib/server/irc/inbound.ts";
import { inOrder } from "../../../lib/server/irc/in_order.ts";
import { parseIrcLine } from "../../../lib/server/irc/parse.ts";
import { registrationCommand } from "../../../lib/server/irc/registration.ts";
import { cutNotice } from "../../../lib/server/irc/replay_end.ts";
import { REPLAY_CUT } from "../../../lib/server/room/replay.ts";
import type { IrcCap } from "../../../lib/server/irc/state.ts";
import { ircState, recorder } from "./_sink.ts";

const T = "2026-12-06T20:00:00.000Z";
const ID = "Qm9vb3Rz_-0123456";

/** A registered client `me` with `caps`, and what lines become for it. */
function setup(...caps: IrcCap[]) {
  const state = ircState();
  state.nick = "me";
  state.registered = true;
  for (const cap of caps) state.caps.add(cap);
  const sink = recorder();
  const out = (...lines: string[]) => {
    for (const line of lines) translateOut(state, line, sink);
    const sent = sink.irc_.splice(0);
    return sent.map((l) => l.replace(/^:tlschat /, ""));
  };
  return { state, sink, out };
}

Deno.test("translateOut() drops the echo of one's own line without echo-message, keeps it with its time and msgid with", () => {
  const plain = setup();
  assert.deepEqual(
    plain.out(
      `@id=${ID};seq=5;time=${T} #lobby MSG me mine`,
      `@seq=6;time=${T} #lobby ME bob waves`,
      "SENT bob psst",
      "PRIV bob back",
    ),
    [
      ":bob!bob@tlschat PRIVMSG #lobby :\x01ACTION waves\x01",
      ":bob!bob@tlschat PRIVMSG me :back",
    ],
  );
  const echo = setup("echo-message", "server-time", "message-tags");
  assert.deepEqual(
    echo.out(`@id=${ID};seq=5;time=${T} #lobby MSG me mine`, "SENT bob psst"),
    [
      `@time=${T};msgid=${ID} :me!me@tlschat PRIVMSG #lobby :mine`,
      ":me!me@tlschat PRIVMSG bob :psst",
    ],
  );
});

Deno.test("translateOut() replays history as PRIVMSG with @time inside a chathistory batch", () => {
  const { state, out } = setup("batch", "server-time");
  state.joined.add("#ops");
  assert.deepEqual(
    out(
      `#ops HIST 41 ${T} MSG alice did you see it?`,
      `#ops HIST 42 ${T} ME bob nods`,
      "#ops HISTEND 2 End of history: 2 messages",
    ),
    [
      "BATCH +h1 chathistory #ops",
      `@batch=h1;time=${T} :alice!alice@tlschat PRIVMSG #ops :did you see it?`,
      `@batch=h1;time=${T} :bob!bob@tlschat PRIVMSG #ops :\x01ACTION nods\x01`,
      "BATCH -h1",
    ],
  );
  const bare = setup();
  bare.state.joined.add("#ops");
  assert.deepEqual(
    bare.out(`#ops HIST 41 ${T} MSG alice hi`, "#ops HISTEND 1 x"),
    [
      ":alice!alice@tlschat PRIVMSG #ops :hi",
    ],
  );
});

Deno.test("translateOut() tells in a NOTICE to the channel, after its batch, that a replay or catch-up was cut", () => {
  const { state, out } = setup("batch");
  for (const room of ["#ops", "#lobby", "#dev"]) state.joined.add(room);
  assert.deepEqual(
    out(
      `#ops HIST 41 ${T} MSG alice newest`,
      `#ops HISTEND 1 End of history: 1 message ${REPLAY_CUT}`,
      `#lobby HISTEND 0 End of history: 0 messages ${REPLAY_CUT}`,
      "#dev HISTEND 0 End of history: 0 messages",
    ),
    [
      "BATCH +h1 chathistory #ops",
      "@batch=h1 :alice!alice@tlschat PRIVMSG #ops :newest",
      "BATCH -h1",
      `NOTICE #ops :${cutNotice("#ops", "1")}`,
      `NOTICE #lobby :${cutNotice("#lobby", "0")}`,
    ],
  );
  assert.match(cutNotice("#ops", "1"), /newest 1 message \(those that fit/);
  assert.match(cutNotice("#ops", "2"), /newest 2 messages.*\/history in/);
  assert.match(cutNotice("#ops", "0"), /not shown \(none of it fit at once/);
  // A catch-up (an account taking its member over): told when lines lack.
  const resumed = "Resumed: 1 line you missed; 5 more are not sent (...)";
  assert.deepEqual(
    out(
      `@seq=50;time=${T} #ops MSG bob caught up`,
      `#ops RESUMED 50 5 ${resumed}`,
      "#ops RESUMED 50 0 Resumed: 0 lines you missed",
      "#ops RESUMED - ? The server's log numbers lines anew",
    ),
    [
      ":bob!bob@tlschat PRIVMSG #ops :caught up",
      `NOTICE #ops :${resumed}`,
      "NOTICE #ops :The server's log numbers lines anew",
    ],
  );
});

Deno.test("translateOut() splits a line over 512 bytes between characters", () => {
  const { out } = setup();
  const text = "é".repeat(600);
  const lines = out(`@seq=1;time=${T} #lobby MSG bob ${text}`);
  assert.ok(lines.length > 1);
  let joined = "";
  for (const line of lines) {
    assert.ok(new TextEncoder().encode(line + "\r\n").length <= 512, line);
    joined += line.slice(line.indexOf(" :") + 2);
  }
  assert.equal(joined, text);
});

Deno.test("translateOut() sends JOIN, PART, one QUIT and one NICK per event, KICK, MODE, TOPIC", () => {
  const { state, sink, out } = setup();
  assert.deepEqual(out(`@seq=1;time=${T} #ops JOIN me 1`), [
    ":me!me@tlschat JOIN #ops",
  ]);
  assert.deepEqual(sink.native_, ["#ops /who"], "its names asked for");
  assert.deepEqual(state.pending, [{ kind: "names", room: "#ops" }]);
  assert.deepEqual(
    out(
      `@seq=2;time=${T} #ops JOIN j.doe 2`,
      `@seq=3;time=${T} #ops NICK j.doe jd 2`,
      `@seq=3;time=${T} #lobby NICK j.doe jd 5`,
      `@seq=4;time=${T} #ops LEAVE jd 1 quit bye`,
      `@seq=4;time=${T} #lobby LEAVE jd 4 quit bye`,
      `@seq=5;time=${T} #ops LEAVE bob 1 part`,
      `@seq=6;time=${T} #ops MOD kick carol alice spam`,
      `@seq=6;time=${T} #ops LEAVE carol 1 kicked spam`,
      `@seq=7;time=${T} #ops MOD op bob alice`,
      `@seq=8;time=${T} #ops MOD ban bob alice`,
      `@seq=9;time=${T} #ops MOD key - alice on`,
      `@seq=10;time=${T} #ops TOPIC alice release day`,
      "#ops TOPIC alice release day",
    ),
    [
      ":j^doe!j^doe@tlschat JOIN #ops",
      ":j^doe!j^doe@tlschat NICK jd",
      ":jd!jd@tlschat QUIT :quit: bye",
      ":bob!bob@tlschat PART #ops",
      ":alice!alice@tlschat KICK #ops carol :spam",
      ":alice!alice@tlschat MODE #ops +o bob",
      ":alice!alice@tlschat MODE #ops +b bob!*@*",
      ":alice!alice@tlschat MODE #ops +k *",
      ":alice!alice@tlschat TOPIC #ops :release day",
      "332 me #ops :release day",
      // Set by seq 10: its time, not 0.
      `333 me #ops alice :${Date.parse(T) / 1000}`,
    ],
  );
  out(`@seq=11;time=${T} #ops MOD kick me alice`);
  assert.deepEqual([...state.joined], [], "kicked out of #ops");
});

Deno.test("translateOut() says when a topic was set (333) only when it knows: its line's time or the log event it saw set it, never 0", () => {
  const { out } = setup();
  out(`@seq=5;time=${T} #ops JOIN me 1`);
  // Without a time: 332 alone (333 ... :0 read as "set on 1 Jan 1970").
  assert.deepEqual(out("#ops TOPIC alice release day"), [
    "332 me #ops :release day",
  ]);
  const at = `${Date.parse(T) / 1000}`;
  assert.deepEqual(out(`@time=${T} #ops TOPIC alice release day`), [
    "332 me #ops :release day",
    `333 me #ops alice :${at}`,
  ]);
  // Set by a log event it saw: asked later, 333 carries that event's time.
  const later = "2026-12-07T08:30:00.000Z";
  out(`@seq=6;time=${later} #ops TOPIC bob tea at five`);
  assert.deepEqual(out("#ops TOPIC bob tea at five"), [
    "332 me #ops :tea at five",
    `333 me #ops bob :${Date.parse(later) / 1000}`,
  ]);
  // Another topic than the one it saw set: no time known.
  assert.deepEqual(out("#ops TOPIC carol other"), ["332 me #ops :other"]);
  // Left and joined again: what it saw before is forgotten.
  out(`@seq=7;time=${later} #ops LEAVE me 1 part`);
  out(`@seq=8;time=${later} #ops JOIN me 1`);
  assert.deepEqual(out("#ops TOPIC bob tea at five"), [
    "332 me #ops :tea at five",
  ]);
});

Deno.test("translateOut() makes the client's own JOIN from what entering sends when the room announces none, once", () => {
  const { state, sink, out } = setup("batch");
  // A room over --announce-limit: no JOIN, then topic, history, CURRENT.
  assert.deepEqual(
    out(
      "#lobby TOPIC alice busy",
      `#lobby HIST 4 ${T} MSG bob hi`,
      "#lobby HISTEND 1 End of history: 1 message",
      "CURRENT #lobby",
    ),
    [
      ":me!me@tlschat JOIN #lobby",
      `NOTICE #lobby :${quietNotice("#lobby")}`,
      "332 me #lobby :busy",
      "BATCH +h1 chathistory #lobby",
      "@batch=h1 :bob!bob@tlschat PRIVMSG #lobby :hi",
      "BATCH -h1",
    ],
  );
  assert.deepEqual(sink.native_.splice(0), ["#lobby /who"], "names asked");
  // Only CURRENT (no topic, no history): the JOIN all the same.
  assert.deepEqual(out("CURRENT #big"), [
    ":me!me@tlschat JOIN #big",
    `NOTICE #big :${quietNotice("#big")}`,
  ]);
  // Its own JOIN came (the room announces joins): that one, not twice.
  assert.deepEqual(
    out(
      `@seq=5;time=${T} #ops JOIN me 1`,
      "#ops TOPIC alice t",
      "CURRENT #ops",
      `@seq=6;time=${T} #ops JOIN me 1`,
    ),
    [":me!me@tlschat JOIN #ops", "332 me #ops :t"],
  );
  assert.deepEqual(sink.native_.splice(0), ["#big /who", "#ops /who"]);
  // A switch to a room it is in, CURRENT - after a part: nothing.
  assert.deepEqual(out("CURRENT #ops", "CURRENT -"), []);
  // A room growing past the limit while it is in: told once.
  assert.deepEqual(
    out(
      "#ops PRESENCE 3 0 104",
      "#ops PRESENCE 1 0 105",
      "#gone PRESENCE 1 0 200",
    ),
    [`NOTICE #ops :${quietNotice("#ops")}`],
  );
  // Its own JOIN over the limit (a /join of a big room): the notice too.
  assert.deepEqual(out(`@seq=7;time=${T} #huge JOIN me 101`), [
    ":me!me@tlschat JOIN #huge",
    `NOTICE #huge :${quietNotice("#huge")}`,
  ]);
  // Parted and back: a JOIN again.
  out(`@seq=8;time=${T} #big LEAVE me 150 part`);
  assert.deepEqual(out("CURRENT #big"), [
    ":me!me@tlschat JOIN #big",
    `NOTICE #big :${quietNotice("#big")}`,
  ]);
  assert.deepEqual([...state.joined].sort(), [
    "#big",
    "#huge",
    "#lobby",
    "#ops",
  ]);
});

Deno.test("translateOut() answers what the door asked: names, who, list, modes, bans", () => {
  const { state, out } = setup();
  state.joined.add("#ops");
  state.pending.push(
    { kind: "who", room: "#ops" },
    { kind: "names", room: "#ops" },
    { kind: "list" },
    { kind: "mode", room: "#b" },
    { kind: "bans", room: "#ops" },
    { kind: "topic", room: "#b" },
    { kind: "topic", room: "#ops" },
  );
  assert.deepEqual(
    out(
      "#ops WHO 2 @alice j.doe",
      "#ops WHO 2 @alice j.doe",
      "ROOM #ops 2 mk Release",
      "ROOM #b 1 ki -",
      "INFO 2 rooms",
      "ROOM #ops 2 mk Release",
      "ROOM #b 1 ki -",
      "INFO 2 rooms",
      "BAN account carol - alice spam",
      "INFO 1 bans in #ops",
      "INFO No topic is set",
      "#ops TOPIC alice release day",
      "INFO a notice",
    ),
    [
      "352 me #ops alice tlschat tlschat alice H@ :0 alice",
      "352 me #ops j^doe tlschat tlschat j^doe H :0 j^doe",
      "315 me #ops :End of /WHO list",
      "353 me = #ops :@alice j^doe",
      "366 me #ops :End of /NAMES list",
      "322 me #ops 2 :Release",
      "322 me #b 1 :-",
      "323 me :End of /LIST",
      "324 me #b :+ki",
      "367 me #ops :carol!*@*",
      "368 me #ops :End of channel ban list",
      "331 me #b :No topic is set",
      "332 me #ops :release day",
      "NOTICE me :a notice",
    ],
  );
  assert.deepEqual(state.pending, []);
});

Deno.test("translateOut() sends a ban list entry (367) without the setter and set time it does not know, never a time of 0", () => {
  const { state, out } = setup();
  state.pending.push({ kind: "bans", room: "#ops" });
  const sent = out(
    "BAN account carol - alice spam",
    "BAN account dan 2026-12-08T00:00:00.000Z alice flood",
    "INFO 2 bans in #ops",
  );
  assert.deepEqual(sent, [
    "367 me #ops :carol!*@*",
    "367 me #ops :dan!*@*",
    "368 me #ops :End of channel ban list",
  ]);
  // RPL_BANLIST's who and set-ts come as a pair: neither without the other.
  for (const line of sent.slice(0, 2)) {
    assert.equal(line.split(" ").length, 4, line);
  }
});

Deno.test("translateOut() sends every ERR as its numeric, at the channel or nick its text names", () => {
  const { out } = setup();
  assert.deepEqual(
    out(
      "ERR room-key #ops needs its key: /join #ops KEY",
      "ERR room-invite-only #ops is invite-only",
      "ERR room-banned Banned from #ops",
      'ERR no-such-alias Nobody is called "j.doe"',
      "ERR muted You are muted in #ops",
      "ERR not-operator /kick is for operators of #ops only",
      "ERR too-many-rooms Cannot join #new: you are in 10 rooms",
      "ERR line-too-long Line dropped: longer than 4096 bytes",
      `@id=${ID} ERR unavailable Not sent: try again`,
      "PING abc",
    ),
    [
      "475 me #ops :#ops needs its key: /join #ops KEY",
      "473 me #ops :#ops is invite-only",
      "474 me #ops :Banned from #ops",
      '401 me j^doe :Nobody is called "j.doe"',
      "404 me #ops :You are muted in #ops",
      "482 me #ops :/kick is for operators of #ops only",
      "405 me #new :Cannot join #new: you are in 10 rooms",
      "417 me :Line dropped: longer than 4096 bytes",
      "NOTICE me :Not sent: try again",
      "PING abc",
    ],
  );
});

Deno.test("translateOut() ends a list the member may not see without the refusal: a sync's MODE #room b", () => {
  const { state, out } = setup();
  state.pending.push({ kind: "bans", room: "#ops" });
  assert.deepEqual(
    out("ERR not-operator /roombans is for operators of #ops only"),
    [
      "368 me #ops :End of channel ban list",
    ],
  );
  assert.deepEqual(
    out("ERR not-operator /kick is for operators of #ops only"),
    [
      "482 me #ops :/kick is for operators of #ops only",
    ],
  );
});

Deno.test("translateOut() matches each reply to the oldest request of its kind, so a sync's requests never wait on each other", () => {
  const { state, out } = setup();
  // irssi's sync of #ops: its names, MODE, MODE b (not an operator), WHO.
  state.pending.push(
    { kind: "names", room: "#ops" },
    { kind: "mode", room: "#ops" },
    { kind: "bans", room: "#ops" },
    { kind: "who", room: "#ops" },
  );
  assert.deepEqual(
    out(
      "#ops WHO 1 bob",
      "ROOM #ops 1 m -",
      "INFO 1 room",
      "ERR not-operator /roombans is for operators of #ops only",
      "INFO bob is invited to #ops",
      "#ops WHO 1 bob",
    ),
    [
      "353 me = #ops :bob",
      "366 me #ops :End of /NAMES list",
      "324 me #ops :+",
      "368 me #ops :End of channel ban list",
      "NOTICE me :bob is invited to #ops",
      "352 me #ops bob tlschat tlschat bob H :0 bob",
      "315 me #ops :End of /WHO list",
    ],
  );
  assert.deepEqual(state.pending, []);
});

Deno.test("translateOut() shows a room key only to the member who set it", () => {
  const { state, out } = setup();
  state.keys.set("#ops", "s3cret");
  assert.deepEqual(out(`@seq=3;time=${T} #ops MOD key - me on`), [
    ":me!me@tlschat MODE #ops +k s3cret",
  ]);
  assert.deepEqual(out(`@seq=4;time=${T} #ops MOD key - alice on`), [
    ":alice!alice@tlschat MODE #ops +k *",
  ]);
});

Deno.test("translateOut() says a mute once as a NOTICE: its setter is not repeated, its reason follows", () => {
  const { out } = setup();
  assert.deepEqual(
    out(
      `@seq=1;time=${T} #ops MOD mute j.doe alice by alice until lifted: spam`,
      `@seq=2;time=${T} #ops MOD unmute j.doe alice`,
      `@seq=3;time=${T} #ops MOD register - alice on`,
    ),
    [
      "NOTICE #ops :mute j^doe by alice until lifted: spam",
      "NOTICE #ops :unmute j^doe by alice",
      "NOTICE #ops :register by alice: on",
    ],
  );
});

Deno.test("translateOut() shows no refusal of a NOTICE's line (muted, not in the room, nobody so called), and again the next line's", () => {
  const { state, sink, out } = setup();
  // As the connection hands a client's line: registration's, else inbound's.
  const client = (line: string) => {
    const message = parseIrcLine(line)!;
    if (!registrationCommand(state, message, sink)) {
      translateIn(state, message, inOrder(state, sink));
    }
  };
  client("NOTICE #ops :hi");
  assert.deepEqual(sink.native_, ["#ops /notice hi"]);
  assert.deepEqual(out("ERR not-in-room You are not in #ops"), []);
  client("NOTICE bob :hi");
  assert.deepEqual(out('ERR no-such-alias Nobody is called "bob"'), []);
  client("PRIVMSG #ops :hi");
  assert.deepEqual(out("ERR not-in-room You are not in #ops"), [
    "442 me #ops :You are not in #ops",
  ]);
  client("NOTICE #lobby :hi");
  client("PING x");
  assert.deepEqual(out("ERR muted You are muted"), [
    "PONG tlschat :x",
    "404 me * :You are muted",
  ]);
});

Deno.test("translateOut() answers a registered client's rename to an account's nick with 433, not telling it to log in with SASL or PASS, which it no longer may", () => {
  const { out } = setup();
  assert.deepEqual(
    out('PASSWORD account "alice" is a registered alias: send /pass PASSWORD'),
    [
      "433 me alice :Nickname is a registered account: its holder takes it by logging in when connecting (SASL or PASS)",
    ],
  );
});

Deno.test("translateOut() sends a ban list entry (367) with its setter and set time when its BAN line carries that time (@time=), in whole seconds", () => {
  const { state, out } = setup();
  state.pending.push({ kind: "bans", room: "#ops" });
  const set = "2026-12-06T20:00:00.999Z";
  assert.deepEqual(
    out(
      `@time=${set} BAN account carol - j.doe spam`,
      "BAN account dan - alice flood", // kept by an earlier release: no time
      "@time=not-a-time BAN account eve - alice x",
      "INFO 3 bans in #ops",
    ),
    [
      `367 me #ops carol!*@* j^doe :${Math.floor(Date.parse(set) / 1000)}`,
      "367 me #ops :dan!*@*",
      "367 me #ops :eve!*@*",
      "368 me #ops :End of channel ban list",
    ],
  );
});

Deno.test("translateOut() answers the refusal of a KICK or +o of a member not in the room 441 (they are not on it), not 442 (you are not on it), and takes no request of that room for its answer", () => {
  const { state, sink, out } = setup();
  state.joined.add("#ops");
  translateIn(state, parseIrcLine("NAMES #ops")!, inOrder(state, sink));
  assert.deepEqual(out('ERR not-in-room "j.doe" is not in #ops'), [
    `441 me j^doe #ops :"j.doe" is not in #ops`,
  ]);
  assert.equal(state.pending.length, 1);
  assert.deepEqual(out("ERR not-in-room You are not in #ops"), [
    "366 me #ops :End of /NAMES list",
  ]);
});
