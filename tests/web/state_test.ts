/**
 * Tests of the page's state (web/state.js) without a browser: events in,
 * the next state out, with the lines it sends and what its log shows. The
 * reducer is pure, so a fake page is a loop over `reduce`; the clock and
 * the tab's visibility are fields of the events.
 */

import assert from "node:assert/strict";
import { MAX_LOG, MAX_PRESENCE } from "../../web/in_room.js";
import { FakePage } from "./_fake_page.ts";
import { sessionOf } from "../../web/session.js";
import { dateTimeText } from "../../web/local_times.js";

Deno.test("reduce() shows the join form on the greeting, and the room on WELCOME", () => {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  const greeted = page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  assert.equal(greeted.phase, "alias");
  assert.equal(greeted.roomName, "lobby");
  assert.equal(greeted.title, "lobby");
  assert.equal(greeted.canJoin, true);
  assert.equal(greeted.effects.focus, "alias");
  assert.deepEqual(greeted.status, { text: "Connected", warn: false });
  page.step({ type: "join", alias: "  ann ", password: "" });
  assert.deepEqual(page.sent, ["ann"]);
  const joined = page.line("WELCOME ann 2 Type /help for commands");
  assert.equal(joined.screen, "chat");
  assert.equal(joined.membersButton, true);
  assert.equal(joined.rooms.get("")!.online, "2");
  assert.equal(joined.effects.focus, "message");
  assert.deepEqual(joined.status, { text: "Connected as ann", warn: false });
  assert.deepEqual(page.sent, ["ann", "/who"]);
  assert.deepEqual(page.shown(), [
    "Welcome, ann! 2 online. Type /help for commands",
  ]);
});

Deno.test("reduce() keeps the member list from WHO, JOIN, LEAVE and NICK", () => {
  const page = FakePage.joined();
  const members = () => page.members();
  assert.deepEqual(members(), ["ann", "@Op"]);
  page.line("JOIN Bob 3");
  page.line("JOIN bob 3"); // the same member: listed once
  assert.equal(page.state.rooms.get("")!.online, "3");
  page.line("NICK ann anna 3");
  assert.equal(page.state.alias, "anna", "our own rename is followed");
  page.line("LEAVE op 2 quit bye");
  assert.deepEqual(members().sort(), ["Bob", "anna"]);
  assert.equal(page.state.rooms.get("")!.online, "2");
  assert.deepEqual(page.shown().slice(1), [
    "Bob joined",
    "bob joined",
    "ann is now known as anna",
    "op left: bye",
  ]);
});

Deno.test("reduce() shows what is said, in the page's words", () => {
  const page = FakePage.joined();
  // The end of a ban or mute in local time, as the log's dates are.
  const end = dateTimeText(new Date("2026-02-01T00:00:00Z"));
  for (
    const line of [
      "MSG bob hello there",
      "ME bob waves",
      "PRIV bob psst",
      "SENT bob psst back",
      "TOPIC bob Tea at five",
      "MOD kick eve bob spamming",
      "MOD mute eve bob by bob until 2026-02-01T00:00:00.000Z: noisy",
      "BAN address 10.0.0.0/8 2026-02-01T00:00:00Z bob noisy",
      "BAN account eve - bob",
      "LEAVE eve 2 flood",
      "LEAVE eve 2 gone-fishing",
      "PRESENCE 12 3 140",
      "INFO just so you know",
      "ERR usage Usage: /me ACTION",
      "NEWTYPE from a newer server",
      "CAP ids",
    ]
  ) page.line(line);
  assert.deepEqual(page.shown().slice(1), [
    "bob hello there",
    "* bob waves",
    "private frombob psst",
    "private tobob psst back",
    "Topic: Tea at five (set by bob)",
    "eve was kicked by bob: spamming",
    `eve was muted by bob until ${end}: noisy`,
    `Ban on address 10.0.0.0/8 by bob until ${end}: noisy`,
    "Ban on account eve by bob until lifted",
    "eve was disconnected for flooding",
    "eve left (gone-fishing)",
    "12 joined, 3 left (140 online)",
    "just so you know",
    "! Usage: /me ACTION",
    "NEWTYPE from a newer server",
    "CAP ids",
  ]);
  assert.equal(page.state.rooms.get("")!.topic, "Tea at five");
  const classes = page.log.slice(1, 5).map((entry) => entry.className);
  assert.deepEqual(classes, ["message", "action", "private", "private"]);
  assert.equal(page.log[1]!.parts[0]!.kind, "alias");
});

Deno.test("reduce() shows when a topic or a ban was set (its time tag, on a line without seq) in local time after its setter", () => {
  const utc = "2026-02-01T00:00:00.000Z";
  const set = dateTimeText(new Date(utc));
  const page = FakePage.joined();
  for (
    const line of [
      `@time=${utc} TOPIC bob Tea at five`,
      "TOPIC bob Set by an earlier release",
      `@time=${utc} BAN account eve - bob spam`,
      "@time=soon BAN account mallory - bob",
      `@seq=9;time=${utc} TOPIC bob Changed now`,
    ]
  ) page.line(line);
  assert.deepEqual(page.shown().slice(-5), [
    `Topic: Tea at five (set by bob on ${set})`,
    "Topic: Set by an earlier release (set by bob)",
    `Ban on account eve by bob on ${set} until lifted: spam`,
    "Ban on account mallory by bob until lifted",
    "Topic: Changed now (set by bob)",
  ]);
});

