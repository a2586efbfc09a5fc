/**
 * Tests of the page's outbox (web/outbox.js through web/state.js's
 * reducer) without a browser: the user's messages and `/me` lines go with
 * ids, shown greyed until their echo, sent again under the same ids after
 * a reconnect once their room is back (never before its rejoin and
 * catch-up), shown once when the catch-up already holds one, and shown
 * as not sent, text kept, when refused.
 */

import assert from "node:assert/strict";
import { isLineId, tagLine } from "../../lib/protocol.ts";
import { lineId, tagLine as pageTagLine } from "../../web/protocol.js";
import { FakePage } from "./_fake_page.ts";

const CAPS = "caps=ids+rooms+seq+resume";
const T = "time=2026-01-01T00:00:00.000Z";

/** Ids as app.js makes them, numbered: `id` 0, 1, ... */
function idOf(n: number): string {
  return lineId(new Uint8Array(16).fill(n));
}

/** A rooms page in #lobby on a server with ids, seq and resume. */
function page(): FakePage {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("CAP ids rooms seq resume");
  page.step({ type: "join", alias: "ann", password: "" });
  page.line("WELCOME ann 2 Type /help for commands");
  page.line(`@seq=10;${T} #lobby JOIN ann 2`);
  page.line("CURRENT #lobby");
  page.line("RESUME abcdefghijklmnopqrstuv 30 Resume within 30 s");
  return page;
}

/** Types a line with id number `n`. */
function say(page: FakePage, text: string, n: number): void {
  page.step({ type: "say", text, now: page.now, id: idOf(n) });
}

/** The entries of the room shown as `class: text`. */
function entries(page: FakePage): string[] {
  return page.log.map((entry) =>
    `${entry.className}: ${entry.parts.map((p) => p.text).join("")}`
  );
}

Deno.test("lineId() makes the ids lib/client/pending.ts makes, and tagLine() puts them as lib/protocol.ts does", () => {
  const bytes = new Uint8Array(16).map((_, i) => i * 17 + 250);
  const id = lineId(bytes);
  assert.equal(
    id,
    bytes.toBase64({ alphabet: "base64url", omitPadding: true }),
  );
  assert.equal(id.length, 22);
  assert.ok(isLineId(id));
  assert.equal(pageTagLine(id, "#ops hi"), tagLine(id, "#ops hi"));
});

Deno.test("reduce() sends a message and a /me with ids, shows each greyed until its echo, then once, where the echo comes", () => {
  const p = page();
  say(p, "hello all", 1);
  say(p, "/me waves", 2);
  say(p, "/who", 3);
  assert.deepEqual(p.sent.slice(-3), [
    `@id=${idOf(1)} #lobby hello all`,
    `@id=${idOf(2)} #lobby /me waves`,
    "#lobby /who",
  ]);
  assert.equal(p.state.effects.clearMessage, true);
  assert.deepEqual(entries(p).slice(-2), [
    "pending: ann hello all",
    "pending: ann /me waves",
  ]);
  p.line(`@seq=11;${T} #lobby MSG bob in between`);
  p.line(`@id=${idOf(1)};seq=12;${T} #lobby MSG ann hello all`);
  p.line(`@id=${idOf(2)};seq=13;${T} #lobby ME ann waves`);
  assert.deepEqual(entries(p).slice(-3), [
    "message: bob in between",
    "message: ann hello all",
    "action: * ann waves",
  ]);
  assert.deepEqual(p.state.outbox, []);
  // An echo of an id answered already (sent again after ERR unknown).
  p.line(`@id=${idOf(1)} #lobby MSG ann hello all`);
  assert.equal(p.shown().filter((t) => t === "ann hello all").length, 1);
});

