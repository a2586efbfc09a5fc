/**
 * The catch-up's lines, pure: what a resuming member is sent of a range
 * the log read (`catchUpLines`), and `RESUMED`'s MISSING: exact when the
 * log knows how many of the room's lines it no longer holds (counted as
 * the member would have seen them), `?` when it cannot know; which
 * events are a room's (`inRoom`: the renames and leaves of the server
 * that reached it, as stored and read back); and that a catch-up reads
 * nothing from before the room's current incarnation (`since`).
 */

import assert from "node:assert/strict";
import {
  type StreamEntry,
  streamEvent,
} from "../../../lib/server/cluster/stream_entry.ts";
import { catchUp, catchUpLines } from "../../../lib/server/room/catch_up.ts";
import type { Member } from "../../../lib/server/room/member.ts";
import {
  inRoom,
  type LogRange,
  type RoomEvent,
  type RoomLog,
} from "../../../lib/server/room/room_log.ts";
import { toRoomEvent } from "../../../lib/server/room/stored_event.ts";

const decoder = new TextDecoder();

function member(roomsOn: boolean): Member {
  return {
    id: "1",
    alias: "amy",
    operator: false,
    roomsOn,
    deliver: () => true,
    close: () => {},
  };
}

const event = (seq: number, text: string): RoomEvent => ({
  seq,
  time: 0,
  line: { type: "MSG", alias: "bob", text },
  origin: "2",
  room: "#ops",
});

/** The lines, without their tags. */
function lines(
  range: LogRange,
  roomsOn: boolean,
  bytes = Infinity,
): string[] {
  const room = {
    name: "#ops",
    defaultRoom: false,
    prefix: roomsOn ? "#ops" : undefined,
    before: 100,
  };
  return catchUpLines(member(roomsOn), range, 10, room, { left: bytes }).map((
    line,
  ) => decoder.decode(line).trimEnd().replace(/^@seq=\d+;time=\S+ /, ""));
}

Deno.test("catchUpLines() counts in MISSING the room's lines the log no longer holds, as the member would have seen them", () => {
  const range: LogRange = {
    events: [event(14, "a"), event(15, "b")],
    over: 1,
    overRoomsOnly: 0,
    gap: false,
    lost: { lines: 3, roomsOnly: 1 },
  };
  assert.deepEqual(lines(range, true), [
    "#ops MSG bob a",
    "#ops MSG bob b",
    "#ops RESUMED 15 4 Resumed: 2 lines you missed; 4 more are not sent (no longer kept or too many)",
  ]);
  // Without rooms it would not have seen the room operator's MOD lost.
  assert.equal(
    lines(range, false).at(-1),
    "RESUMED 15 3 Resumed: 2 lines you missed; 3 more are not sent (no longer kept or too many)",
  );
  // What did not fit counts too.
  const fits = new TextEncoder().encode(
    "@seq=15;time=1970-01-01T00:00:00.000Z MSG bob b\n",
  );
  assert.equal(
    lines(range, false, fits.length).at(-1),
    "RESUMED 15 4 Resumed: 1 line you missed; 4 more are not sent (no longer kept or too many)",
  );
});