Deno.test("reduce() shows the end of a mute (ERR muted) and of a ban (BYE banned) in local time", () => {
  const end = dateTimeText(new Date("2026-02-01T00:00:00Z"));
  const page = FakePage.joined();
  // Only the sanction's own end: a reason is someone's words, as written.
  page.line(
    "ERR muted You are muted in #lobby by amy until 2026-02-01T00:00:00.000Z: until 2027-01-01T00:00:00Z",
  );
  page.line("BYE banned Banned by amy until 2026-02-01T00:00:00.000Z: spam");
  assert.deepEqual(page.shown().slice(-2), [
    `! You are muted in #lobby by amy until ${end}: until 2027-01-01T00:00:00Z`,
    `Disconnected: Banned by amy until ${end}: spam`,
  ]);
  // Banned at the door: said on the join form.
  const door = new FakePage();
  door.step({ type: "connect", retry: false });
  door.line("BYE banned Banned by amy until 2026-02-01T00:00:00.000Z: spam");
  assert.equal(door.state.joinError, `Banned by amy until ${end}: spam`);
});

Deno.test("reduce() shows a reason, an action or a line type named like an object key as it came", () => {
  const page = FakePage.joined();
  page.line("LEAVE eve 2 constructor");
  page.line("LEAVE eve 2 __proto__");
  page.line("MOD toString eve bob");
  page.line("constructor x");
  assert.deepEqual(page.shown().slice(1), [
    "eve left (constructor)",
    "eve left (__proto__)",
    "eve was toString by bob",
    "constructor x",
  ]);
});

Deno.test("reduce() counts lines that come while the tab is hidden, until it is seen", () => {
  const page = FakePage.joined();
  page.hidden = true;
  page.line("MSG bob one");
  page.line("JOIN cat 3"); // not counted: nothing was said
  page.line("PRIV bob two");
  assert.equal(page.state.unread, 2);
  assert.equal(page.state.title, "(2) lobby");
  page.step({ type: "seen" });
  assert.equal(page.state.unread, 0);
  assert.equal(page.state.title, "lobby");
});

Deno.test("reduce() answers PING, and asks who is here at most every 5 s", () => {
  const page = FakePage.joined();
  page.line("PING 77");
  page.line("PRESENCE 1 0 150"); // within 5 s of joining: no /who
  page.now += 5000;
  page.line("PRESENCE 1 0 151");
  page.now += 1000;
  page.line("PRESENCE 1 0 152");
  assert.deepEqual(page.sent, ["ann", "/who", "/pong 77", "/who"]);
  assert.equal(page.state.rooms.get("")!.online, "152");
});

Deno.test("reduce() asks for the room password again after a wrong one, the refusal still shown", () => {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line("HELLO tlschat/1 lobby rate=5,auth=room Send your alias");
  page.step({ type: "join", alias: "ann", password: "" });
  const asked = page.line("PASSWORD room Room password");
  assert.equal(asked.passwordShown, true);
  assert.equal(asked.effects.focus, "password");
  assert.equal(asked.effects.clearPassword, false, "nothing typed is lost");
  assert.equal(asked.joinError, "Room password");
  page.step({ type: "join", alias: "ann", password: "wrong" });
  assert.deepEqual(page.sent, ["ann", "/pass wrong"]);
  const refused = page.line("ERR password-wrong Wrong room password");
  assert.equal(refused.phase, "alias");
  assert.equal(refused.joinError, "Wrong room password");
  assert.equal(refused.effects.focus, "password", "the password box is shown");
  // The room password is asked again at once; the refusal stays on screen.
  const again = page.line("PASSWORD room Room password");
  assert.equal(again.joinError, "Wrong room password");
  assert.equal(again.phase, "password");
  // The two lines may come in two frames: what is typed between them stays.
  assert.equal(again.effects.clearPassword, false, "typed since the refusal");
  page.step({ type: "join", alias: "ann", password: "right" });
  assert.deepEqual(page.sent.slice(2), ["/pass right"]);
  page.line("WELCOME ann 1 hi");
  assert.equal(page.state.screen, "chat");
});

Deno.test("reduce() asks for a password in the page's words, not with the server's hint for clients typed by hand", () => {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line("HELLO tlschat/1 lobby rate=5,auth=room Send your alias");
  page.step({ type: "join", alias: "ann", password: "" });
  page.line("PASSWORD room This room has a password: send /pass PASSWORD");
  assert.equal(page.state.joinError, "This room has a password");
  const joined = FakePage.joined();
  joined.line(
    'PASSWORD account "bob" is a registered alias: send /pass PASSWORD',
  );
  assert.deepEqual(joined.shown().slice(-1), [
    '! "bob" is a registered alias: type /pass and the password',
  ]);
});

Deno.test("reduce() sends the alias and then the password typed with it after an account refused one", () => {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  page.step({ type: "join", alias: "bob", password: "" });
  page.line("PASSWORD account Password for bob");
  page.step({ type: "join", alias: "bob", password: "wrong" });
  // An account's refusal: the server waits for an alias again.
  page.line("ERR auth-failed Wrong alias or password");
  page.step({ type: "join", alias: "bob", password: "bob's password" });
  assert.equal(page.state.effects.clearPassword, true);
  page.line("PASSWORD account Password for bob");
  assert.deepEqual(page.sent, [
    "bob",
    "/pass wrong",
    "bob",
    "/pass bob's password",
  ]);
});

