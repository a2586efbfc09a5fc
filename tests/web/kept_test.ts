/**
 * Tests of the user's lines kept across a reload (web/kept.js through
 * web/session.js and web/state.js's reducer) without a browser: the
 * outbox in the session, put back greyed by the reloaded page and sent
 * again under its ids once its room is back, only under the alias that
 * typed it; a whisper typed while reconnecting sent once; a whisper sent
 * and not answered told as perhaps not sent; bounds; nothing kept after
 * `/quit`; and a line in doubt after a rename never sent under the new
 * alias.
 */

import assert from "node:assert/strict";
import { lineId } from "../../web/protocol.js";
import { KEPT_CHARS, KEPT_LINES, keptOf, parseKept } from "../../web/kept.js";
import { parseSession, type Session } from "../../web/session.js";
import { FakePage } from "./_fake_page.ts";

const CAPS = "caps=ids+rooms+seq+resume";
const T = "time=2026-01-01T00:00:00.000Z";
const TOKEN = "abcdefghijklmnopqrstuv";

/** Ids as app.js makes them, numbered. */
function idOf(n: number): string {
  return lineId(new Uint8Array(16).fill(n));
}

/** A guest page as gus in #lobby (10 seen), with a token. */
function guestPage(): FakePage {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("CAP ids rooms seq resume");
  page.step({ type: "join", alias: "gus", password: "" });
  page.line("WELCOME gus 2 Type /help for commands");
  page.line(`@seq=10;${T} #lobby JOIN gus 2`);
  page.line("CURRENT #lobby");
  page.line(`RESUME ${TOKEN} 30 Resume within 30 s`);
  return page;
}

/** Types a line with id number `n`. */
function say(page: FakePage, text: string, n: number): void {
  page.step({ type: "say", text, now: page.now, id: idOf(n) });
}

/** The session a page last asked to keep. */
function sessionOf(page: FakePage): Session {
  const session = parseSession(page.kept.at(-1) ?? null);
  assert.ok(session !== null, "a session kept");
  return session;
}

/** A page reloaded from `session`, greeted, resuming. */
function reloaded(session: Session): FakePage {
  const page = new FakePage();
  page.step({ type: "restore", session });
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("CAP ids rooms seq resume");
  return page;
}

/** The entries of the room shown as `class: text`. */
function entries(page: FakePage): string[] {
  return page.log.map((entry) =>
    `${entry.className}: ${entry.parts.map((p) => p.text).join("")}`
  );
}

Deno.test("reduce() keeps the lines not answered in the session, and a reloaded page shows them greyed and sends them again under their ids once its room is caught up, each shown once", () => {
  const before = guestPage();
  say(before, "never left", 1);
  say(before, "stored, echo lost", 2);
  const session = sessionOf(before);
  assert.deepEqual(session.lines, [
    {
      id: idOf(1),
      room: "#lobby",
      text: "never left",
      alias: "gus",
      doubt: true,
    },
    {
      id: idOf(2),
      room: "#lobby",
      text: "stored, echo lost",
      alias: "gus",
      doubt: true,
    },
  ]);
  const page = reloaded(session);
  assert.deepEqual(entries(page).filter((e) => e.startsWith("pending")), [
    "pending: gus never left",
    "pending: gus stored, echo lost",
  ]);
  page.line("WELCOME gus 2 Welcome back");
  assert.ok(!page.sent.some((l) => l.startsWith("@id=")), "not before");
  // The catch-up: the second line was stored before the reload.
  page.line(`@seq=11;${T} #lobby MSG gus stored, echo lost`);
  page.line("#lobby RESUMED 11 0 Resumed: 1 line you missed");
  page.line("CURRENT #lobby");
  assert.deepEqual(page.sent.filter((l) => l.startsWith("@id=")), [
    `@id=${idOf(1)} #lobby never left`,
    `@id=${idOf(2)} #lobby stored, echo lost`,
  ]);
  page.line(`@id=${idOf(1)};seq=12;${T} #lobby MSG gus never left`);
  page.line(`@id=${idOf(2)};seq=11;${T} #lobby MSG gus stored, echo lost`);
  assert.deepEqual(page.shown().filter((t) => t.startsWith("gus ")), [
    "gus stored, echo lost",
    "gus never left",
  ]);
  assert.deepEqual(page.state.outbox, []);
  assert.equal(sessionOf(page).lines, undefined, "nothing left to keep");
});

Deno.test("reduce() never sends a reloaded page's lines under another alias: told not sent, with their text", () => {
  const before = guestPage();
  say(before, "from gus", 1);
  const page = reloaded(sessionOf(before));
  page.line("ERR resume-expired Your session ended; choose your alias again");
  page.line("ERR alias-taken Cannot join: alias gus is taken");
  page.step({ type: "join", alias: "carol", password: "" });
  page.line("WELCOME carol 2 Type /help for commands");
  page.line(`@seq=20;${T} #lobby JOIN carol 2`);
  page.line("CURRENT #lobby");
  assert.ok(!page.sent.some((l) => l.includes("from gus")), page.sent.join());
  assert.ok(
    page.shown().includes(
      "! Perhaps not sent: from gus (typed as gus, you are carol now)",
    ),
    page.shown().join("\n"),
  );
  assert.deepEqual(page.state.outbox, []);
});

Deno.test("reduce() forgets the lines kept on /quit", () => {
  const page = guestPage();
  say(page, "unanswered", 1);
  assert.equal(sessionOf(page).lines?.length, 1);
  page.step({ type: "say", text: "/quit bye", now: page.now, id: idOf(2) });
  assert.equal(page.kept.at(-1), "");
});

