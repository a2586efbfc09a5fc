/**
 * Tests of what the page keeps across a reload (web/session.js through
 * web/state.js's reducer) without a browser: the session each step asks
 * to keep, forgotten on /quit, a kick, a ban or a refused login, its token
 * dropped when refused; its text read back only when every field is
 * sound; a reloaded page resuming as a reconnect does; and a duplicated
 * tab's copy never taken.
 */

import assert from "node:assert/strict";
import {
  markOpen,
  OPEN_KEY,
  parseSession,
  type Session,
  SESSION_KEY,
  sessionChange,
  SessionWriter,
  takeSession,
} from "../../web/session.js";
import type { PageEvent } from "../../web/state.js";
import { FakePage } from "./_fake_page.ts";

const CAPS = "caps=ids+rooms+seq+resume";
const TOKEN = "abcdefghijklmnopqrstuv";

/** A guest page in #lobby with two lines seen and a token. */
function guestPage(): FakePage {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("CAP ids rooms seq resume");
  page.step({ type: "join", alias: "gus", password: "" });
  page.line("WELCOME gus 2 Type /help for commands");
  page.line("@seq=10;time=2026-01-01T00:00:00.000Z #lobby JOIN gus 2");
  page.line("CURRENT #lobby");
  page.line(`RESUME ${TOKEN} 30 Resume within 30 s`);
  page.line("@seq=11;time=2026-01-01T00:00:01.000Z #lobby MSG bob one");
  return page;
}

/** The last session a page asked to keep ("": forgotten; null: none). */
function kept(page: FakePage, from = 0): string | null {
  return page.kept.slice(from).at(-1) ?? null;
}

/** A `sessionStorage` as a map. */
class MapStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

Deno.test("reduce() asks to keep the session when it changes: alias, epoch, token, rooms with their last numbers, the room shown", () => {
  const page = guestPage();
  const session = parseSession(kept(page));
  assert.deepEqual(session, {
    alias: "gus",
    epoch: "E1",
    token: TOKEN,
    current: "#lobby",
    rooms: [["#lobby", 11]],
    keys: [],
  });
  // A line that changes none of it asks for nothing.
  const next = page.line("#lobby WHO 2 gus bob");
  assert.equal(next.effects.session, null);
  // Nothing is kept before joining, and never a password.
  const fresh = new FakePage();
  fresh.step({ type: "connect", retry: false });
  fresh.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  fresh.step({ type: "join", alias: "ann", password: "secret" });
  assert.equal(kept(fresh), null);
  page.step({ type: "room", room: "#ops", key: "k3y", focus: false });
  page.enter("#ops");
  assert.doesNotMatch(kept(page) ?? "", /secret/);
  assert.deepEqual(parseSession(kept(page))?.rooms, [
    ["#lobby", 11],
    ["#ops", 0],
  ]);
  // The key a room was entered with, while the page is in it.
  assert.deepEqual(parseSession(kept(page))?.keys, [["#ops", "k3y"]]);
  page.line("#ops LEAVE gus 1 part");
  assert.deepEqual(parseSession(kept(page))?.keys, []);
});

Deno.test("reduce() rejoins a reloaded page's keyed room with its key after the grace, and asks for the key again when it is refused", () => {
  const page = guestPage();
  page.step({ type: "room", room: "#ops", key: "k3y", focus: false });
  page.enter("#ops");
  const session = parseSession(kept(page)) as Session;
  const reloaded = new FakePage();
  reloaded.step({ type: "restore", session });
  reloaded.step({ type: "connect", retry: false });
  reloaded.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  reloaded.line("CAP ids rooms seq resume");
  reloaded.line(
    "ERR resume-expired Your session ended; choose your alias again",
  );
  reloaded.line("WELCOME gus 2 Welcome back");
  assert.deepEqual(reloaded.sent.slice(-2), ["/join #lobby", "/join #ops k3y"]);
  // The key changed meanwhile: the room form asks for it, the name in it.
  reloaded.line("@seq=30;time=2026-01-01T00:00:30.000Z #lobby JOIN gus 2");
  reloaded.line("CURRENT #lobby");
  const refused = reloaded.line("ERR room-key Cannot join #ops: wrong key");
  assert.deepEqual(reloaded.roomList(), ["#lobby"]);
  assert.equal(refused.effects.focus, "roomKey");
  assert.equal(refused.effects.fillRoom, "#ops");
  assert.deepEqual(parseSession(kept(reloaded))?.keys, []);
});

