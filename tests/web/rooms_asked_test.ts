/**
 * Tests of the rooms the page asks for (web/rooms_asked.js) without a
 * browser: what is typed in a room held (not joined), and rooms the
 * address names that the user did not ask for.
 */

import assert from "node:assert/strict";
import { FakePage } from "./_fake_page.ts";

/** In `#lobby`, with `#qa` held: the room log could not store its join. */
function withHeld(): FakePage {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#qa", key: "sesame", focus: true });
  page.line(
    "ERR unavailable Cannot join #qa: the room cannot store events right now; /join #qa again later",
  );
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  page.line("ERR unavailable Cannot join #qa: again later");
  return page;
}

Deno.test("reduce() keeps a line typed in a held room in the box, not sent, and joins the room again", () => {
  const page = withHeld();
  assert.equal(page.state.current, "#qa");
  assert.deepEqual(page.roomList(), ["#lobby", "#qa held"]);
  const sent = page.sent.length;
  const typed = page.step({ type: "say", text: "hello qa", now: page.now });
  assert.equal(typed.effects.clearMessage, false, "kept in the box");
  assert.deepEqual(page.sent.slice(sent), ["/join #qa sesame"]);
  assert.equal(
    page.shown().at(-1),
    "! Not sent: you are not in #qa; joining it again (your line is kept in the box)",
  );
  // Once more before the answer: still not sent, one /join.
  page.step({ type: "say", text: "hello qa", now: page.now });
  assert.deepEqual(page.sent.slice(sent), ["/join #qa sesame"]);
  page.enter("#qa", 2);
  const joined = page.step({ type: "say", text: "hello qa", now: page.now });
  assert.equal(joined.effects.clearMessage, true);
  assert.equal(page.sent.at(-1), "#qa hello qa");
});

Deno.test("reduce() only offers a room the address names that the page is not in: joined when the user says so, never on its own", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "", focus: true });
  page.enter("#ops");
  const sent = page.sent.length;
  const named = page.step({ type: "address", room: "Evil" });
  assert.deepEqual(page.sent.slice(sent), [], "no /join");
  assert.equal(page.state.offered, "#evil");
  assert.equal(named.effects.fragment, "#ops", "the address set back");
  assert.deepEqual(page.roomList(), ["#lobby", "#ops"]);
  // A room the page is in: shown, as before.
  page.step({ type: "address", room: "#lobby" });
  assert.equal(page.state.current, "#lobby");
  assert.deepEqual(page.sent.slice(sent), []);
  // Declined: no offer; offered again, then taken: joined.
  page.step({ type: "decline" });
  assert.equal(page.state.offered, "");
  page.step({ type: "address", room: "#evil" });
  page.step({ type: "room", room: "#evil", key: "", focus: true });
  assert.deepEqual(page.sent.slice(sent), ["/join #evil"]);
  assert.equal(page.state.offered, "");
});

Deno.test("reduce() shows a held room the address names without joining it, and offers no name the server would not make", () => {
  const page = withHeld();
  page.step({ type: "room", room: "#lobby", key: "", focus: true });
  page.line("ERR unavailable Cannot join #qa: again later");
  const sent = page.sent.length;
  page.step({ type: "address", room: "#qa" });
  assert.equal(page.state.current, "#qa");
  assert.deepEqual(page.sent.slice(sent), [], "its rejoin waits its turn");
  for (
    const hostile of [
      "#caf\u00e9",
      "#ev\u202eil",
      "#lob\u200bby",
      "#lobby /op mallory",
      `#${"a".repeat(33)}`,
      "#",
    ]
  ) {
    page.step({ type: "address", room: hostile });
    assert.equal(page.state.offered, "", JSON.stringify(hostile));
  }
  assert.deepEqual(page.sent.slice(sent), []);
});

