/**
 * Tests of the page's resume, read markers and search (web/resume.js,
 * web/search.js through web/state.js's reducer) without a browser: tagged
 * lines, `/resume` on a reconnect, lines shown once, the caught-up lines
 * behind their divider, `RESUMED`'s missing count, an epoch change,
 * `READ` and `/read`, and search results.
 */

import assert from "node:assert/strict";
import { FakePage } from "./_fake_page.ts";

const CAPS = "caps=ids+rooms+seq+resume";

/** A rooms page in #lobby on a server with `seq` and `resume`. */
function resumingPage(epoch = "E1"): FakePage {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=${epoch} Hi`);
  page.line("CAP ids rooms seq resume");
  page.step({ type: "join", alias: "ann", password: "" });
  page.line("WELCOME ann 2 Type /help for commands");
  page.line("@seq=10;time=2026-01-01T00:00:00.000Z #lobby JOIN ann 2");
  page.line("CURRENT #lobby");
  page.line("RESUME abcdefghijklmnopqrstuv 30 Resume within 30 s");
  page.line("@seq=11;time=2026-01-01T00:00:01.000Z #lobby MSG bob one");
  page.line("@seq=12;time=2026-01-01T00:00:02.000Z #lobby MSG bob two");
  return page;
}

/** The page's socket closed and opened again, greeted anew. */
function reconnect(page: FakePage, epoch = "E1"): number {
  page.step({ type: "closed", random: 0 });
  page.step({ type: "connect", retry: true });
  const before = page.sent.length;
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=${epoch} Hi`);
  page.line("CAP ids rooms seq resume");
  return before;
}

Deno.test("reduce() asks for seq and resume, and shows a tagged line once, without its tags", () => {
  const page = resumingPage();
  assert.equal(page.sent[0], "/cap ids rooms seq resume");
  assert.equal(page.state.epoch, "E1");
  assert.equal(page.state.seqOn, true);
  assert.equal(page.state.token, "abcdefghijklmnopqrstuv");
  page.line("@seq=12;time=2026-01-01T00:00:02.000Z #lobby MSG bob two");
  page.line("@id=x1;seq=11;time=2026-01-01T00:00:01.000Z #lobby MSG bob one");
  assert.deepEqual(page.shown().slice(-3), [
    "ann joined",
    "bob one",
    "bob two",
  ]);
  assert.equal(page.state.rooms.get("#lobby")?.seq, 12);
});

Deno.test("reduce() resumes after a reconnect: /resume before the alias, the caught-up lines after a divider, nothing twice, a /history asked later added to the log", () => {
  const page = resumingPage();
  const before = reconnect(page);
  // A token: the alias waits for the answer.
  assert.deepEqual(page.sent.slice(before), [
    "/cap ids rooms seq resume",
    "/resume E1 #lobby=12 abcdefghijklmnopqrstuv",
  ]);
  assert.equal(page.state.phase, "resuming");
  page.line("ERR resume-expired Your session ended; choose your alias again");
  assert.equal(page.sent.at(-1), "ann");
  assert.equal(page.state.token, "", "a token is used once");
  page.line("WELCOME ann 2 Type /help for commands");
  assert.equal(page.sent.at(-1), "/join #lobby");
  page.line("@seq=20;time=2026-01-01T00:01:00.000Z #lobby JOIN ann 2");
  page.line("@seq=12;time=2026-01-01T00:00:02.000Z #lobby MSG bob two");
  page.line("@seq=13;time=2026-01-01T00:00:03.000Z #lobby MSG bob three");
  page.line("@seq=14;time=2026-01-01T00:00:04.000Z #lobby ME cat waves");
  assert.ok(!page.shown().includes("bob three"), "held until RESUMED");
  page.line("#lobby RESUMED 20 0 Caught up");
  page.line("CURRENT #lobby");
  assert.deepEqual(page.shown().slice(-6), [
    "bob two",
    "Reconnected",
    "2 new messages",
    "bob three",
    "* cat waves",
    "ann joined",
  ]);
  assert.equal(page.log.at(-4)?.className, "divider");
  // Live again: a line already shown is not shown again.
  page.line("@seq=13;time=2026-01-01T00:00:03.000Z #lobby MSG bob three");
  page.line("@seq=21;time=2026-01-01T00:01:01.000Z #lobby MSG bob live");
  assert.deepEqual(page.shown().slice(-2), ["ann joined", "bob live"]);
  // Caught up, the log goes on: a /history asked now is added to it.
  page.line("#lobby HIST 21 2026-01-01T00:01:01.000Z MSG bob live");
  page.line("#lobby HISTEND 1 End of history: 1 message");
  assert.ok(page.shown().includes("2 new messages"), page.shown().join("\n"));
  assert.deepEqual(page.shown().slice(-3), [
    "bob live",
    "bob live",
    "End of history: 1 message",
  ]);
});

