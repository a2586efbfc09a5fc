/**
 * Tests the lines `deno task history export` prints for each stored event
 * (history.ts), without a server: every event says its room, as the
 * database holds it, in JSON Lines and in text.
 */

import assert from "node:assert/strict";
import { toJson, toText } from "../history.ts";
import type { RoomEvent } from "../lib/server/room/room_log.ts";

const TIME = Date.parse("2026-12-07T12:45:59.558Z");

/** A stored event: `line`, numbered `seq`, in `room` (or none). */
function event(
  seq: number,
  line: RoomEvent["line"],
  where: { room?: string; rooms?: string[] } = {},
): RoomEvent {
  return { seq, time: TIME, line, origin: "", ...where };
}

Deno.test("toJson() names the room of an event said in a room other than the default one", () => {
  const said = event(64, { type: "MSG", alias: "bob", text: "hi ops" }, {
    room: "#ops",
  });
  assert.deepEqual(JSON.parse(toJson(said)), {
    seq: 64,
    time: "2026-12-07T12:45:59.558Z",
    room: "#ops",
    type: "MSG",
    alias: "bob",
    text: "hi ops",
  });
});

Deno.test("toJson() gives a rename its rooms, and the default room's events no room", () => {
  const renamed = event(65, {
    type: "NICK",
    alias: "bob",
    newAlias: "rob",
    online: "2",
  }, {
    rooms: ["#lobby", "#ops"],
  });
  assert.deepEqual(JSON.parse(toJson(renamed)).rooms, ["#lobby", "#ops"]);
  const inLobby = event(3, { type: "MSG", alias: "dave", text: "hello" });
  assert.deepEqual(Object.keys(JSON.parse(toJson(inLobby))), [
    "seq",
    "time",
    "type",
    "alias",
    "text",
  ]);
});

Deno.test("toText() writes the room before a line as the terminal does in several rooms", () => {
  const said = event(64, { type: "MSG", alias: "bob", text: "hi ops" }, {
    room: "#ops",
  });
  assert.equal(
    toText(said),
    "2026-12-07T12:45:59.558Z seq=64 #ops <bob> hi ops",
  );
  const inLobby = event(3, { type: "ME", alias: "dave", text: "waves" });
  assert.equal(toText(inLobby), "2026-12-07T12:45:59.558Z seq=3 * dave waves");
});

Deno.test("toText() writes an event's number so that it cannot be read as a room, even in a room named like a number", () => {
  const said = event(22, { type: "MSG", alias: "bob", text: "hi" }, {
    room: "#22",
  });
  const shown = toText(said, { isolate: false });
  assert.equal(shown, "2026-12-07T12:45:59.558Z seq=22 #22 <bob> hi");
  // The only word that starts with # before the line is its room.
  const [, ...before] = shown.slice(0, shown.indexOf(" <")).split(" ");
  assert.deepEqual(before.filter((word) => word.startsWith("#")), ["#22"]);
  const inLobby = event(23, { type: "MSG", alias: "bob", text: "hi" });
  const lobby = toText(inLobby, { isolate: false });
  assert.deepEqual(
    lobby.slice(0, lobby.indexOf(" <")).split(" ").filter((w) =>
      w.startsWith("#")
    ),
    [],
  );
});

Deno.test("toText() writes what someone chose as it was sent, isolated (FSI…PDI) only when asked, for a terminal", () => {
  const said = event(65, {
    type: "MSG",
    alias: "dana",
    text: "שלום עולם!",
  }, { room: "#ops" });
  assert.equal(
    toText(said, { isolate: false }),
    "2026-12-07T12:45:59.558Z seq=65 #ops <dana> שלום עולם!",
  );
  assert.equal(
    toText(said),
    "2026-12-07T12:45:59.558Z seq=65 #ops <dana> \u2068שלום עולם!\u2069",
  );
});
