/**
 * Tests of the page's state (web/state.js) without a browser: events in,
 * the next state out, with the lines it sends and what its log shows. The
 * reducer is pure, so a fake page is a loop over `reduce`; the clock and
 * the tab's visibility are fields of the events.
 */

import assert from "node:assert/strict";
import type { Entry } from "../../web/entries.js";
import {
  INITIAL_STATE,
  type PageEvent,
  reduce,
  type State,
} from "../../web/state.js";

/** The page as the reducer sees it: what it sent and what its log shows. */
class FakePage {
  state: State = INITIAL_STATE;
  now = Date.UTC(2026, 0, 1);
  hidden = false;
  readonly sent: string[] = [];
  log: Entry[] = [];

  /** Applies an event, checking that the state before it was left alone. */
  step(event: PageEvent): State {
    const before = structuredClone(this.state);
    const next = reduce(this.state, event);
    assert.deepEqual(this.state, before, "reduce() changed its input");
    this.state = next;
    this.sent.push(...next.effects.send);
    if (next.effects.clearLog) this.log = [];
    this.log.push(...next.effects.entries);
    return next;
  }

  line(text: string): State {
    return this.step({
      type: "line",
      text,
      now: this.now,
      hidden: this.hidden,
    });
  }

  /** The texts of the log, each entry's parts joined. */
  shown(): string[] {
    return this.log.map((entry) => entry.parts.map((p) => p.text).join(""));
  }

  /** Greeted, joined as `alias`, with the /who answered. */
  static joined(alias = "ann"): FakePage {
    const page = new FakePage();
    page.step({ type: "connect", retry: false });
    page.line("HELLO tlschat/1 lobby rate=5 Send your alias");
    page.step({ type: "join", alias: ` ${alias} `, password: "" });
    page.line(`WELCOME ${alias} 2 Type /help for commands`);
    page.line(`WHO 2 ${alias} @Op`);
    return page;
  }
}

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
  assert.equal(joined.online, "2");
  assert.equal(joined.effects.focus, "message");
  assert.deepEqual(joined.status, { text: "Connected as ann", warn: false });
  assert.deepEqual(page.sent, ["ann", "/who"]);
  assert.deepEqual(page.shown(), [
    "Welcome, ann! 2 online. Type /help for commands",
  ]);
});

Deno.test("reduce() keeps the member list from WHO, JOIN, LEAVE and NICK", () => {
  const page = FakePage.joined();
  const members = () =>
    [...page.state.members.values()].map((m) =>
      m.operator ? `@${m.alias}` : m.alias
    );
  assert.deepEqual(members(), ["ann", "@Op"]);
  page.line("JOIN Bob 3");
  page.line("JOIN bob 3"); // the same member: listed once
  assert.equal(page.state.online, "3");
  page.line("NICK ann anna 3");
  assert.equal(page.state.alias, "anna", "our own rename is followed");
  page.line("LEAVE op 2 quit bye");
  assert.deepEqual(members().sort(), ["Bob", "anna"]);
  assert.equal(page.state.online, "2");
  assert.deepEqual(page.shown().slice(1), [
    "Bob joined",
    "bob joined",
    "ann is now known as anna",
    "op left: bye",
  ]);
});

Deno.test("reduce() shows what is said, in the page's words", () => {
  const page = FakePage.joined();
  for (
    const line of [
      "MSG bob hello there",
      "ME bob waves",
      "PRIV bob psst",
      "SENT bob psst back",
      "TOPIC bob Tea at five",
      "MOD kick eve bob spamming",
      "BAN address 10.0.0.0/8 2026-02-01T00:00:00Z bob noisy",
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
    "Ban on address 10.0.0.0/8 by bob until 2026-02-01T00:00:00Z: noisy",
    "eve was disconnected for flooding",
    "eve left (gone-fishing)",
    "12 joined, 3 left (140 online)",
    "just so you know",
    "! Usage: /me ACTION",
    "NEWTYPE from a newer server",
    "CAP ids",
  ]);
  assert.equal(page.state.topic, "Tea at five");
  const classes = page.log.slice(1, 5).map((entry) => entry.className);
  assert.deepEqual(classes, ["message", "action", "private", "private"]);
  assert.equal(page.log[1]!.parts[0]!.kind, "alias");
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
  assert.equal(page.state.online, "152");
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
      const said = page.step({ type: "say", text: "/quit bye" });
      assert.equal(said.effects.clearMessage, true);
    }
    page.line(`BYE ${ending} Goodbye`);
    const closed = page.step({ type: "closed", random: 0 });
    assert.equal(closed.effects.reconnectInMs, null, ending);
    assert.deepEqual(closed.status, { text: "Disconnected", warn: true });
    assert.equal(page.shown().at(-1), "Disconnected: Goodbye");
  }
});

Deno.test("reduce() sends what is typed, but not an empty line", () => {
  const page = FakePage.joined();
  const blank = page.step({ type: "say", text: "   " });
  assert.equal(blank.effects.clearMessage, false);
  page.step({ type: "say", text: "hello all" });
  assert.deepEqual(page.sent.slice(2), ["hello all"]);
  assert.equal(page.state.stay, false);
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