Deno.test("reduce() rejoins after the connection is lost, and history replaces the log", () => {
  const page = FakePage.joined();
  page.line("MSG bob before");
  const closed = page.step({ type: "closed", random: 0 });
  assert.equal(closed.phase, "closed");
  assert.equal(closed.canJoin, false);
  assert.equal(closed.effects.reconnectInMs, 750);
  assert.deepEqual(closed.status, { text: "Reconnecting in 1 s…", warn: true });
  const retry = page.step({ type: "connect", retry: true });
  assert.deepEqual(retry.status, { text: "Reconnecting…", warn: true });
  page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  assert.deepEqual(page.state.status, { text: "Rejoining…", warn: false });
  assert.equal(page.sent.at(-1), "ann", "the alias is sent again by itself");
  page.line("WELCOME ann 2 hi");
  page.line("HIST 1 2026-01-01T00:00:00Z MSG bob before");
  page.line("HIST 2 2026-01-01T00:01:00Z ME bob waves");
  page.line("HISTEND 2 End of history");
  assert.deepEqual(page.shown(), [
    "bob before",
    "* bob waves",
    "End of history",
  ]);
  assert.equal(page.log[0]!.dated, true);
  assert.equal(page.log[2]!.when, null);
  page.line("HIST 3 not-a-date MSG bob later");
  assert.equal(page.shown().length, 4, "only the first history clears");
  assert.equal(page.log[3]!.when, "not-a-date");
});

Deno.test("reduce() waits longer after each failed reconnect, up to 30 s", () => {
  const page = FakePage.joined();
  const waits = [];
  for (let i = 0; i < 7; i++) {
    waits.push(
      page.step({ type: "closed", random: 0.5 }).effects.reconnectInMs,
    );
    page.step({ type: "connect", retry: true });
  }
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  assert.equal(page.state.attempts, 0, "a greeting starts over");
});

Deno.test("reduce() does not reconnect after /quit, a kick or a ban", () => {
  for (const ending of ["quit", "kicked", "banned"]) {
    const page = FakePage.joined();
    if (ending === "quit") {
      const said = page.step({ type: "say", text: "/quit bye", now: page.now });
      assert.equal(said.effects.clearMessage, true);
    }
    page.line(`BYE ${ending} Goodbye`);
    const closed = page.step({ type: "closed", random: 0 });
    assert.equal(closed.effects.reconnectInMs, null, ending);
    assert.deepEqual(closed.status, { text: "Disconnected", warn: true });
    assert.equal(page.shown().at(-1), "Disconnected: Goodbye");
  }
});

Deno.test("reduce() comes back after a login the limits held back on a reconnect (perhaps others' guesses from its address), not after one typed on the join form", () => {
  const held =
    "BYE too-many-attempts Too many failed logins: try again in 60 s";
  const typed = new FakePage();
  typed.step({ type: "connect", retry: false });
  typed.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  typed.step({ type: "join", alias: "bob", password: "" });
  typed.line("PASSWORD account Password for bob");
  typed.step({ type: "join", alias: "bob", password: "bob's password" });
  typed.line(held);
  assert.equal(
    typed.state.joinError,
    "Too many failed logins: try again in 60 s",
  );
  const ended = typed.step({ type: "closed", random: 0 });
  assert.equal(ended.effects.reconnectInMs, null, "typed: stays");
  // Logged in, dropped, held back coming back with its password.
  const page = FakePage.joined();
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  assert.equal(page.sent.at(-1), "ann");
  page.line(held);
  const again = page.step({ type: "closed", random: 0 });
  // After the longest wait (30 s, at random 0.75 times), not 1 s.
  assert.equal(again.effects.reconnectInMs, 22_500, "tries again later");
  assert.equal(again.stay, false);
});

Deno.test("reduce() says Disconnected once when the server's text says it", () => {
  const page = FakePage.joined();
  page.line(
    'BYE replaced Disconnected: "ann" logged in from another connection',
  );
  assert.equal(
    page.shown().at(-1),
    'Disconnected: "ann" logged in from another connection',
  );
});

Deno.test("reduce() sends what is typed, but not an empty line", () => {
  const page = FakePage.joined();
  const blank = page.step({ type: "say", text: "   ", now: page.now });
  assert.equal(blank.effects.clearMessage, false);
  page.step({ type: "say", text: "hello all", now: page.now });
  assert.deepEqual(page.sent.slice(2), ["hello all"]);
  assert.equal(page.state.stay, false);
});

Deno.test("reduce() keeps what is typed while not connected in the box, not sent: a closed socket drops it, a new one would take it for the alias", () => {
  const page = FakePage.joined();
  page.step({ type: "closed", random: 0 });
  const sent = page.sent.length;
  const closed = page.step({ type: "say", text: "hello", now: page.now });
  assert.equal(closed.effects.clearMessage, false, "kept in the box");
  page.step({ type: "connect", retry: true });
  // Before the greeting, the server reads the first line as an alias.
  const connecting = page.step({ type: "say", text: "bob", now: page.now });
  assert.equal(connecting.effects.clearMessage, false);
  assert.deepEqual(page.sent.slice(sent), [], "nothing sent");
  assert.equal(
    page.shown().at(-1),
    "! Not sent: not connected; your line is kept in the box, send it again once connected",
  );
  page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  page.line("WELCOME ann 2 hi");
  page.step({ type: "say", text: "bob", now: page.now });
  assert.deepEqual(page.sent.slice(sent), ["ann", "/who", "bob"]);
});