Deno.test("reduce() says plainly how many lines a resume missed, or that it cannot know", () => {
  const page = resumingPage();
  reconnect(page);
  page.line("ERR resume-expired gone");
  page.line("WELCOME ann 2 hi");
  page.line("@seq=90;time=2026-01-01T00:01:00.000Z #lobby MSG bob kept");
  page.line("#lobby RESUMED 90 70 The log no longer holds 70 lines");
  assert.deepEqual(page.shown().slice(-3), [
    "70 lines missed",
    "1 new message",
    "bob kept",
  ]);
  // The server lost its numbering: history, then an unknown number missed,
  // and the numbers of the old epoch are forgotten.
  const before = reconnect(page, "E2");
  assert.deepEqual(page.sent.slice(before), [
    "/cap ids rooms seq resume",
    "/resume E1 #lobby=90",
    "ann",
  ]);
  assert.equal(page.state.epoch, "E2");
  assert.equal(page.state.rooms.get("#lobby")?.seq, 0);
  page.line("WELCOME ann 2 hi");
  page.line("@seq=3;time=2026-01-01T00:02:00.000Z #lobby JOIN ann 2");
  page.line("#lobby HIST 2 2026-01-01T00:01:00.000Z MSG bob anew");
  page.line("#lobby HISTEND 1 End of history");
  page.line("#lobby RESUMED - ? The log restarted");
  assert.deepEqual(page.shown(), [
    "ann joined",
    "bob anew",
    "End of history",
    "An unknown number of lines missed",
  ]);
  page.line("@seq=4;time=2026-01-01T00:02:01.000Z #lobby MSG bob four");
  assert.equal(page.shown().at(-1), "bob four", "a small number is new");
});

Deno.test("reduce() takes a held member over with its token: WELCOME at once, no alias sent", () => {
  const page = resumingPage();
  const before = reconnect(page);
  page.line("WELCOME ann 2 Welcome back");
  page.line("#lobby JOIN ann 2");
  page.line("@seq=13;time=2026-01-01T00:00:03.000Z #lobby MSG bob three");
  page.line("#lobby RESUMED 13 0 Caught up");
  page.line("CURRENT #lobby");
  page.line("RESUME zyxwvutsrqponmlkjihgfe 30 Resume within 30 s");
  assert.ok(!page.sent.slice(before).includes("ann"));
  assert.equal(page.state.phase, "joined");
  assert.equal(page.state.token, "zyxwvutsrqponmlkjihgfe");
  assert.deepEqual(page.shown().slice(-2), ["1 new message", "bob three"]);
});

