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