Deno.test("reduce() shows refusals and notices before joining on the join form", () => {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
  page.step({ type: "join", alias: "eve", password: "" });
  const taken = page.line('ERR alias-taken Cannot join: alias "eve" is taken');
  assert.equal(taken.joinError, 'Cannot join: alias "eve" is taken');
  assert.equal(taken.effects.focus, "alias");
  page.line("INFO The room is busy");
  assert.equal(page.state.joinError, "The room is busy");
  page.line("MSG bob not for us yet");
  page.line("BYE server-full The room is full");
  assert.equal(page.state.joinError, "The room is full");
  assert.deepEqual(page.log, []);
  page.step({ type: "join", alias: "", password: "" });
  assert.equal(page.state.joinError, "", "Join clears the error");
  assert.deepEqual(page.sent, ["eve"]);
});

Deno.test("reduce() asks for the capabilities it uses that the server offers, before the alias", () => {
  for (
    const [params, asked] of [
      ["rate=5,caps=ids+rooms", ["/cap ids rooms"]],
      ["rate=5,caps=ids+later", ["/cap ids"]],
      ["rate=5,caps=later", []],
      ["rate=5", []],
    ] as const
  ) {
    const page = new FakePage();
    page.step({ type: "connect", retry: false });
    page.line(`HELLO tlschat/1 chat ${params} Send your alias`);
    page.step({ type: "join", alias: "ann", password: "" });
    assert.deepEqual(page.sent, [...asked, "ann"], params);
  }
});

Deno.test("reduce() puts a rooms client in the room the server says, with its topic, history and members", () => {
  const page = FakePage.inRooms();
  assert.equal(page.state.roomsOn, true);
  assert.deepEqual(page.roomList(), ["#lobby"]);
  assert.equal(page.state.current, "#lobby");
  assert.equal(page.state.heading, "#lobby");
  assert.equal(page.state.title, "#lobby");
  assert.deepEqual(page.shown(), [
    "Welcome, ann! 2 online. Type /help for commands",
    "ann joined",
    "Topic: Welcome all (set by op)",
    "bob earlier",
    "End of history",
  ]);
  assert.deepEqual(page.shown(""), [], "the welcome went with the room");
  assert.equal(page.state.rooms.get("#lobby")!.topic, "Welcome all");
  assert.deepEqual(page.members(), ["ann", "@op"]);
  assert.deepEqual(page.sent, ["/cap ids rooms", "ann", "#lobby /who"]);
});

Deno.test("reduce() keeps each room's messages apart, counts unread in the rooms not shown, and switches without asking the server", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: " Ops", key: "", focus: true });
  assert.equal(page.state.effects.clearRoom, true);
  assert.equal(page.state.effects.focus, "message");
  assert.equal(page.sent.at(-1), "/join #ops");
  page.enter("#ops");
  assert.equal(page.state.current, "#ops");
  assert.equal(page.state.effects.fragment, "#ops");
  assert.deepEqual(page.roomList(), ["#lobby", "#ops"]);
  page.line("#lobby MSG bob in the lobby");
  page.line("@id=abcdefghijklmnopqrstuv #lobby MSG ann mine, not unread");
  page.line("#lobby ME bob waves");
  page.line("#ops MSG cat in ops");
  assert.deepEqual(page.roomList(), ["#lobby 2", "#ops"]);
  assert.deepEqual(page.shown(), ["ann joined", "cat in ops"]);
  const sent = page.sent.length;
  const back = page.step({
    type: "room",
    room: "#lobby",
    key: "",
    focus: false,
  });
  assert.equal(page.sent.length, sent, "a room the page is in: no line sent");
  assert.equal(back.effects.fragment, "#lobby");
  assert.equal(back.effects.focus, null);
  assert.deepEqual(page.roomList(), ["#lobby", "#ops"]);
  assert.deepEqual(page.shown().slice(-3), [
    "bob in the lobby",
    "ann mine, not unread",
    "* bob waves",
  ]);
  assert.equal(page.state.heading, "#lobby");
});

Deno.test("reduce() sends what is typed to the room shown, and keeps each room's topic and members", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "", focus: true });
  page.enter("#ops");
  page.line("#ops WHO 2 ann @cat");
  page.line("#ops TOPIC cat Deploys at noon");
  page.step({ type: "say", text: "hello ops", now: page.now });
  page.step({ type: "say", text: "#1 priority", now: page.now });
  page.step({ type: "say", text: "/topic Deploys at one", now: page.now });
  assert.deepEqual(page.sent.slice(-4), [
    "#ops /who",
    "#ops hello ops",
    "#ops #1 priority",
    "#ops /topic Deploys at one",
  ]);
  assert.deepEqual(page.members(), ["ann", "@cat"]);
  assert.deepEqual(page.members("#lobby"), ["ann", "@op"]);
  assert.equal(page.state.rooms.get("#ops")!.topic, "Deploys at noon");
  assert.equal(page.state.rooms.get("#lobby")!.topic, "Welcome all");
  page.line("#lobby JOIN dan 3");
  page.line("#ops LEAVE cat 1 part");
  page.line("#lobby NICK dan dana 3");
  assert.deepEqual(page.members(), ["ann"]);
  assert.deepEqual(page.members("#lobby"), ["ann", "@op", "dana"]);
  assert.equal(page.state.rooms.get("#lobby")!.online, "3");
  assert.equal(page.state.rooms.get("#ops")!.online, "1");
  page.now += 5000;
  const before = page.sent.length;
  page.line("#lobby PRESENCE 4 0 7");
  assert.equal(page.state.rooms.get("#lobby")!.online, "7");
  assert.equal(page.sent.length, before, "not shown: asked when it is");
  page.step({ type: "room", room: "#lobby", key: "", focus: false });
  assert.deepEqual(page.sent.slice(before), ["#lobby /who"], "asked there");
});