Deno.test("reduce() sends /read a moment after lines are shown in a visible tab, and counts unread from READ markers", () => {
  const page = resumingPage();
  const shown = page.state;
  assert.equal(shown.readTimer, true);
  page.step({ type: "read" });
  assert.equal(page.sent.at(-1), "/read #lobby 12");
  // Hidden: nothing more to send.
  page.hidden = true;
  const hidden = page.line(
    "@seq=13;time=2026-01-01T00:00:03.000Z #lobby MSG bob hidden",
  );
  assert.equal(hidden.effects.readInMs, null);
  // Another room's lines are unread until another device reads them.
  page.hidden = false;
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  page.line("@seq=30;time=2026-01-01T00:00:05.000Z #ops JOIN ann 1");
  page.line("CURRENT #ops");
  page.step({ type: "room", room: "#lobby", key: "", focus: false });
  page.step({ type: "room", room: "#ops", key: "", focus: false });
  page.line("@seq=31;time=2026-01-01T00:00:06.000Z #lobby MSG bob a");
  page.line("@seq=32;time=2026-01-01T00:00:07.000Z #lobby MSG bob b");
  assert.equal(page.state.rooms.get("#lobby")?.unread, 2);
  page.line("#lobby READ 31");
  assert.equal(page.state.rooms.get("#lobby")?.unread, 1);
  page.step({ type: "read" });
  assert.equal(page.sent.at(-1), "/read #ops 30");
  assert.ok(!page.sent.includes("/read #lobby 32"), "not shown: not read");
});

Deno.test("reduce() sends no /read for a room held after the room log refused its rejoin, and sends it once the room is joined again", () => {
  const page = resumingPage();
  assert.equal(page.state.readTimer, true, "#lobby 12 shown, not sent");
  reconnect(page);
  page.line("ERR resume-expired Cannot resume: it expired");
  page.line("WELCOME ann 2 Type /help for commands");
  page.line("ERR unavailable Cannot join #lobby: /join #lobby again later");
  assert.equal(page.state.rooms.get("#lobby")?.held, true);
  page.step({ type: "read" });
  assert.ok(
    !page.sent.some((line) => line.startsWith("/read")),
    "not in it: the server would refuse",
  );
  assert.equal(page.state.readTimer, false, "no timer armed for it");
  page.line("@seq=13;time=2026-01-01T00:00:03.000Z #lobby JOIN ann 2");
  page.line("CURRENT #lobby");
  page.step({ type: "read" });
  assert.equal(page.sent.at(-1), "/read #lobby 13");
});

Deno.test("reduce() searches: /search sent, results kept as text, the count, and refusals", () => {
  const page = resumingPage();
  page.step({ type: "search", words: "  " });
  assert.ok(!page.sent.some((line) => line.startsWith("/search")));
  page.step({ type: "search", words: " deploy\n/quit  noon " });
  assert.equal(page.sent.at(-1), "/search deploy /quit noon");
  page.line(
    "FOUND #ops 41 2026-01-01T10:00:00.000Z MSG bob <img src=x onerror=alert(1)>",
  );
  page.line("FOUND #lobby 40 2026-01-01T09:00:00.000Z ME amy deploys");
  page.line("FOUNDEND 2 End of search: 2 lines");
  const { search } = page.state;
  assert.equal(search.open, true);
  assert.deepEqual(
    search.results.map((e) => e.parts.map((p) => p.text).join(" ")),
    // What was said is a part of its own, after the space.
    ["#ops bob   <img src=x onerror=alert(1)>", "#lobby *  amy   deploys"],
  );
  assert.equal(search.results[1]?.className, "found action");
  // The count once, not again as the server's "End of search: 2 lines".
  assert.equal(search.status.text, "2 messages found for “deploy /quit noon”");
  assert.deepEqual(page.shown().slice(-1), ["bob two"], "not in the log");
  page.step({ type: "search", words: "again" });
  page.line("ERR search-limit Too many searches; wait a minute");
  assert.deepEqual(page.state.search.status, {
    text: "! Too many searches; wait a minute",
    warn: true,
  });
  page.step({ type: "search", words: "deploy" });
  page.line("FOUNDEND 50 End of search: 50 lines (the newest 50)");
  assert.equal(
    page.state.search.status.text,
    "50 messages found for “deploy” (the newest 50)",
  );
  page.step({ type: "close-search" });
  assert.equal(page.state.search.open, false);
});

