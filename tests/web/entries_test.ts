/**
 * Tests of what the log shows (web/entries.js): the one entry that tells
 * a line the user typed was not sent, or perhaps not, the same whichever
 * way it was lost (refused, cut off by a closed socket, kept across a
 * reload), through web/state.js's reducer.
 */

import assert from "node:assert/strict";
import { type Part, told, unsentEntry } from "../../web/entries.js";
import { lineId } from "../../web/protocol.js";
import { FakePage } from "./_fake_page.ts";

const own = (text: string): Part => ({ kind: "text", text });
const someones = (text: string): Part => ({ kind: "said", text });

/** The "not sent" entries of a room's log. */
function unsent(page: FakePage, room?: string) {
  return page.logOf(room).filter((e) => e.className.startsWith("unsent"));
}

Deno.test("unsentEntry() tells the text typed and why, someone's words isolated, the page's own in one piece", () => {
  assert.deepEqual(unsentEntry("hi", "You are muted", false), {
    className: "unsent error-line",
    parts: [
      own("! Not sent: "),
      someones("hi"),
      own(" ("),
      someones("You are muted"),
      own(")"),
    ],
    when: null,
    dated: false,
  });
  assert.deepEqual(
    unsentEntry("/who", told`disconnected before an answer`, true).parts,
    [
      own("! Perhaps not sent: "),
      someones("/who"),
      own(" (disconnected before an answer)"),
    ],
  );
  assert.deepEqual(
    unsentEntry(told`${"3"} more lines`, told`too many`, false).parts,
    [own("! Not sent: "), someones("3"), own(" more lines (too many)")],
  );
});

Deno.test("reduce() tells a line refused, one cut off by a closed socket and one kept across a reload with the same entry", () => {
  const page = FakePage.inRooms();
  page.line("CAP ids rooms");
  const id = lineId(new Uint8Array(16).fill(1));
  page.step({ type: "say", text: "muted words", now: page.now, id });
  page.line(`@id=${id} ERR muted You are muted`);
  page.step({ type: "say", text: "/topic later", now: page.now, id: "" });
  page.step({ type: "closed", random: 0, unsent: ["#lobby /topic later"] });
  assert.deepEqual(unsent(page), [
    unsentEntry("muted words", "You are muted", false),
    unsentEntry("/topic later", told`disconnected before it left`, false),
  ]);
  const reloaded = new FakePage();
  reloaded.step({
    type: "restore",
    session: {
      alias: "ann",
      epoch: "",
      token: "",
      current: "#lobby",
      rooms: [["#lobby", 0]],
      keys: [],
      unkept: 2,
      asked: [{ room: "#lobby", text: "/who" }],
    },
  });
  assert.deepEqual(unsent(reloaded, "#lobby"), [
    unsentEntry("/who", told`the page was reloaded before an answer`, true),
    unsentEntry(
      told`${"2"} more lines typed before the reload`,
      told`too many to keep`,
      false,
    ),
  ]);
});