Deno.test("reduce() parts a room: it leaves the list, the last room joined is shown, the leave shown there labelled", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "sesame", focus: true });
  assert.equal(page.sent.at(-1), "/join #ops sesame");
  page.enter("#ops");
  page.step({ type: "room", room: "#dev", key: "", focus: true });
  page.enter("#dev");
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  page.step({ type: "part", room: "#ops" });
  page.step({ type: "part", room: "#nowhere" }); // not in it: nothing sent
  assert.equal(page.sent.at(-1), "/part #ops");
  page.line("#ops LEAVE ann 0 part see you");
  assert.deepEqual(page.roomList(), ["#lobby", "#dev"]);
  assert.equal(page.state.current, "#dev");
  assert.equal(page.state.effects.fragment, "#dev");
  assert.equal(page.state.keys.has("#ops"), false, "its key is forgotten");
  assert.deepEqual(page.shown().at(-1), "#opsann left: see you");
  assert.equal(page.log.at(-1)!.parts[0]!.kind, "label");
  page.line("#dev LEAVE ann 0 kicked");
  page.line("#lobby LEAVE ann 0 part");
  assert.equal(page.state.current, "");
  assert.equal(page.state.effects.fragment, "");
  assert.equal(page.state.heading, "chat", "in no room: the server's name");
  page.line("CURRENT -");
  page.line("ERR not-in-room You are in no room: /join #room");
  assert.deepEqual(page.shown(), [
    "#lobbyann left",
    "! You are in no room: /join #room",
  ]);
  page.step({ type: "say", text: "anyone?", now: page.now });
  assert.equal(page.sent.at(-1), "anyone?", "no room: no prefix");
  page.step({ type: "room", room: "#lobby", key: "", focus: true });
  page.enter("#lobby", 2);
  assert.deepEqual(page.shown(), [
    "#lobbyann left",
    "! You are in no room: /join #room",
    "ann joined",
  ], "what was shown in no room comes along");
});

Deno.test("reduce() joins the room the URL names once in, and follows the server's CURRENT", () => {
  const page = FakePage.inRooms("ann", "#Ops");
  assert.equal(page.sent.at(-2), "/join #ops", "asked once welcomed");
  page.enter("#ops");
  assert.equal(page.state.current, "#ops");
  page.line("CURRENT #lobby");
  assert.equal(page.state.current, "#lobby");
  page.line("CURRENT #unknown"); // not a room the page is in: stays
  assert.equal(page.state.current, "#lobby");
  // A server without rooms: the fragment changes nothing.
  const plain = new FakePage();
  plain.step({ type: "room", room: "#ops", key: "", focus: false });
  plain.step({ type: "connect", retry: false });
  plain.line("HELLO tlschat/1 chat rate=5 Send your alias");
  plain.step({ type: "join", alias: "bo", password: "" });
  plain.line("WELCOME bo 1 hi");
  plain.step({ type: "room", room: "#dev", key: "", focus: false });
  assert.deepEqual(plain.sent, ["bo", "/who"]);
  assert.equal(plain.state.heading, "chat");
});

Deno.test("reduce() shows the refusal of the room the URL names when the room-creation cap refuses it", () => {
  const page = FakePage.inRooms("ann", "#New");
  assert.equal(page.sent.at(-2), "/join #new", "asked once welcomed");
  page.line(
    "ERR room-creations You created 3 rooms this hour, the most allowed: try later",
  );
  assert.equal(page.state.current, "#lobby");
  assert.equal(
    page.shown().at(-1),
    "#new! You created 3 rooms this hour, the most allowed: try later",
  );
  assert.equal(page.log.at(-1)?.className, "error-line");
  assert.deepEqual(page.state.joining, []);
  assert.deepEqual(page.roomList(), ["#lobby"]);
});

Deno.test("reduce() rejoins its rooms with their keys after a reconnect, the one shown last, each history replacing its log", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "sesame", focus: true });
  page.enter("#ops");
  page.step({ type: "room", room: "#dev", key: "", focus: true });
  page.enter("#dev");
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  page.line("#ops MSG cat before");
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  const before = page.sent.length;
  page.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms Send your alias");
  page.line("CAP ids rooms");
  page.line("WELCOME ann 2 hi");
  assert.deepEqual(page.sent.slice(before), [
    "/cap ids rooms",
    "ann",
    "/join #lobby",
    "/join #dev",
    "/join #ops sesame",
  ]);
  page.line("#lobby JOIN ann 2");
  page.line("CURRENT #lobby");
  page.enter("#dev");
  page.enter("#ops");
  page.line("#ops HIST 5 2026-01-01T00:00:00Z MSG cat before");
  assert.equal(page.state.current, "#ops");
  assert.deepEqual(page.shown(), ["cat before"], "history replaced the log");
  assert.deepEqual(page.sent.slice(-3), [
    "#lobby /who",
    "#dev /who",
    "#ops /who",
  ]);
});