Deno.test("reduce() keeps the lines not answered when the socket closes and sends them again under their ids once their room is rejoined, after lines typed before them", () => {
  const p = page();
  say(p, "one", 1);
  say(p, "two", 2);
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  const from = p.sent.length;
  // Without resume this time (the server restarted without it).
  p.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms,epoch=E2 Hi");
  p.line("CAP ids rooms");
  p.line("WELCOME ann 2 Type /help for commands");
  say(p, "three", 3);
  assert.deepEqual(p.sent.slice(from), [
    "/cap ids rooms",
    "ann",
    "/join #lobby",
  ], "nothing before the room is rejoined");
  assert.deepEqual(
    entries(p).filter((e) => e.startsWith("pending")),
    ["pending: ann one", "pending: ann two", "pending: ann three"],
  );
  p.line("#lobby JOIN ann 2");
  assert.deepEqual(p.sent.slice(from + 3).filter((l) => l.startsWith("@")), [
    `@id=${idOf(1)} #lobby one`,
    `@id=${idOf(2)} #lobby two`,
    `@id=${idOf(3)} #lobby three`,
  ]);
  p.line("#lobby HIST 1 2026-01-01T00:00:00Z MSG bob earlier");
  p.line("#lobby HISTEND 1 End of history");
  p.line("CURRENT #lobby");
  // "one" had been stored: the server's window of ids answers its echo.
  p.line(`@id=${idOf(1)} #lobby MSG ann one`);
  p.line(`@id=${idOf(2)} #lobby MSG ann two`);
  p.line(`@id=${idOf(3)} #lobby MSG ann three`);
  assert.deepEqual(p.shown().filter((t) => /^ann /.test(t)), [
    "ann one",
    "ann two",
    "ann three",
  ]);
  assert.equal(p.sent.filter((l) => l.endsWith(" #lobby one")).length, 2);
  assert.deepEqual(p.state.outbox, []);
});

Deno.test("reduce() waits for a resumed room's catch-up before sending again; a line the catch-up shows is shown once, its second echo not", () => {
  const p = page();
  say(p, "stored", 1);
  say(p, "lost", 2);
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  const from = p.sent.length;
  p.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  p.line("CAP ids rooms seq resume");
  p.line("WELCOME ann 2 Type /help for commands");
  assert.equal(p.sent.at(-1), "/join #lobby");
  // The takeover's catch-up: "stored" was stored, its echo lost.
  p.line(`@seq=11;${T} #lobby MSG ann stored`);
  p.line("#lobby RESUMED 11 0 Caught up");
  assert.ok(!p.sent.slice(from).some((l) => l.startsWith("@id=")));
  p.line("CURRENT #lobby");
  assert.deepEqual(p.sent.slice(from + 3), [
    `@id=${idOf(1)} #lobby stored`,
    `@id=${idOf(2)} #lobby lost`,
  ]);
  assert.deepEqual(
    entries(p).filter((e) => /stored|lost/.test(e)),
    ["message: ann stored", "pending: ann lost"],
  );
  // The echo of a resend is the line's first echo, numbered as stored.
  p.line(`@id=${idOf(1)};seq=11;${T} #lobby MSG ann stored`);
  p.line(`@id=${idOf(2)};seq=12;${T} #lobby MSG ann lost`);
  assert.deepEqual(
    entries(p).filter((e) => /stored|lost/.test(e)),
    ["message: ann stored", "message: ann lost"],
  );
});

/** `p` back on a resumed session: `catchUp` lines, then `RESUMED` and `CURRENT`. */
function resumedWith(p: FakePage, catchUp: string[]): void {
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  p.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  p.line("CAP ids rooms seq resume");
  p.line("WELCOME ann 2 Type /help for commands");
  for (const line of catchUp) p.line(line);
  p.line("#lobby RESUMED 11 0 Caught up");
  p.line("CURRENT #lobby");
}

Deno.test("reduce() shows a line once when the catch-up shows it as the server stored it, not as typed (an invisible character, /ME, two spaces)", () => {
  const p = page();
  // Typed with a zero-width space (pasted), a command in capitals, two
  // spaces: the server stores "paypal", "ME ann waves", "ME ann nods".
  say(p, "pay\u200Bpal", 1);
  say(p, "/ME waves", 2);
  say(p, "/me  nods", 3);
  resumedWith(p, [
    `@seq=11;${T} #lobby MSG ann paypal`,
    `@seq=12;${T} #lobby ME ann waves`,
    `@seq=13;${T} #lobby ME ann nods`,
  ]);
  assert.equal(p.sent.filter((l) => l.startsWith("@id=")).length, 6);
  // Each resend's echo again, numbered as first stored.
  p.line(`@id=${idOf(1)};seq=11;${T} #lobby MSG ann paypal`);
  p.line(`@id=${idOf(2)};seq=12;${T} #lobby ME ann waves`);
  p.line(`@id=${idOf(3)};seq=13;${T} #lobby ME ann nods`);
  assert.deepEqual(
    entries(p).filter((e) => /paypal|waves|nods/.test(e)),
    ["message: ann paypal", "action: * ann waves", "action: * ann nods"],
  );
  assert.deepEqual(p.state.outbox, []);
});