Deno.test("reduce() forgets the session on /quit, a kick, a ban and a takeover, and drops a refused token", () => {
  const quit = guestPage();
  const from = quit.kept.length;
  quit.step({ type: "say", text: "/quit bye", now: quit.now });
  assert.equal(kept(quit, from), "");
  for (
    const bye of [
      "BYE kicked You were kicked",
      "BYE banned Banned",
      "BYE replaced Disconnected: your session was resumed from another connection",
    ]
  ) {
    const page = guestPage();
    const at = page.kept.length;
    page.line(bye);
    assert.equal(kept(page, at), "", bye);
  }
  // A reconnect whose token is refused: the alias and rooms stay kept.
  const page = guestPage();
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("ERR resume-expired Your session ended; choose your alias again");
  const session = parseSession(kept(page));
  assert.equal(session?.token, "");
  assert.equal(session?.alias, "gus");
});

Deno.test("reduce() resumes a reloaded page with its session: /resume with its positions and token before the alias, the lines said meanwhile shown once", () => {
  const before = guestPage();
  const session = parseSession(kept(before)) as Session;
  const page = new FakePage();
  page.step({ type: "restore", session });
  page.step({ type: "room", room: "#lobby", key: "", focus: false });
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  assert.deepEqual(page.sent, [
    "/cap ids rooms seq resume",
    `/resume E1 #lobby=11 ${TOKEN}`,
  ]);
  assert.equal(page.state.phase, "resuming");
  page.line("CAP ids rooms seq resume");
  page.line("WELCOME gus 2 Welcome back");
  assert.equal(page.sent.at(-1), "/join #lobby");
  page.line("@seq=11;time=2026-01-01T00:00:01.000Z #lobby MSG bob one");
  page.line("@seq=12;time=2026-01-01T00:00:02.000Z #lobby MSG bob two");
  page.line("#lobby RESUMED 12 0 Resumed: 1 line you missed");
  page.line("CURRENT #lobby");
  page.line("RESUME zyxwvutsrqponmlkjihgfe 30 Resume within 30 s");
  page.line("@seq=12;time=2026-01-01T00:00:02.000Z #lobby MSG bob two");
  assert.equal(page.state.status.text, "Connected as gus");
  assert.deepEqual(page.shown(), ["Reconnected", "1 new message", "bob two"]);
  assert.equal(parseSession(kept(page))?.token, "zyxwvutsrqponmlkjihgfe");
  // Lines already read are not marked read again.
  assert.ok(!page.sent.some((line) => line.startsWith("/read #lobby 11")));
});