Deno.test("catchUpLines() counts in MISSING the events over the limit as the member would have seen them (a room operator's MOD only with rooms)", () => {
  const range: LogRange = {
    events: [event(15, "b")],
    over: 3,
    overRoomsOnly: 2,
    gap: false,
    lost: { lines: 0, roomsOnly: 0 },
  };
  assert.match(lines(range, true).at(-1)!, /^#ops RESUMED 15 3 /);
  assert.match(lines(range, false).at(-1)!, /^RESUMED 15 1 /);
});

Deno.test("catchUpLines() says MISSING ? when the log cannot know how many of the room's lines it lost", () => {
  const range: LogRange = {
    events: [event(14, "a")],
    over: 0,
    overRoomsOnly: 0,
    gap: true,
    lost: { lines: 0, roomsOnly: 0 },
  };
  assert.equal(
    lines(range, true).at(-1),
    "#ops RESUMED 14 ? Resumed: 1 line you missed; an unknown number of lines are no longer kept",
  );
  const none: LogRange = { ...range, events: [], gap: false };
  assert.equal(
    lines(none, true).at(-1),
    "#ops RESUMED 10 0 Resumed: 0 lines you missed",
  );
});

Deno.test("inRoom() gives a rename or a leave of the server to the rooms it reached, and the default room what names no room and says none", () => {
  const nick: RoomEvent = {
    seq: 1,
    time: 0,
    line: { type: "NICK", alias: "bob", newAlias: "bobby", online: "1" },
    origin: "2",
    rooms: ["#ops"],
  };
  assert.equal(inRoom(nick, "#ops"), true);
  assert.equal(inRoom(nick, "#lobby", true), false, "it had parted #lobby");
  const { rooms: _, ...earlier } = nick; // stored by an earlier release
  assert.equal(inRoom(earlier, "#lobby", true), true);
  assert.equal(inRoom(earlier, "#ops"), false);
  assert.equal(inRoom(event(2, "x"), "#ops"), true);
  assert.equal(inRoom(event(2, "x"), "#lobby", true), false);
});

Deno.test("toRoomEvent() and streamEvent() read the rooms a rename or leave of the server reached, and ignore rooms that are not a list of rooms", () => {
  const nick = { type: "NICK", alias: "bob", newAlias: "bobby", online: "1" };
  const stored = (rooms: unknown) =>
    toRoomEvent({ seq: 7, time: 0, line: JSON.stringify({ ...nick, rooms }) });
  assert.deepEqual(stored(["#ops", "#lobby"])?.rooms, ["#ops", "#lobby"]);
  assert.deepEqual(stored(["#ops", "#lobby"])?.line, nick);
  for (const bad of ["#ops", [1], ["ops"], null]) {
    const event = stored(bad);
    assert.deepEqual([event?.line, event?.rooms], [nick, undefined]);
  }
  const entry = (rs: string): StreamEntry => [
    "7-0",
    ["t", "0", "o", "s/1", "l", JSON.stringify(nick), "rs", rs],
  ];
  assert.deepEqual(streamEvent(entry('["#ops"]'))?.rooms, ["#ops"]);
  assert.equal(streamEvent(entry("{"))?.rooms, undefined);
  assert.deepEqual(streamEvent(entry("{"))?.line, nick);
});

Deno.test("catchUp() reads after the later of the position and the room's incarnation, and says so in RESUMED", async () => {
  const asked: number[] = [];
  const log = {
    since: (_room: string, after: number) => {
      asked.push(after);
      return Promise.resolve({
        events: [event(after + 1, "new")],
        over: 0,
        overRoomsOnly: 0,
        gap: false,
        lost: { lines: 0, roomsOnly: 0 },
      });
    },
  } as unknown as RoomLog;
  const got: string[] = [];
  const amy = {
    ...member(true),
    deliver: (line: Uint8Array) => got.push(decoder.decode(line)) > 0,
  };
  const room = { name: "#ops", defaultRoom: false, prefix: "#ops" };
  const options = { log, resumeLines: 100, budget: { left: Infinity } };
  const resumed = () => got.at(-1)!.trimEnd();
  catchUp(amy, 0, { ...room, before: 100, since: 40 }, options, () => {});
  await Promise.resolve();
  catchUp(amy, 50, { ...room, before: 100, since: 40 }, options, () => {});
  await Promise.resolve();
  catchUp(amy, 0, { ...room, before: 100 }, options, () => {});
  await Promise.resolve();
  assert.deepEqual(asked, [40, 50, 0]);
  assert.match(got[0]!, /^@seq=41;\S+ #ops MSG bob new\n$/);
  assert.equal(resumed(), "#ops RESUMED 1 0 Resumed: 1 line you missed");
});

Deno.test("catchUpLines() takes time in proportion to the lines it sends, not their square", () => {
  // As many lines as a catch-up may send with a large --queue-bytes. Each
  // line sent was put before those already sent by copying them all: 60,000
  // lines took 10 s that way, against a few ms for a single pass.
  const count = 60_000;
  const range: LogRange = {
    events: Array.from({ length: count }, (_, i) => event(11 + i, "hi")),
    over: 0,
    overRoomsOnly: 0,
    gap: false,
    lost: { lines: 0, roomsOnly: 0 },
  };
  const room = { name: "#ops", defaultRoom: false, before: count + 20 };
  const line = new Uint8Array(8);
  const started = performance.now();
  const sent = catchUpLines(
    member(false),
    range,
    10,
    room,
    { left: Infinity },
    () => line,
  );
  const ms = performance.now() - started;
  assert.equal(sent.length, count + 1);
  assert.equal(
    decoder.decode(sent.at(-1)).trimEnd(),
    `RESUMED ${count + 10} 0 Resumed: ${count} lines you missed`,
  );
  assert.ok(ms < 2_000, `${Math.round(ms)} ms for ${count} lines`);
});