Deno.test("reduce() keeps the key a room was entered with: not replaced by a switch, forgotten when refused, kept when the room log was unavailable", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "sesame", focus: true });
  page.enter("#ops");
  const sent = page.sent.length;
  page.step({ type: "room", room: "#ops", key: "typo", focus: true });
  assert.equal(page.sent.length, sent, "a switch: nothing sent");
  assert.equal(page.state.keys.get("#ops"), "sesame");
  // Too many wrong keys refuses a /join too: the next refusal is its own.
  page.step({ type: "room", room: "#dev", key: "guess", focus: true });
  page.line(
    "ERR too-many-attempts Too many wrong room keys: try again in 60 s",
  );
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  page.line("ERR room-banned You are banned from #qa");
  assert.deepEqual(page.state.joining, []);
  assert.equal(page.state.keys.has("#dev"), false, "its key is forgotten");
  assert.deepEqual(page.roomList(), ["#lobby", "#ops"]);
  // A JOIN the room log did not store (or cannot say) answers it too, but
  // the room is held on the list, its key kept, to join again.
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  page.step({ type: "room", room: "#dev", key: "guess", focus: true });
  // The same codes answer other lines: those are no join's answer.
  page.line(
    "ERR unknown Done on this server; the other servers may not have been told (the room's store did not answer): check, and do it again if not",
  );
  page.line(
    "@id=sAAAAAAAAAAAAAAAAAAAAAA ERR unavailable Not sent: the room cannot store messages right now; try again later",
  );
  assert.deepEqual(page.state.joining, ["#qa", "#dev"]);
  page.line(
    "ERR unavailable Cannot join #qa: the room cannot store events right now; /join #qa again later",
  );
  assert.deepEqual(page.state.joining, ["#dev"]);
  page.line(
    "ERR unknown Perhaps not in #dev: the room's store stopped answering; if your join was stored, you will enter #dev as usual; if not, /join #dev again",
  );
  assert.deepEqual(page.state.joining, []);
  assert.deepEqual(page.roomList(), [
    "#lobby",
    "#ops",
    "#qa held",
    "#dev held",
  ]);
  assert.equal(page.state.keys.get("#dev"), "guess", "its key is kept");
  assert.equal(page.state.current, "#ops", "the room shown stays");
  assert.deepEqual(page.shown().slice(-2), [
    "#qa! Cannot join #qa: the room cannot store events right now; /join #qa again later",
    "#dev! Perhaps not in #dev: the room's store stopped answering; if your join was stored, you will enter #dev as usual; if not, /join #dev again",
  ]);
  // A JOIN stored after all comes as usual: the room is joined.
  page.line(`#dev JOIN ${page.state.alias} 3`);
  assert.deepEqual(page.roomList(), ["#lobby", "#ops", "#qa held", "#dev"]);
  // One click on a held room joins it again; leaving one sends nothing.
  const asked = page.sent.length;
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  assert.equal(page.state.current, "#qa");
  assert.deepEqual(page.sent.slice(asked), ["/join #qa"]);
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  assert.equal(page.sent.length, asked + 1, "asked once until answered");
  page.line("ERR unavailable Cannot join #qa: /join #qa again later");
  page.step({ type: "part", room: "#qa" });
  // No /part (not in it); #dev, shown now, is asked who is in it.
  assert.deepEqual(page.sent.slice(asked + 1), ["#dev /who"]);
  assert.deepEqual(page.roomList(), ["#lobby", "#ops", "#dev"]);
});

Deno.test("reduce() keeps its rooms and their keys when it rejoins during an outage of the room log, and joins them again with one click or at the next reconnect", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "sesame", focus: true });
  page.enter("#ops");
  page.step({ type: "room", room: "#dev", key: "", focus: true });
  page.enter("#dev");
  page.line("#ops MSG cat before");
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  page.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms Send your alias");
  page.line("CAP ids rooms");
  page.line("WELCOME ann 2 hi");
  page.line("#lobby JOIN ann 2");
  page.line("CURRENT #lobby");
  const outage =
    "Cannot join #ops: the room cannot store events right now; /join #ops again later";
  page.line(`ERR unavailable ${outage}`);
  page.line(
    "ERR unknown Perhaps not in #dev: the room's store stopped answering",
  );
  // Before, both rooms left the list and #ops's key was forgotten.
  assert.deepEqual(page.roomList(), ["#lobby", "#ops 1 held", "#dev held"]);
  assert.equal(page.state.keys.get("#ops"), "sesame");
  assert.equal(page.state.current, "#lobby", "the server's CURRENT");
  assert.deepEqual(page.shown().slice(-2), [
    `#ops! ${outage}`,
    "#dev! Perhaps not in #dev: the room's store stopped answering",
  ]);
  assert.equal(
    page.shown("#dev").at(-1),
    "! Perhaps not in #dev: the room's store stopped answering",
  );
  assert.ok(page.shown("#ops").includes("cat before"), "its log is kept");
  assert.ok(page.shown("#ops").includes(`! ${outage}`));
  assert.equal(page.state.rooms.get("#ops")!.members.size, 0);
  // Kept across a reload: the session names the held rooms and the key.
  const session = sessionOf(page.state);
  assert.deepEqual(session?.rooms.map(([name]) => name), [
    "#lobby",
    "#ops",
    "#dev",
  ]);
  assert.deepEqual(session?.keys, [["#ops", "sesame"]]);
  // The next reconnect asks for them again, with the key.
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  page.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms Send your alias");
  page.line("CAP ids rooms");
  const before = page.sent.length;
  page.line("WELCOME ann 2 hi");
  assert.deepEqual(page.sent.slice(before), [
    "/join #ops sesame",
    "/join #dev",
    "/join #lobby",
  ]);
  page.line("#lobby JOIN ann 2");
  page.line("CURRENT #lobby");
  page.enter("#ops");
  page.line(
    "ERR unavailable Cannot join #dev: the room cannot store events right now; /join #dev again later",
  );
  assert.deepEqual(page.roomList(), ["#lobby", "#ops", "#dev held"]);
  // One click on the held room the Redis outage left: joined again.
  const sent = page.sent.length;
  page.step({ type: "room", room: "#dev", key: "", focus: true });
  assert.deepEqual(page.sent.slice(sent), ["/join #dev"]);
  page.line("#dev JOIN ann 2");
  assert.deepEqual(page.roomList(), ["#lobby", "#ops", "#dev"]);
  assert.equal(page.state.current, "#dev");
});