Deno.test("reduce() shows what a room held when its join sequence ends without RESUMED, and when the socket closes", () => {
  const page = resumingPage();
  reconnect(page);
  page.line("ERR resume-expired gone");
  page.line("WELCOME ann 2 hi");
  page.line("@seq=20;time=2026-01-01T00:01:00.000Z #lobby JOIN ann 2");
  page.line("@seq=13;time=2026-01-01T00:00:03.000Z #lobby MSG bob three");
  page.line("CURRENT #lobby");
  assert.deepEqual(page.shown().slice(-3), [
    "1 new message",
    "bob three",
    "ann joined",
  ]);
  assert.equal(page.state.rooms.get("#lobby")?.catchUp, null);
  reconnect(page);
  page.line("ERR resume-expired gone");
  page.line("WELCOME ann 2 hi");
  page.line("@seq=21;time=2026-01-01T00:02:00.000Z #lobby MSG bob four");
  page.step({ type: "closed", random: 0 });
  assert.deepEqual(page.shown().slice(-2), ["1 new message", "bob four"]);
});

/** A fresh page (no position kept) logged into an account on `rooms`. */
function freshAccountPage(): FakePage {
  const page = new FakePage();
  page.step({ type: "connect", retry: false });
  page.line(`HELLO tlschat/1 chat rate=5,${CAPS},epoch=E1 Hi`);
  page.line("CAP ids rooms seq resume");
  page.step({ type: "join", alias: "ann", password: "" });
  page.line(
    'PASSWORD account "ann" is a registered alias: send /pass PASSWORD',
  );
  page.step({ type: "join", alias: "ann", password: "ann's password" });
  page.line("WELCOME ann 2 Type /help for commands");
  return page;
}

Deno.test("reduce() shows the catch-up a first login gets from the account's read marker: the lines below its own JOIN, once, in order, after a divider", () => {
  const page = freshAccountPage();
  assert.ok(!page.sent.some((line) => line.startsWith("/resume")));
  // The server's order: the member's own JOIN (61), then what was said
  // since the marker (57-60, its own past leaving among it), RESUMED.
  page.line("@seq=61;time=2026-01-01T01:00:00.000Z #lobby JOIN ann 2");
  page.line("#lobby TOPIC bob Deploys at noon");
  page.line("@seq=57;time=2026-01-01T00:57:00.000Z #lobby MSG bob one");
  page.line("@seq=58;time=2026-01-01T00:58:00.000Z #lobby ME bob waves");
  page.line(
    "@seq=59;time=2026-01-01T00:59:00.000Z #lobby LEAVE ann 1 disconnect",
  );
  page.line("@seq=60;time=2026-01-01T00:59:30.000Z #lobby MSG bob two");
  page.line("#lobby RESUMED 60 0 Resumed: 4 lines you missed");
  page.line("#lobby READ 56");
  page.line("CURRENT #lobby");
  assert.deepEqual(page.roomList(), ["#lobby"], "its past leaving is past");
  assert.deepEqual(page.shown().slice(1), [
    "Topic: Deploys at noon (set by bob)",
    "3 new messages",
    "bob one",
    "* bob waves",
    "ann disconnected",
    "bob two",
    "ann joined",
  ]);
  assert.equal(page.log.at(2)?.className, "divider");
  const lobby = page.state.rooms.get("#lobby");
  assert.equal(lobby?.seq, 61);
  assert.equal(lobby?.readSeq, 56);
  // Shown in a visible tab: read up to the JOIN, not before the lines were.
  page.step({ type: "read" });
  assert.equal(page.sent.at(-1), "/read #lobby 61");
  // Live again: nothing twice.
  page.line("@seq=60;time=2026-01-01T00:59:30.000Z #lobby MSG bob two");
  page.line("@seq=62;time=2026-01-01T01:00:01.000Z #lobby MSG bob live");
  assert.deepEqual(page.shown().slice(-2), ["ann joined", "bob live"]);
});