Deno.test("reduce() keeps a whisper typed while reconnecting across a reload and sends it once; one sent without an answer is told after the reload as perhaps not sent", () => {
  const before = guestPage();
  before.step({ type: "say", text: "/msg bob on its way", now: before.now });
  before.step({ type: "say", text: "/pass s3cret", now: before.now });
  assert.doesNotMatch(before.kept.at(-1) ?? "", /s3cret/, "no password");
  // Reloaded now: the whisper left, its answer not come.
  const open = sessionOf(before);
  assert.deepEqual(open.asked, [{
    room: "#lobby",
    text: "/msg bob on its way",
  }]);
  const told = reloaded(open);
  assert.ok(
    told.shown().includes(
      "! Perhaps not sent: /msg bob on its way (the page was reloaded before an answer)",
    ),
    told.shown().join("\n"),
  );
  told.line("WELCOME gus 2 Welcome back");
  told.line("#lobby RESUMED 10 0 Caught up");
  told.line("CURRENT #lobby");
  assert.ok(!told.sent.some((l) => l.includes("/msg")), "never again");
  // Dropped first (told then), then a whisper typed while away, then reloaded.
  before.step({ type: "closed", random: 0 });
  say(before, "/msg bob typed away", 1);
  const page = reloaded(sessionOf(before));
  assert.deepEqual(entries(page).filter((e) => e.startsWith("pending")), [
    "pending: gus /msg bob typed away",
  ]);
  page.line("WELCOME gus 2 Welcome back");
  page.line("#lobby RESUMED 10 0 Caught up");
  page.line("CURRENT #lobby");
  assert.deepEqual(
    page.sent.filter((l) => l.includes("/msg")),
    ["#lobby /msg bob typed away"],
  );
  // Sent: kept as any line without an id, never sent again.
  assert.equal(sessionOf(page).lines, undefined);
  assert.deepEqual(sessionOf(page).asked, [{
    room: "#lobby",
    text: "/msg bob typed away",
  }]);
});

Deno.test("keptOf() keeps at most KEPT_LINES lines and KEPT_CHARS characters, the oldest, and counts the others; a reloaded page tells them", () => {
  const page = guestPage();
  page.step({ type: "closed", random: 0 });
  for (let i = 0; i < KEPT_LINES + 5; i++) say(page, `line ${i}`, i % 250);
  const many = keptOf(page.state);
  assert.equal(many.lines.length, KEPT_LINES);
  assert.equal(many.lines[0]?.text, "line 0");
  assert.equal(many.unkept, 5);
  const long = guestPage();
  long.step({ type: "closed", random: 0 });
  const text = "x".repeat(7999);
  const fit = Math.floor(KEPT_CHARS / 8000);
  for (let i = 0; i <= fit; i++) say(long, `${i}${text}`, i);
  assert.equal(keptOf(long.state).lines.length, fit);
  assert.equal(keptOf(long.state).unkept, 1);
  const restored = reloaded(sessionOf(long));
  assert.ok(
    restored.shown().includes(
      "! Not sent: 1 more lines typed before the reload (too many to keep)",
    ),
    restored.shown().join("\n"),
  );
});

Deno.test("parseKept() takes only sound lines: each other one is dropped and counted", () => {
  const sound = {
    id: idOf(1),
    room: "#lobby",
    text: "hello",
    alias: "gus",
    doubt: true,
  };
  assert.deepEqual(parseKept([sound], 0, []), {
    lines: [sound],
    unkept: 0,
    asked: [],
  });
  const broken = [
    { ...sound, text: "hello\n/quit" },
    { ...sound, text: "/op mallory" },
    { ...sound, text: "" },
    { ...sound, id: "short" },
    { ...sound, room: "#Lobby /kick bob" },
    { ...sound, alias: "gus bob" },
    { ...sound, doubt: "yes" },
    null,
    "hello",
  ];
  const parsed = parseKept([...broken, sound], 2, [
    { room: "#lobby", text: "/msg bob hi" },
    { room: "#lobby", text: "/msg bob hi\r\n/quit" },
    { room: "#lobby", text: "/PASS s3cret" },
  ]);
  assert.deepEqual(parsed.lines, [sound]);
  assert.equal(parsed.unkept, broken.length + 2);
  assert.deepEqual(parsed.asked, [{ room: "#lobby", text: "/msg bob hi" }]);
  assert.deepEqual(parseKept("nope", -1, {}), {
    lines: [],
    unkept: 0,
    asked: [],
  });
});

Deno.test("reduce() ends a reconnecting page on /quit: no reconnect, each line waiting told, the lines kept forgotten", () => {
  const page = guestPage();
  say(page, "on its way", 1);
  page.step({ type: "closed", random: 0 });
  say(page, "typed away", 2);
  assert.equal(sessionOf(page).lines?.length, 2);
  const quit = page.step({
    type: "say",
    text: "/quit",
    now: page.now,
    id: idOf(3),
  });
  assert.equal(quit.effects.hangUp, true);
  assert.equal(quit.effects.clearMessage, true);
  assert.equal(page.kept.at(-1), "", "forgotten");
  assert.deepEqual(page.state.outbox, []);
  assert.equal(page.state.status.text, "Disconnected");
  assert.deepEqual(page.shown().filter((t) => t.startsWith("!")), [
    "! Perhaps not sent: on its way (disconnected)",
    "! Not sent: typed away (disconnected)",
  ]);
});
