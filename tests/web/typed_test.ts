/**
 * Tests of the user's lines without ids (web/typed.js through
 * web/state.js's reducer) without a browser: a whisper or command that
 * never left the page when its socket closed is shown as not sent, one
 * that left without an answer as perhaps not sent, each with its text;
 * one answered is not shown again.
 */

import assert from "node:assert/strict";
import { lineId } from "../../web/protocol.js";
import { TYPED_KEPT } from "../../web/typed.js";
import { FakePage } from "./_fake_page.ts";

/** Types a line as app.js does (with an id, used only by the outbox). */
function say(page: FakePage, text: string, n = 0): void {
  page.step({
    type: "say",
    text,
    now: page.now,
    id: lineId(new Uint8Array(16).fill(n)),
  });
}

/** The error lines of the room shown. */
function unsent(page: FakePage, room?: string): string[] {
  return page.shown(room).filter((t) => /^! (Perhaps n|N)ot sent/.test(t));
}

Deno.test("reduce() shows a whisper and a command the socket closed on: not sent when they never left the page, perhaps not sent when their answer never came", () => {
  const page = FakePage.inRooms();
  say(page, "/msg bob meet at 5", 1);
  say(page, "/topic Release day", 2);
  say(page, "/msg carol never left", 3);
  assert.deepEqual(page.sent.slice(-3), [
    "#lobby /msg bob meet at 5",
    "#lobby /topic Release day",
    "#lobby /msg carol never left",
  ]);
  // The pacer held the last two when the socket closed.
  page.step({
    type: "closed",
    random: 0,
    unsent: ["#lobby /topic Release day", "#lobby /msg carol never left"],
  });
  assert.deepEqual(unsent(page), [
    "! Perhaps not sent: /msg bob meet at 5 (disconnected before an answer)",
    "! Not sent: /topic Release day (disconnected before it left)",
    "! Not sent: /msg carol never left (disconnected before it left)",
  ]);
  assert.deepEqual(page.state.typed, []);
});

Deno.test("reduce() shows nothing at a close for typed lines the server answered: a whisper's SENT, a command's answer, in order", () => {
  const page = FakePage.inRooms();
  say(page, "/msg bob first", 1);
  say(page, "/msg Bob second", 2);
  say(page, "/nick annie", 3);
  say(page, "/who", 4);
  // The second whisper's SENT answers the first too (answers keep order).
  page.line("#lobby MSG bob unrelated");
  page.line("ERR flood Slow down");
  page.line("SENT bob second");
  page.line("#lobby NICK ann annie 2");
  assert.equal(page.state.typed.length, 1, "/who not answered yet");
  page.line("#lobby WHO 2 annie @op");
  page.step({ type: "closed", random: 0, unsent: [] });
  assert.deepEqual(unsent(page), []);
});

Deno.test("reduce() reports typed lines on a server without ids too, and keeps at most TYPED_KEPT", () => {
  const page = FakePage.joined();
  say(page, "plain words", 1);
  page.line("MSG ann plain words");
  say(page, "lost words", 2);
  for (let i = 0; i < TYPED_KEPT + 5; i++) say(page, `/help ${i}`, 3);
  assert.equal(page.state.typed.length, TYPED_KEPT);
  page.step({ type: "closed", random: 0, unsent: ["/help 54"] });
  const told = unsent(page);
  assert.equal(told.length, TYPED_KEPT);
  assert.equal(
    told.at(-1),
    "! Not sent: /help 54 (disconnected before it left)",
  );
  assert.ok(!told.some((t) => t.includes("plain words")));
});

Deno.test("reduce() shows a typed line not sent after /quit too, but not the /quit", () => {
  const page = FakePage.inRooms();
  say(page, "/msg bob bye", 1);
  say(page, "/quit", 2);
  page.line("BYE quit Bye");
  page.step({ type: "closed", random: 0, unsent: ["#lobby /msg bob bye"] });
  assert.deepEqual(unsent(page), [
    "! Not sent: /msg bob bye (disconnected before it left)",
  ]);
});

Deno.test("reduce() does not take the answer to a /join the page sent for a typed line's", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#ops", key: "", focus: true });
  say(page, "/msg bob hi", 1);
  page.line("ERR room-key Cannot join #ops: a key is needed");
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  page.line("#qa JOIN ann 1");
  page.line("CURRENT #qa");
  assert.equal(page.state.typed.length, 1);
  page.step({ type: "closed", random: 0, unsent: [] });
  assert.ok(
    unsent(page, "#lobby").includes(
      "! Perhaps not sent: /msg bob hi (disconnected before an answer)",
    ),
    page.shown("#lobby").join("\n"),
  );
});