Deno.test("reduce() shows the echo of a resend stored anew though the catch-up showed a line of the same alias and text, numbered otherwise", () => {
  const p = page();
  say(p, "hi", 1);
  // "ann hi" numbered 11 is not this line (another device of the account,
  // or the alias's holder before): this one was not stored, and is now 12.
  resumedWith(p, [`@seq=11;${T} #lobby MSG ann hi`]);
  p.line(`@id=${idOf(1)};seq=12;${T} #lobby MSG ann hi`);
  assert.deepEqual(entries(p).filter((e) => e.endsWith(" hi")), [
    "message: ann hi",
    "message: ann hi",
  ]);
  assert.deepEqual(p.state.outbox, []);
});

Deno.test("reduce() shows the echo of a resend numbered as a line of the log before its numbering started over (a new epoch)", () => {
  const p = page();
  p.line(`@seq=12;${T} #lobby MSG bob numbered 12 in epoch E1`);
  say(p, "mine", 1);
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  // The server lost its log: a new epoch, numbers from 1 again.
  p.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms+seq,epoch=E2 Hi");
  p.line("CAP ids rooms seq");
  p.line("WELCOME ann 2 Type /help for commands");
  p.line(`@seq=11;${T} #lobby JOIN ann 2`);
  p.line("CURRENT #lobby");
  assert.equal(p.sent.at(-1), `@id=${idOf(1)} #lobby mine`);
  p.line(`@id=${idOf(1)};seq=12;${T} #lobby MSG ann mine`);
  assert.deepEqual(entries(p).filter((e) => /bob numbered|ann mine/.test(e)), [
    "message: bob numbered 12 in epoch E1",
    "message: ann mine",
  ]);
});

Deno.test("reduce() shows a resent line whose echo again is numbered below the page's rejoin, in its room, once", () => {
  const p = page();
  p.step({ type: "room", room: "#ops", key: "", focus: true });
  p.line(`@seq=20;${T} #ops JOIN ann 1`);
  p.line("CURRENT #ops");
  say(p, "cut 0", 1);
  // Stored as 21, its echo lost with the socket.
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  // A new session (a server that does not resume): no catch-up shows it.
  p.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms+seq,epoch=E1 Hi");
  p.line("CAP ids rooms seq");
  p.line("WELCOME ann 2 Type /help for commands");
  p.line(`@seq=30;${T} #lobby JOIN ann 2`);
  p.line(`@seq=31;${T} #ops JOIN ann 1`);
  p.line("CURRENT #ops");
  assert.equal(p.sent.at(-1), `@id=${idOf(1)} #ops cut 0`);
  p.line(`@id=${idOf(1)};seq=21;${T} #ops MSG ann cut 0`);
  assert.deepEqual(entries(p).filter((e) => e.endsWith("cut 0")), [
    "message: ann cut 0",
  ]);
  assert.deepEqual(p.state.outbox, []);
});

Deno.test("reduce() shows a line the server refuses as not sent, with the reason and its text; ERR unknown sends it once more under its id", () => {
  const p = page();
  say(p, "muted words", 1);
  say(p, "in doubt", 2);
  p.line(`@id=${idOf(1)} ERR muted You are muted`);
  p.line(`@id=${idOf(2)} ERR unknown Perhaps not sent: the log did not answer`);
  assert.equal(p.sent.at(-1), `@id=${idOf(2)} #lobby in doubt`);
  p.line(`@id=${idOf(2)} ERR unknown Perhaps not sent: the log did not answer`);
  assert.deepEqual(entries(p).slice(-2), [
    "unsent error-line: ! Not sent: muted words (You are muted)",
    "unsent error-line: ! Perhaps not sent: in doubt (the log did not answer)",
  ]);
  assert.deepEqual(p.state.outbox, []);
  say(p, "unavailable", 3);
  p.line(`@id=${idOf(3)} ERR unavailable Not sent: the room's log is away`);
  assert.equal(
    entries(p).at(-1),
    "unsent error-line: ! Not sent: unavailable (the room's log is away)",
  );
});