Deno.test("reduce() joins the rooms the room log could not store again after 5 s, then waits twice as long each time, up to 5 min, and from 5 s once one is joined", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "sesame", focus: true });
  const held = page.line(
    "ERR unavailable Cannot join #ops: the room cannot store events right now; /join #ops again later",
  );
  assert.equal(held.effects.rejoinInMs, 5000);
  page.step({ type: "room", room: "#dev", key: "", focus: true });
  const second = page.line("ERR unknown Perhaps not in #dev: no answer");
  assert.equal(second.effects.rejoinInMs, null, "one wait for all");
  assert.equal(page.shown().length, 7, "each told in the room shown once");
  const waits = [];
  for (let i = 0; i < 8; i++) {
    const before = page.sent.length;
    page.step({ type: "rejoin" });
    assert.deepEqual(page.sent.slice(before), [
      "/join #ops sesame",
      "/join #dev",
    ]);
    const again = page.line(
      "ERR unavailable Cannot join #ops: /join #ops again later",
    );
    waits.push(again.effects.rejoinInMs);
    page.line("ERR unavailable Cannot join #dev: again later");
    assert.equal(page.state.effects.rejoinInMs, null, "one wait for both");
  }
  assert.deepEqual(waits, [
    10_000,
    20_000,
    40_000,
    80_000,
    160_000,
    300_000,
    300_000,
    300_000,
  ]);
  assert.equal(page.shown().length, 7, "a try refused again: not told here");
  assert.equal(page.shown("#ops").length, 9, "but in its own room, each");
  assert.deepEqual(page.roomList(), ["#lobby", "#ops held", "#dev held"]);
  // A try that is answered: in again, and the next wait is 5 s again.
  page.step({ type: "rejoin" });
  page.line("#ops JOIN ann 2");
  const last = page.line("ERR unavailable Cannot join #dev: again later");
  assert.equal(last.effects.rejoinInMs, 5000);
  assert.deepEqual(page.roomList(), ["#lobby", "#ops", "#dev held"]);
  // A wait that ends with no connection sends nothing (the reconnect does).
  page.step({ type: "closed", random: 0 });
  const closed = page.sent.length;
  page.step({ type: "rejoin" });
  assert.equal(page.sent.length, closed);
});

Deno.test("reduce() takes ERR too-many-attempts after a PASSWORD for the login's answer, not for a /join sent meanwhile", () => {
  const page = FakePage.inRooms();
  page.line("PASSWORD account Password for amyacct"); // after a /nick
  page.step({ type: "room", room: "#dev", key: "sesame", focus: true });
  page.line("ERR too-many-attempts Too many failed logins: try again in 60 s");
  assert.deepEqual(page.state.joining, ["#dev"], "the join still waits");
  assert.equal(page.state.keys.get("#dev"), "sesame");
  assert.equal(page.state.logins, 0);
  page.line("ERR room-key Wrong key for #dev");
  assert.deepEqual(page.state.joining, []);
  assert.equal(page.state.keys.has("#dev"), false, "the join's refusal");
  // A login that succeeded (its NICK) leaves nothing to answer.
  page.line("PASSWORD account Password for amyacct");
  page.line(`NICK ${page.state.alias} amyacct 2`);
  assert.equal(page.state.logins, 0);
});

Deno.test("reduce() shows lines of rooms, invitations and room operators' actions in the page's words", () => {
  const page = FakePage.inRooms();
  for (
    const line of [
      "ROOM #lobby 12 m Welcome all",
      "ROOM #ops 3 k -",
      "INFO 2 rooms",
      "INVITE #secret bob",
      "#lobby MOD op dan op",
      "#lobby MOD deop dan op",
      "#lobby MOD invite eve op",
      "#lobby MOD key - op on",
      "#lobby MOD key - op off",
      "#lobby MOD invite-only - op on",
      "#lobby MOD register - op",
      "#nowhere MSG eve a room the page is not in",
    ]
  ) page.line(line);
  assert.deepEqual(page.shown().slice(5), [
    "#lobby (12) joined: Welcome all",
    "#ops (3): -",
    "2 rooms",
    "bob invites you to #secret",
    "dan was made a room operator by op",
    "dan was removed as a room operator by op",
    "eve was invited by op",
    "op set the room key",
    "op removed the room key",
    "op made the room invite-only",
    "op registered the room",
    "#nowhereeve a room the page is not in",
  ]);
  assert.deepEqual(page.roomList(), ["#lobby"], "no room added by a line");
});