Deno.test("reduce() does not take another member's topic change or an operator's action on the user for the answer to a typed line", () => {
  const page = FakePage.inRooms();
  say(page, "/msg bob one", 1);
  say(page, "/msg bob two", 2);
  say(page, "/msg bob three", 3);
  // Lines of the room's log, by others: bob sets the topic, mutes and
  // ops ann (her alias is the target, not the actor).
  page.line("@seq=5;time=2026-12-07T19:00:00.000Z #lobby TOPIC bob look here");
  page.line(
    "@seq=6;time=2026-12-07T19:00:01.000Z #lobby MOD mute ann bob quiet",
  );
  page.line("@seq=7;time=2026-12-07T19:00:02.000Z #lobby MOD op ann bob");
  assert.equal(page.state.typed.length, 3);
  page.step({ type: "closed", random: 0, unsent: [] });
  assert.deepEqual(unsent(page), [
    "! Perhaps not sent: /msg bob one (disconnected before an answer)",
    "! Perhaps not sent: /msg bob two (disconnected before an answer)",
    "! Perhaps not sent: /msg bob three (disconnected before an answer)",
  ]);
});

Deno.test("reduce() still takes the user's own topic change, action or the shown topic for an answer", () => {
  const page = FakePage.inRooms();
  say(page, "/topic Release day", 1);
  say(page, "/mute bob", 2);
  say(page, "/topic", 3);
  page.line(
    "@seq=5;time=2026-12-07T19:00:00.000Z #lobby TOPIC ann Release day",
  );
  page.line("@seq=6;time=2026-12-07T19:00:01.000Z #lobby MOD mute bob ann -");
  page.line("#lobby TOPIC ann Release day");
  assert.deepEqual(page.state.typed, []);
});

Deno.test("reduce() does not take the topic and history that come with a join for the answer to a typed line", () => {
  const page = FakePage.inRooms();
  // The user's own /join, then a whisper: the JOIN answers the /join; its
  // topic and history, up to CURRENT, answer nothing.
  say(page, "/join #dev", 1);
  say(page, "/msg bob one", 2);
  page.line("@seq=5;time=2026-12-07T19:00:00.000Z #dev JOIN ann 2");
  page.line("#dev TOPIC bob Welcome");
  page.line("#dev HIST 4 2026-12-07T18:00:00.000Z MSG bob earlier");
  page.line("#dev HISTEND 1 End of history");
  page.line("CURRENT #dev");
  // A room the page joins itself (a click) while another whisper waits.
  say(page, "/msg bob two", 3);
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  page.line("@seq=6;time=2026-12-07T19:00:01.000Z #qa JOIN ann 1");
  page.line("#qa TOPIC amy Questions");
  page.line("#qa HISTEND 0 End of history");
  page.line("CURRENT #qa");
  assert.equal(page.state.typed.length, 2);
  page.step({ type: "closed", random: 0, unsent: [] });
  // Each in the room shown when it was typed.
  assert.deepEqual([...unsent(page, "#lobby"), ...unsent(page, "#dev")], [
    "! Perhaps not sent: /msg bob one (disconnected before an answer)",
    "! Perhaps not sent: /msg bob two (disconnected before an answer)",
  ]);
});

Deno.test("reduce() takes the members of a room the page asked itself for the answer to its /who, not to a typed line", () => {
  const page = FakePage.inRooms();
  page.step({ type: "room", room: "#qa", key: "", focus: true });
  page.line("@seq=6;time=2026-12-07T19:00:01.000Z #qa JOIN ann 1");
  page.line("CURRENT #qa");
  assert.equal(page.sent.at(-1), "#qa /who");
  say(page, "/msg bob hi", 1);
  page.line("#qa WHO 1 ann");
  assert.equal(page.state.typed.length, 1);
  page.step({ type: "closed", random: 0, unsent: [] });
  assert.deepEqual(unsent(page, "#qa"), [
    "! Perhaps not sent: /msg bob hi (disconnected before an answer)",
  ]);
});

Deno.test("reduce() never shows a password typed as /pass again, when the socket closed before its answer", () => {
  const page = FakePage.inRooms();
  say(page, "/pass s3cret", 1);
  page.step({ type: "closed", random: 0, unsent: [] });
  const told = unsent(page);
  assert.equal(told.length, 1, told.join("\n"));
  assert.doesNotMatch(told[0]!, /s3cret/);
  assert.match(told[0]!, /\/pass/);
});