Deno.test("reduce() holds the catch-up from the read marker of a room joined later, counted unread while another room is shown", () => {
  const page = freshAccountPage();
  page.line("@seq=61;time=2026-01-01T01:00:00.000Z #lobby JOIN ann 2");
  page.line("CURRENT #lobby");
  assert.deepEqual(page.shown().slice(1), ["ann joined"]);
  // The account's other room, rejoined at login: a catch-up from its mark.
  page.line("@seq=62;time=2026-01-01T01:00:00.000Z #ops JOIN ann 2");
  page.line("@seq=40;time=2026-01-01T00:40:00.000Z #ops MSG bob ops one");
  page.line("@seq=41;time=2026-01-01T00:41:00.000Z #ops MSG bob ops two");
  page.line("#ops RESUMED 41 0 Resumed: 2 lines you missed");
  page.line("#ops READ 39");
  page.line("CURRENT #lobby");
  assert.deepEqual(page.roomList(), ["#lobby", "#ops 2"]);
  assert.deepEqual(page.shown("#ops"), [
    "2 new messages",
    "bob ops one",
    "bob ops two",
    "ann joined",
  ]);
  // Read on another device up to 40: one unread left.
  page.line("#ops READ 40");
  assert.deepEqual(page.roomList(), ["#lobby", "#ops 1"]);
  // A room entered without a catch-up: its JOIN, then its history.
  page.step({ type: "room", room: "#dev", key: "", focus: false });
  page.line("@seq=63;time=2026-01-01T01:00:01.000Z #dev JOIN ann 1");
  page.line("#dev TOPIC bob Builds");
  page.line("#dev HIST 20 2026-01-01T00:20:00.000Z MSG bob built");
  page.line("#dev HISTEND 1 End of history");
  page.line("CURRENT #dev");
  assert.deepEqual(page.shown("#dev"), [
    "Topic: Builds (set by bob)",
    "ann joined",
    "bob built",
    "End of history",
  ]);
  page.line("@seq=64;time=2026-01-01T01:00:02.000Z #dev MSG bob live");
  assert.equal(page.shown("#dev").at(-1), "bob live");
});

Deno.test("reduce() keeps a room whose catch-up after a reconnect holds the page's own past leaving", () => {
  const page = resumingPage();
  reconnect(page);
  // Back after the grace: the member had left (seq 15), the alias joins anew.
  page.line("ERR resume-expired Your session ended; choose your alias again");
  page.line("WELCOME ann 2 hi");
  page.line("@seq=20;time=2026-01-01T00:01:00.000Z #lobby JOIN ann 2");
  page.line("@seq=13;time=2026-01-01T00:00:03.000Z #lobby MSG bob three");
  page.line(
    "@seq=15;time=2026-01-01T00:00:45.000Z #lobby LEAVE ann 1 disconnect",
  );
  page.line("#lobby RESUMED 20 0 Caught up");
  page.line("CURRENT #lobby");
  assert.deepEqual(page.roomList(), ["#lobby"]);
  assert.deepEqual(page.shown().slice(-4), [
    "1 new message",
    "bob three",
    "ann disconnected",
    "ann joined",
  ]);
});

Deno.test("reduce() shows caught-up lines at the time they were said, dated when that was another day", () => {
  const page = freshAccountPage();
  page.now = Date.UTC(2026, 0, 2, 9, 0);
  page.line("@seq=61;time=2026-01-02T09:00:00.000Z #lobby JOIN ann 2");
  page.line("@seq=57;time=2026-01-01T18:30:00.000Z #lobby MSG bob last night");
  page.line(
    "@seq=58;time=2026-01-02T08:15:00.000Z #lobby MSG bob this morning",
  );
  page.line("#lobby RESUMED 58 0 Resumed: 2 lines you missed");
  page.line("CURRENT #lobby");
  page.line("@seq=62;time=2026-01-02T09:00:05.000Z #lobby MSG bob live");
  const at = (text: string) => {
    const entry = page.log.find((e) => e.parts.at(-1)?.text === text);
    const when = entry?.when instanceof Date ? entry.when.toISOString() : "";
    return `${when} ${entry?.dated}`;
  };
  assert.equal(at("last night"), "2026-01-01T18:30:00.000Z true");
  assert.equal(at("this morning"), "2026-01-02T08:15:00.000Z false");
  assert.equal(at("live"), "2026-01-02T09:00:00.000Z false", "as it came");
});