Deno.test("reduce() says a line waiting for a room it was refused at the rejoin was not sent: perhaps, when it was on its way", () => {
  const p = page();
  p.step({ type: "room", room: "#ops", key: "", focus: true });
  p.line(`@seq=20;${T} #ops JOIN ann 1`);
  p.line("CURRENT #ops");
  say(p, "for ops", 1);
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  p.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms,epoch=E2 Hi");
  p.line("CAP ids rooms");
  p.line("WELCOME ann 2 Type /help for commands");
  say(p, "typed while rejoining", 2); // waits for #ops, never sent
  p.line("#lobby JOIN ann 2");
  p.line("CURRENT #lobby");
  p.line("ERR room-banned You are banned from #ops");
  assert.equal(p.sent.filter((l) => l.endsWith("#ops for ops")).length, 1);
  assert.equal(p.state.outbox.length, 0);
  // Sent before the drop: perhaps stored, and seen in #ops.
  assert.ok(
    p.shown().some((t) =>
      t.includes("! Perhaps not sent: for ops (you are not in #ops)")
    ),
    p.shown().join("\n"),
  );
  assert.ok(
    p.shown().some((t) =>
      t.includes("Not sent: typed while rejoining (you are not in #ops)")
    ),
    p.shown().join("\n"),
  );
});

Deno.test("reduce() says which lines did not go when the page is sent away: perhaps stored when on their way", () => {
  const p = page();
  say(p, "on its way", 1);
  p.line("BYE kicked Disconnected: you were kicked by op");
  p.step({ type: "closed", random: 0 });
  assert.equal(p.state.effects.reconnectInMs, null);
  assert.deepEqual(p.state.outbox, []);
  assert.ok(
    p.shown().includes(
      "! Perhaps not sent: on its way (disconnected)",
    ),
    p.shown().join("\n"),
  );
});

Deno.test("reduce() sends lines as before to a server without ids", () => {
  const p = FakePage.inRooms("ann");
  // Without ids: no id, nothing kept.
  const q = new FakePage();
  q.step({ type: "connect", retry: false });
  q.line("HELLO tlschat/1 chat rate=5,caps=rooms Hi");
  q.line("CAP rooms");
  q.step({ type: "join", alias: "ann", password: "" });
  q.line("WELCOME ann 2 Hi");
  q.line("#lobby JOIN ann 2");
  q.line("CURRENT #lobby");
  say(q, "plain", 1);
  assert.equal(q.sent.at(-1), "#lobby plain");
  assert.equal(q.state.outbox.length, 0);
  say(p, "tagged", 2);
  assert.equal(p.sent.at(-1), `@id=${idOf(2)} #lobby tagged`);
});

Deno.test("reduce() puts a message and a whisper typed while reconnecting in the outbox, greyed, sent in order once its room is back (the whisper once, without an id); another command typed then stays in the box", () => {
  const p = page();
  say(p, "before the cut", 1);
  p.step({ type: "closed", random: 0 });
  const from = p.sent.length;
  const away = p.step({
    type: "say",
    text: "while away",
    now: p.now,
    id: idOf(2),
  });
  assert.equal(away.effects.clearMessage, true, "taken from the box");
  p.step({ type: "connect", retry: true });
  // Before the greeting: a line sent now would be taken for the alias.
  say(p, "/me is back soon", 3);
  const whisper = p.step({
    type: "say",
    text: "/msg bob psst",
    now: p.now,
    id: idOf(4),
  });
  assert.equal(whisper.effects.clearMessage, true, "a whisper: waits");
  const command = p.step({
    type: "say",
    text: "/topic later",
    now: p.now,
    id: idOf(5),
  });
  assert.equal(command.effects.clearMessage, false, "a command: kept");
  // Told before the lines waiting, which stay last.
  assert.equal(
    p.shown().at(-5),
    "! Not sent: not connected; your line is kept in the box, send it again once connected",
  );
  assert.deepEqual(p.sent.slice(from), [], "nothing sent while away");
  assert.deepEqual(entries(p).filter((e) => e.startsWith("pending")), [
    "pending: ann before the cut",
    "pending: ann while away",
    "pending: ann /me is back soon",
    "pending: ann /msg bob psst",
  ]);
  p.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  p.line("CAP ids rooms seq resume");
  p.line("WELCOME ann 2 Type /help for commands");
  p.line("#lobby RESUMED 10 0 Caught up");
  p.line("CURRENT #lobby");
  assert.deepEqual(p.sent.slice(-4), [
    `@id=${idOf(1)} #lobby before the cut`,
    `@id=${idOf(2)} #lobby while away`,
    `@id=${idOf(3)} #lobby /me is back soon`,
    "#lobby /msg bob psst",
  ]);
  // The whisper left the outbox for typed.js: never sent again.
  assert.deepEqual(p.state.outbox.map((o) => o.text), [
    "before the cut",
    "while away",
    "/me is back soon",
  ]);
  assert.deepEqual(p.state.typed.map((t) => t.text), ["/msg bob psst"]);
  p.line(`@id=${idOf(2)};seq=11;${T} #lobby MSG ann while away`);
  assert.ok(p.shown().includes("ann while away"));
  p.line("SENT bob psst");
  assert.deepEqual(p.state.typed, []);
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  p.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  p.line("CAP ids rooms seq resume");
  p.line("WELCOME ann 2 Type /help for commands");
  p.line("#lobby RESUMED 11 0 Caught up");
  p.line("CURRENT #lobby");
  assert.equal(p.sent.filter((l) => l.endsWith("/msg bob psst")).length, 1);
});