Deno.test("reduce() offers, not joins, a room the address names when a reloaded or reconnecting page comes back in by itself; a fresh page joins it with the alias typed", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "", focus: true });
  page.enter("#ops");
  page.step({ type: "closed", random: 0 });
  page.step({ type: "address", room: "#evil" });
  page.step({ type: "address", room: "#lobby" });
  assert.equal(page.state.current, "#lobby", "one of its rooms: shown");
  page.step({ type: "connect", retry: true });
  page.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms Send your alias");
  page.line("CAP ids rooms");
  const sent = page.sent.length;
  page.line("WELCOME ann 2 hi");
  assert.deepEqual(page.sent.slice(sent), ["/join #ops", "/join #lobby"]);
  assert.equal(page.state.offered, "#evil");
  // A fresh page: the link's room is joined with the alias the user gives.
  const fresh = FakePage.inRooms("bo", "#Ops");
  assert.ok(fresh.sent.includes("/join #ops"));
  assert.equal(fresh.state.offered, "");
});

Deno.test("reduce() asks who is in the room shown only: presence in 20 large rooms not shown, and rejoining them, send no /who until one is shown", () => {
  const page = FakePage.inRooms();
  const rooms = Array.from({ length: 20 }, (_, i) => `#big${i}`);
  for (const room of rooms) {
    page.step({ type: "room", room, key: "", focus: false });
    page.enter(room, 500);
  }
  page.step({ type: "room", room: "#lobby", key: "", focus: true });
  const sent = page.sent.length;
  // Bots come and go in every room for a minute: one PRESENCE each per 5 s.
  for (let second = 0; second < 60; second += 5) {
    page.now += 5000;
    for (const room of rooms) page.line(`${room} PRESENCE 3 2 501`);
  }
  // Before: 240 /who in a minute, 4 a second of the 4.5 the page may send.
  assert.deepEqual(page.sent.slice(sent), []);
  assert.equal(page.state.rooms.get("#big7")?.online, "501");
  page.step({ type: "room", room: "#big7", key: "", focus: false });
  assert.deepEqual(page.sent.slice(sent), ["#big7 /who"]);
  page.line("#big7 WHO 501 ann bob");
  page.step({ type: "room", room: "#lobby", key: "", focus: false });
  page.step({ type: "room", room: "#big7", key: "", focus: false });
  assert.deepEqual(page.sent.slice(sent), ["#big7 /who"], "known: not again");
  // A reconnect rejoins every room: one /who, the room shown's.
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  page.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms Send your alias");
  page.line("CAP ids rooms");
  page.line("WELCOME ann 2 hi");
  const rejoined = page.sent.length;
  for (const room of ["#lobby", ...rooms]) page.line(`${room} JOIN ann 500`);
  page.line("CURRENT #big7");
  assert.deepEqual(page.sent.slice(rejoined), ["#big7 /who"]);
});

Deno.test("reduce() in a held room: /part leaves the list, /quit leaves the server, another command is kept without a join", () => {
  for (const typed of ["/part", "/PART bye all", "/part #qa later"]) {
    const page = withHeld();
    const sent = page.sent.length;
    const parted = page.step({ type: "say", text: typed, now: page.now });
    assert.deepEqual(page.sent.slice(sent), [], `${typed}: no /join`);
    assert.equal(parted.effects.clearMessage, true);
    assert.deepEqual(page.roomList(), ["#lobby"], typed);
  }
  const page = withHeld();
  const sent = page.sent.length;
  const other = page.step({ type: "say", text: "/topic new", now: page.now });
  assert.equal(other.effects.clearMessage, false);
  assert.deepEqual(page.sent.slice(sent), [], "no /join asked");
  assert.equal(
    page.shown().at(-1),
    "! Not sent: you are not in #qa (select it to join it again)",
  );
  page.step({ type: "say", text: "/part #lobby", now: page.now });
  assert.deepEqual(page.sent.slice(sent), [], "another room's: kept too");
  const quit = page.step({ type: "say", text: "/quit bye", now: page.now });
  assert.deepEqual(page.sent.slice(sent), ["/quit bye"]);
  assert.equal(quit.effects.clearMessage, true);
  assert.equal(page.state.stay, true);
});