Deno.test("reduce() counts what is said in any room while the tab is hidden", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "", focus: true });
  page.enter("#ops");
  page.hidden = true;
  page.line("#lobby MSG bob one");
  page.line("#ops MSG cat two");
  assert.equal(page.state.title, "(2) #ops");
  page.step({ type: "seen" });
  assert.equal(page.state.title, "#ops");
  assert.deepEqual(page.roomList(), ["#lobby 1", "#ops"]);
});

Deno.test("reduce() takes a room it cannot rejoin off the list, and labels a refused join with its room", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#secret", key: "wrong", focus: true });
  page.line("ERR room-key Wrong key for #secret");
  assert.deepEqual(page.shown().at(-1), "#secret! Wrong key for #secret");
  assert.deepEqual(page.state.joining, []);
  page.step({ type: "room", room: "#ops", key: "", focus: true });
  page.enter("#ops");
  page.step({ type: "room", room: "#dev", key: "", focus: true });
  page.enter("#dev");
  page.line("ERR usage Usage: /topic TEXT"); // not about a join
  assert.deepEqual(page.roomList(), ["#lobby", "#ops", "#dev"]);
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  page.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms Send your alias");
  page.line("CAP ids rooms");
  page.line("WELCOME ann 2 hi");
  assert.deepEqual(page.state.joining, ["#lobby", "#ops", "#dev"]);
  page.line("#lobby JOIN ann 2");
  page.line("CURRENT #lobby"); // the server's own: #lobby was asked too
  page.line("ERR no-such-room No room #ops: it is gone");
  page.enter("#dev");
  assert.deepEqual(page.state.joining, []);
  assert.deepEqual(page.roomList(), ["#lobby", "#dev"]);
  assert.equal(page.state.current, "#dev");
  assert.ok(
    page.shown("#lobby").includes("#ops! No room #ops: it is gone"),
    page.shown("#lobby").join("\n"),
  );
});

Deno.test("reduce() makes what someone chose a part of its own in every entry (isolated when shown), the page's words apart", () => {
  const rtl = "שלום";
  const page = FakePage.inRooms();
  const lines = [
    `#lobby MSG bob ${rtl}!`,
    `#lobby ME bob ${rtl}`,
    `PRIV bob ${rtl}`,
    `SENT bob ${rtl}`,
    `#lobby TOPIC bob ${rtl} (1)`,
    `#lobby MOD kick eve bob ${rtl}`,
    `#lobby MOD mute eve bob by bob until ${rtl}`,
    `#lobby MOD ${rtl} eve bob`,
    `#lobby MOD ${rtl} - bob off`,
    `#lobby MOD ${rtl} - bob on`,
    `#lobby BAN address ${rtl} ${rtl} bob ${rtl}`,
    `#lobby LEAVE eve 2 quit ${rtl}`,
    `#lobby LEAVE eve 2 ${rtl} ${rtl}`,
    `#lobby NICK eve ${rtl} 2`,
    `#lobby PRESENCE ${rtl} 1 2`,
    `#lobby JOIN ${rtl} 2`,
    `ROOM #lobby 3 m ${rtl}`,
    `INVITE #lobby ${rtl}`,
    `INFO ${rtl}`,
    `ERR usage ${rtl}`,
    `NEWTYPE ${rtl}`,
  ];
  for (const line of lines) {
    const before = page.log.length;
    page.line(line);
    const entry = page.log.at(-1)!;
    assert.equal(page.log.length, before + 1, line);
    const shown = entry.parts.map((part) => part.text).join("");
    assert.ok(shown.includes(rtl), `${line}: ${shown}`);
    for (const part of entry.parts) {
      if (part.kind === "text") assert.ok(!part.text.includes(rtl), line);
    }
  }
  page.line(`BYE kicked Disconnected: ${rtl}`);
  const bye = page.log.at(-1)!;
  assert.deepEqual(bye.parts.map((part) => part.kind), ["said"]);
});

Deno.test("reduce() keeps a room's conversation when joins and leaves pour in: presence notices have a cap of their own within the log's", () => {
  const page = FakePage.inRooms();
  for (let i = 0; i < 300; i++) page.line(`#lobby MSG bob said ${i}`);
  // A busy room: 1,000 joins and leaves after the conversation.
  for (let i = 0; i < 500; i++) {
    page.line(`#lobby JOIN guest${i} 3`);
    page.line(`#lobby LEAVE guest${i} 2 quit`);
  }
  const shown = page.shown();
  const said = shown.filter((t) => t.startsWith("bob said "));
  assert.equal(said.length, 300, "every message kept");
  assert.equal(said[0], "bob said 0");
  const comings = shown.filter((t) => / (joined|left)$/.test(t));
  assert.equal(comings.length, MAX_PRESENCE);
  assert.equal(comings.at(-1), "guest499 left");
  // Messages still make the oldest entry leave past the log's cap.
  for (let i = 300; i < 1000; i++) page.line(`#lobby MSG bob said ${i}`);
  assert.equal(page.log.length, MAX_LOG);
  assert.equal(page.shown().at(-1), "bob said 999");
});