/** A page reloaded with a session in #lobby (at 11) and #ops (at 20), greeted. */
function reloadedInTwoRooms(epoch = "E1"): FakePage {
  const page = new FakePage();
  page.step({
    type: "restore",
    session: {
      alias: "gus",
      epoch: "E1",
      token: TOKEN,
      current: "#lobby",
      rooms: [["#lobby", 11], ["#ops", 20]],
      keys: [],
    },
  });
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=${epoch} Hi`);
  page.line("CAP ids rooms seq resume");
  return page;
}

/** A `HIST` line of `room` numbered `seq`, said by bob. */
const hist = (room: string, seq: number, text: string) =>
  `${room} HIST ${seq} 2026-01-01T00:00:0${seq % 10}.000Z MSG bob ${text}`;

Deno.test("reduce() shows a reloaded page's recent conversation before the lines it missed: /history asked once a room is caught up and shown, each line once", () => {
  const page = reloadedInTwoRooms();
  page.line("WELCOME gus 2 Welcome back");
  page.line("@seq=12;time=2026-01-01T00:00:02.000Z #lobby MSG bob missed");
  page.line("#lobby RESUMED 12 0 Resumed: 1 line you missed");
  page.line("@seq=21;time=2026-01-01T00:00:03.000Z #ops MSG bob ops missed");
  page.line("#ops RESUMED 21 0 Resumed: 1 line you missed");
  page.line("CURRENT #lobby");
  // Asked for the room shown only: #ops asks when it is shown.
  const asked = () => page.sent.filter((line) => line.endsWith("/history"));
  assert.deepEqual(asked(), ["#lobby /history"]);
  // The answer: the last lines, those the catch-up showed among them.
  page.line(hist("#lobby", 9, "nine"));
  page.line("@seq=13;time=2026-01-01T00:00:04.000Z #lobby MSG bob live");
  page.line(hist("#lobby", 11, "eleven"));
  page.line(hist("#lobby", 12, "missed"));
  page.line("#lobby HISTEND 3 End of history: 3 messages");
  assert.deepEqual(page.shown(), [
    "bob nine",
    "bob eleven",
    "Reconnected",
    "1 new message",
    "bob missed",
    "bob live",
  ]);
  assert.equal(page.log[0]?.className, "history message");
  // A later history the user asks for is shown as ever.
  page.line(hist("#lobby", 12, "missed"));
  page.line("#lobby HISTEND 1 End of history: 1 message");
  assert.deepEqual(page.shown().slice(-2), [
    "bob missed",
    "End of history: 1 message",
  ]);
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  assert.deepEqual(asked(), ["#lobby /history", "#ops /history"]);
  page.line(hist("#ops", 20, "twenty"));
  page.line(hist("#ops", 21, "ops missed"));
  page.line("#ops HISTEND 2 End of history: 2 messages");
  assert.deepEqual(page.shown(), [
    "bob twenty",
    "1 new message",
    "bob ops missed",
  ]);
  // Shown again, a room does not ask again.
  page.step({ type: "room", room: "#lobby", key: "", focus: false });
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  assert.equal(asked().length, 2);
});

Deno.test("reduce() asks a reloaded page's history only where it helps: not after a new epoch, once again after a reconnect that lost the answer, and ERR no-history is no error", () => {
  // A new epoch: the server sends each room's history itself.
  const renewed = reloadedInTwoRooms("E2");
  renewed.line("WELCOME gus 2 Welcome back");
  renewed.line("#lobby HIST 1 2026-01-01T00:00:00.000Z MSG bob new");
  renewed.line("#lobby HISTEND 1 End of history: 1 message");
  renewed.line("#lobby RESUMED - ? Your history is from another epoch");
  renewed.line("CURRENT #lobby");
  assert.ok(!renewed.sent.some((line) => line.endsWith("/history")));
  assert.ok(renewed.shown().includes("bob new"));
  // The answer lost with its connection: asked again once caught up.
  const page = reloadedInTwoRooms();
  page.line("WELCOME gus 2 Welcome back");
  page.line("#lobby RESUMED 11 0 Resumed");
  page.line("CURRENT #lobby");
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("CAP ids rooms seq resume");
  page.line("WELCOME gus 2 Welcome back");
  const asked = () => page.sent.filter((line) => line.endsWith("/history"));
  assert.equal(asked().length, 1, "not before the room is caught up");
  page.line("#lobby RESUMED 11 0 Resumed");
  assert.equal(asked().length, 2);
  // A server that keeps no history: nothing to show, nothing asked again.
  page.line("ERR no-history This room keeps no history");
  assert.ok(!page.shown().some((text) => text.includes("no history")));
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  assert.equal(asked().length, 2);
  // A reconnect of a page that was never reloaded asks for none.
  const plain = guestPage();
  plain.step({ type: "closed", random: 0 });
  plain.step({ type: "connect", retry: true });
  plain.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  plain.line("WELCOME gus 2 Welcome back");
  plain.line("#lobby RESUMED 11 0 Resumed");
  plain.line("CURRENT #lobby");
  assert.ok(!plain.sent.some((line) => line.endsWith("/history")));
});

Deno.test("reduce() joins a reloaded page whose token is refused with its alias, as a reconnect does", () => {
  const session = parseSession(kept(guestPage())) as Session;
  const page = new FakePage();
  page.step({ type: "restore", session });
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("ERR resume-expired Your session ended; choose your alias again");
  assert.equal(page.sent.at(-1), "gus");
  page.line("ERR alias-taken Cannot join: alias gus is taken");
  assert.equal(page.state.screen, "join");
  assert.equal(kept(page), "", "refused: nothing to resume any more");
});

Deno.test("parseSession() takes only a sound session: anything else is none", () => {
  const sound = {
    alias: "gus",
    epoch: "E1",
    token: TOKEN,
    current: "#lobby",
    rooms: [["#lobby", 11], ["", 3]],
    keys: [["#lobby", "k3y"]],
  };
  assert.deepEqual(parseSession(JSON.stringify(sound)), sound);
  // A session of the release before, which kept no keys.
  const { keys: _, ...older } = sound;
  assert.deepEqual(parseSession(JSON.stringify(older)), { ...older, keys: [] });
  const broken: unknown[] = [
    null,
    "[]",
    { ...sound, alias: "gus\n/op mallory" },
    { ...sound, alias: "" },
    { ...sound, token: "a b" },
    { ...sound, epoch: 3 },
    { ...sound, current: "#lobby /kick bob" },
    { ...sound, rooms: [["#Lobby", 1]] },
    { ...sound, rooms: [["#lobby\n/quit", 1]] },
    { ...sound, rooms: [["#lobby", -1]] },
    { ...sound, rooms: [["#lobby", 1.5]] },
    { ...sound, rooms: {} },
    // Past what the server names and numbers: a position smuggled into
    // `/resume` (#ops=9), a line too long for it, a number it refuses.
    { ...sound, rooms: [["#a=9,#ops", 1]] },
    { ...sound, current: "#" + "a".repeat(5000) },
    { ...sound, rooms: [["#lobby", 2 ** 53 - 1]] },
    // A key that would be more than one word of `/join`, or for no room.
    { ...sound, keys: [["#lobby", "k3y /quit"]] },
    { ...sound, keys: [["#lobby", "k3y\n/quit"]] },
    { ...sound, keys: [["#lobby", ""]] },
    { ...sound, keys: [["", "k3y"]] },
    { ...sound, keys: [["#lobby", "k".repeat(513)]] },
    { ...sound, keys: {} },
  ];
  for (const value of broken) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    assert.equal(parseSession(text), null, text);
  }
  assert.equal(parseSession("{not json"), null);
});

Deno.test("takeSession() takes what a reloaded page left, and never a duplicated tab's copy of an open page's", () => {
  const text = kept(guestPage()) as string;
  // A reload: the page went (pagehide) before the next one started.
  const tab = new MapStorage();
  tab.setItem(SESSION_KEY, text);
  markOpen(tab, false);
  assert.equal(takeSession(tab)?.token, TOKEN);
  assert.equal(tab.getItem(OPEN_KEY), "1", "the new page is open");
  // A duplicated tab: a copy of the storage of a page still open.
  const copy = new MapStorage();
  for (const [key, value] of tab.items) copy.setItem(key, value);
  assert.equal(takeSession(copy), null);
  assert.equal(copy.getItem(SESSION_KEY), null, "the copy is forgotten");
  // So that the copy's own reload cannot take the first tab's member.
  markOpen(copy, false);
  assert.equal(takeSession(copy), null);
  // A damaged session is forgotten too.
  const damaged = new MapStorage();
  damaged.setItem(SESSION_KEY, "{");
  assert.equal(takeSession(damaged), null);
  assert.equal(damaged.getItem(SESSION_KEY), null);
});

Deno.test("reduce() asks a reloaded account page for its password when its token is refused: no password is kept", () => {
  const session = parseSession(kept(guestPage())) as Session;
  const page = new FakePage();
  page.step({ type: "restore", session });
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("ERR resume-expired Your session ended; choose your alias again");
  page.line("PASSWORD account gus is registered: send its password");
  assert.equal(page.state.phase, "password");
  assert.equal(page.state.passwordShown, true);
  assert.equal(page.sent.filter((line) => line.startsWith("/pass")).length, 0);
  page.step({ type: "join", alias: "gus", password: "s3cret" });
  assert.equal(page.sent.at(-1), "/pass s3cret");
  page.line("WELCOME gus 2 Welcome back");
  assert.doesNotMatch(kept(page) ?? "", /s3cret/);
});

/**
 * A page whose sessions go through a {@linkcode SessionWriter} to a map,
 * as app.js keeps them, its `later` called back only when the test says.
 */
class WrittenPage {
  readonly page = guestPage();
  readonly tab = new MapStorage();
  writes = 0;
  #later: (() => void)[] = [];
  readonly writer = new SessionWriter((text) => {
    this.writes++;
    if (text === "") this.tab.removeItem(SESSION_KEY);
    else this.tab.setItem(SESSION_KEY, text);
  }, (flush) => this.#later.push(flush));

  constructor() {
    this.writer.keep(kept(this.page) as string, "more");
    this.writes = 0;
  }

  step(event: PageEvent): void {
    const before = this.page.state;
    const after = this.page.step(event);
    const text = after.effects.session;
    if (text !== null) this.writer.keep(text, sessionChange(before, after));
  }

  line(text: string): void {
    this.step({ type: "line", text, now: this.page.now, hidden: false });
  }

  /** The wait for a change of positions ends. */
  waited(): void {
    for (const flush of this.#later.splice(0)) flush();
  }

  /** The session in the tab now. */
  get session(): Session | null {
    return parseSession(this.tab.getItem(SESSION_KEY));
  }
}

Deno.test("SessionWriter writes a burst of numbered lines once, when the wait ends or the page goes, and at once a change of more than their numbers", () => {
  const page = new WrittenPage();
  for (let seq = 12; seq < 312; seq++) {
    page.line(
      `@seq=${seq};time=2026-01-01T00:00:01.000Z #lobby MSG bob line ${seq}`,
    );
  }
  assert.equal(page.writes, 0, "300 lines, nothing written yet");
  assert.deepEqual(page.session?.rooms, [["#lobby", 11]]);
  page.waited();
  assert.equal(page.writes, 1);
  assert.deepEqual(page.session?.rooms, [["#lobby", 311]]);
  // Flushed (the page hides or goes): the last line seen, once.
  page.line("@seq=312;time=2026-01-01T00:00:02.000Z #lobby MSG bob last");
  page.writer.flush();
  page.writer.flush();
  assert.equal(page.writes, 2);
  assert.deepEqual(page.session?.rooms, [["#lobby", 312]]);
  page.waited(); // nothing left to write
  assert.equal(page.writes, 2);
  // A line typed and not answered is written at once, with the numbers
  // waiting: a reload sends it again, from the last line seen.
  page.line("@seq=313;time=2026-01-01T00:00:03.000Z #lobby MSG bob more");
  page.step({ type: "say", text: "kept", now: 0, id: "a".repeat(22) });
  assert.equal(page.writes, 3);
  assert.deepEqual(page.session?.rooms, [["#lobby", 313]]);
  assert.deepEqual(page.session?.lines?.map((l) => l.text), ["kept"]);
  // So is a new token, and forgetting the session (/quit).
  page.line(`RESUME ${"b".repeat(22)} 30 Resume within 30 s`);
  assert.equal(page.writes, 4);
  assert.equal(page.session?.token, "b".repeat(22));
  page.step({ type: "say", text: "/quit", now: 0, id: "c".repeat(22) });
  page.line("BYE quit Goodbye");
  assert.equal(page.session, null);
  assert.equal(page.tab.getItem(SESSION_KEY), null);
});

Deno.test("sessionChange() tells a step that changed nothing of the session, only rooms' numbers, or more", () => {
  const page = guestPage();
  const at = page.state;
  page.line("#lobby WHO 2 gus bob");
  assert.equal(sessionChange(at, page.state), "same");
  page.line("@seq=12;time=2026-01-01T00:00:02.000Z #lobby MSG bob two");
  assert.equal(sessionChange(at, page.state), "positions");
  const moved = page.state;
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  page.enter("#ops");
  assert.equal(sessionChange(moved, page.state), "more");
});