Deno.test("reduce() keeps a message typed while disconnected for good (/quit, a kick) in the box: no reconnect would send it", () => {
  const p = page();
  p.line("BYE kicked Disconnected: you were kicked by op");
  p.step({ type: "closed", random: 0 });
  const typed = p.step({
    type: "say",
    text: "hello?",
    now: p.now,
    id: idOf(1),
  });
  assert.equal(typed.effects.clearMessage, false, "kept in the box");
  assert.deepEqual(p.state.outbox, []);
});

Deno.test("reduce() never sends a line in doubt again after a rename: told perhaps not sent, or shown once when the catch-up shows it stored", () => {
  for (const stored of [false, true]) {
    const p = page();
    say(p, "before the rename", 1);
    p.step({ type: "say", text: "/nick ann2", now: p.now });
    p.line(`@seq=11;${T} #lobby NICK ann ann2`);
    p.step({ type: "closed", random: 0 });
    p.step({ type: "connect", retry: true });
    p.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
    p.line("CAP ids rooms seq resume");
    p.line("WELCOME ann2 2 Welcome back");
    if (stored) p.line(`@seq=12;${T} #lobby MSG ann before the rename`);
    p.line(`#lobby RESUMED ${stored ? 12 : 11} 0 Caught up`);
    p.line("CURRENT #lobby");
    assert.equal(
      p.sent.filter((l) => l.includes("before the rename")).length,
      1,
      "sent once, as ann",
    );
    assert.deepEqual(p.state.outbox, []);
    const told = p.shown().filter((t) => t.includes("before the rename"));
    assert.deepEqual(
      told,
      stored ? ["ann before the rename"] : [
        "! Perhaps not sent: before the rename (typed as ann, you are ann2 now)",
      ],
    );
  }
});

Deno.test("reduce() keeps the greyed lines and the lines told not sent when a rejoin's history replaces the room's log", () => {
  const p = page();
  say(p, "waiting", 1);
  p.step({ type: "say", text: "/msg bob psst", now: p.now, id: idOf(2) });
  p.step({ type: "closed", random: 0 });
  p.step({ type: "connect", retry: true });
  // Past the grace: no resume; the room's history replaces its log.
  p.line("HELLO tlschat/1 chat rate=5,caps=ids+rooms,epoch=E2 Hi");
  p.line("CAP ids rooms");
  p.line("WELCOME ann 2 Type /help for commands");
  p.line("#lobby JOIN ann 2");
  p.line("#lobby HIST 1 2026-01-01T00:00:00Z MSG bob earlier");
  p.line("#lobby HISTEND 1 End of history");
  p.line("CURRENT #lobby");
  assert.deepEqual(
    entries(p).filter((e) => /pending|unsent/.test(e)),
    [
      "unsent error-line: ! Perhaps not sent: /msg bob psst (disconnected before an answer)",
      "pending: ann waiting",
    ],
  );
});
