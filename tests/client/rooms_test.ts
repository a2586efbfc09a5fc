/** Tests of the client's rooms as pure logic: no sockets. */

import assert from "node:assert/strict";
import { RoomState } from "../../lib/client/rooms.ts";
import {
  carriesKey,
  splitRoomLine,
  toRoomName,
  withRoom,
} from "../../lib/client/room_names.ts";
import { parseServerLine, type ServerLine } from "../../lib/server_lines.ts";
import { settle } from "../_fakes.ts";

/** Whether `promise` has settled once the pending reactions ran. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true);
  await settle();
  return done;
}

/** A server line as RoomState takes it: prefix off, parsed when known. */
function feed(rooms: RoomState, text: string) {
  const { room, rest } = splitRoomLine(text);
  return rooms.see(room, parseServerLine(rest) ?? rest);
}

/** Rooms on, welcomed as `alias`, in `#lobby` (current) and `more`. */
function joined(alias: string, ...more: string[]): RoomState {
  const rooms = new RoomState(alias);
  rooms.enabled = true;
  rooms.welcomed();
  feed(rooms, `#lobby JOIN ${alias} 2`);
  for (const room of more) feed(rooms, `${room} JOIN ${alias} 1`);
  feed(rooms, "CURRENT #lobby");
  return rooms;
}

const msg = (alias: string, text: string): ServerLine => ({
  type: "MSG",
  alias,
  text,
});

Deno.test("toRoomName() folds ASCII case and takes # then 1 to 32 of a-z 0-9 - _", () => {
  assert.equal(toRoomName("#OPS"), "#ops");
  assert.equal(toRoomName("#a-b_9"), "#a-b_9");
  assert.equal(toRoomName(`#${"x".repeat(32)}`), `#${"x".repeat(32)}`);
  for (const bad of ["", "#", "ops", "#a b", "#a.b", "##a", "#\u212Aey"]) {
    assert.equal(toRoomName(bad), null, bad);
  }
  assert.equal(toRoomName(`#${"x".repeat(33)}`), null);
});

Deno.test("splitRoomLine() takes off a folded room name and one space, nothing else", () => {
  assert.deepEqual(splitRoomLine("#ops MSG amy #1 priority"), {
    room: "#ops",
    rest: "MSG amy #1 priority",
  });
  for (const line of ["MSG amy hi", "#Ops MSG amy hi", "#ops", "#a.b MSG x"]) {
    assert.deepEqual(splitRoomLine(line), { room: null, rest: line }, line);
  }
  assert.equal(withRoom("#ops", "/who"), "#ops /who");
  assert.equal(withRoom(null, "/who"), "/who");
});

Deno.test("RoomState.roomFor() prefixes chat and room commands with the current room, never server-wide ones", () => {
  const rooms = joined("amy", "#ops");
  for (const line of ["hi", "#1 priority", "//etc", "/me waves", "/WHO"]) {
    assert.equal(rooms.roomFor(line), "#lobby", line);
  }
  for (const line of ["/topic New", "/kick bob", "/history 5", "/op bob"]) {
    assert.equal(rooms.roomFor(line), "#lobby", line);
  }
  const wide = ["/nick amelia", "/msg bob hi", "/quit", "/help", "/rooms"];
  for (const line of [...wide, "/ban bob", "/bans", "", "   "]) {
    assert.equal(rooms.roomFor(line), null, line);
  }
  assert.equal(rooms.roomFor("/join #dev"), null);
  assert.equal(rooms.roomFor("/part #ops bye"), null, "it names its room");
});

Deno.test("RoomState.toSend() sends a line that starts with one of its rooms there, any other to the current", () => {
  const rooms = joined("amy", "#ops");
  assert.deepEqual(rooms.toSend("#ops deployed"), {
    room: "#ops",
    line: "deployed",
  });
  assert.deepEqual(rooms.toSend("#OPS /topic Deploys"), {
    room: "#ops",
    line: "/topic Deploys",
  });
  for (const line of ["#1 priority", "#dev not mine", "#ops", "hi #ops"]) {
    assert.deepEqual(rooms.toSend(line), { room: "#lobby", line }, line);
  }
  assert.deepEqual(rooms.toSend("#ops /part"), { room: "#ops", line: "/part" });
  assert.equal(rooms.current, "#lobby", "sending there is no switch");
  const parting = rooms.settled();
  feed(rooms, "#ops LEAVE amy 1 part");
  return parting;
});

Deno.test("RoomState.prompt() shows a welcomed alias only when it is well formed: a hostile server's escape sequence never reaches the terminal", () => {
  const rooms = new RoomState("tom");
  // OSC 52: a terminal that allows it sets its clipboard to "rm -rf ~".
  rooms.welcomed("\x1b]52;c;cm0gLXJmIH4=\x07");
  assert.equal(rooms.prompt(), "tom> ");
  rooms.welcomed("T.om");
  assert.equal(rooms.prompt(), "T.om> ");
});

Deno.test("RoomState.roomFor() prefixes nothing without the rooms capability", () => {
  const rooms = new RoomState("amy");
  rooms.welcomed();
  for (const line of ["hi", "/who", "/me waves", "/join #ops"]) {
    assert.equal(rooms.roomFor(line), null, line);
  }
  assert.deepEqual(rooms.toSend("#ops hi"), { room: null, line: "#ops hi" });
  assert.equal(rooms.prompt(), "amy> ");
  // Nothing waits, and a CURRENT from such a server is only a line.
  return hasSettled(rooms.settled()).then((settled) => {
    assert.ok(settled);
    const current = { type: "CURRENT", room: "#ops" } as const;
    assert.deepEqual(rooms.see(null, current), [{ line: current, room: null }]);
    assert.equal(rooms.current, null);
  });
});

Deno.test("RoomState.settled() waits from the welcome until the first CURRENT", async () => {
  const rooms = new RoomState("amy");
  rooms.enabled = true;
  rooms.welcomed();
  const arrived = rooms.settled();
  assert.deepEqual(feed(rooms, "#lobby JOIN amy 2"), [], "the welcome said");
  feed(rooms, "#lobby HISTEND 0 End of history");
  assert.equal(await hasSettled(arrived), false);
  assert.deepEqual(feed(rooms, "CURRENT #lobby"), []);
  assert.equal(await hasSettled(arrived), true);
  assert.equal(rooms.prompt(), "amy #lobby> ");
});

Deno.test("RoomState.settled() waits after /join for CURRENT or the join's ERR only", async () => {
  const rooms = joined("amy");
  rooms.roomFor("/join #ops");
  let joining = rooms.settled();
  feed(rooms, "ERR usage Usage: /me ACTION"); // an earlier line's answer
  feed(rooms, "ERR flood Slow down");
  assert.equal(await hasSettled(joining), false);
  assert.deepEqual(feed(rooms, "#ops JOIN amy 1"), [
    { line: { type: "JOIN", alias: "amy", online: "1" }, room: "#ops" },
  ]);
  assert.equal(await hasSettled(joining), false);
  feed(rooms, "CURRENT #ops");
  assert.equal(await hasSettled(joining), true);
  assert.equal(rooms.roomFor("deploy done"), "#ops");
  for (
    const code of [
      "room-key",
      "no-such-room",
      "too-many-rooms",
      "unavailable",
      "unknown",
    ]
  ) {
    rooms.roomFor("/join #secret");
    joining = rooms.settled();
    assert.equal(await hasSettled(joining), false);
    const text = code === "unavailable"
      ? "Cannot join #secret: the room cannot store events right now; /join #secret again later"
      : code === "unknown"
      ? "Perhaps not in #secret: the room's store stopped answering; if your join was stored, you will enter #secret as usual; if not, /join #secret again"
      : "No";
    feed(rooms, `ERR ${code} ${text}`);
    assert.equal(await hasSettled(joining), true, code);
    assert.equal(rooms.current, "#ops");
  }
  rooms.roomFor("/join not-a-room"); // answered with an ERR: no wait
  assert.equal(await hasSettled(rooms.settled()), true);
});

Deno.test("RoomState.settled() after /join is not ended by an ERR unavailable or unknown that answers another line (an operator's /topic, a line without an id): the lines after it wait for the join, not go to the room it leaves", async () => {
  const rooms = joined("amy", "#ops");
  rooms.roomFor("/join #secret");
  const joining = rooms.settled();
  for (
    const stray of [
      "ERR unknown Done on this server; the other servers may not have been told (the room's store did not answer): check, and do it again if not",
      "ERR unavailable Done, but not announced: the room cannot store events right now",
      "ERR unknown Perhaps not sent (1 line): the room's store stopped answering; if it was stored, you will see it as usual; a resend with the same id is safe, one without an id may show twice",
      "ERR unavailable Cannot join #other: the room cannot store events right now; /join #other again later",
    ]
  ) {
    feed(rooms, stray);
    assert.equal(await hasSettled(joining), false, stray);
  }
  feed(rooms, "#secret JOIN amy 1");
  feed(rooms, "CURRENT #secret");
  assert.equal(await hasSettled(joining), true);
  assert.equal(rooms.roomFor("the password is hunter2"), "#secret");
});

Deno.test("RoomState.settled() after /join is not ended by an ERR not-in-room that answers an earlier line (a message to a room the client was kicked from, tagged with its id or not)", async () => {
  const rooms = joined("amy", "#ops");
  // amy sends "#ops hi", then "/join #dev"; the server read her kick from
  // #ops between the two and answers the first.
  rooms.roomFor("/join #dev");
  const joining = rooms.settled();
  const stray = parseServerLine("ERR not-in-room You are not in #ops")!;
  rooms.see(null, stray, false, "A".repeat(22));
  assert.equal(await hasSettled(joining), false, "tagged");
  feed(rooms, "ERR not-in-room You are not in #ops");
  assert.equal(await hasSettled(joining), false, "untagged");
  feed(rooms, "#dev JOIN amy 1");
  feed(rooms, "CURRENT #dev");
  assert.equal(await hasSettled(joining), true);
  assert.equal(rooms.roomFor("deploy done"), "#dev");
});

Deno.test("RoomState.settled() after /part is ended by the ERR not-in-room naming the room it parts only", async () => {
  const rooms = joined("amy", "#ops");
  rooms.roomFor("/part #dev");
  const parting = rooms.settled();
  feed(rooms, 'ERR not-in-room "bob" is not in #ops'); // a /kick's answer
  assert.equal(await hasSettled(parting), false);
  rooms.see(
    null,
    parseServerLine("ERR not-in-room You are not in #dev")!,
    false,
    "A".repeat(22),
  );
  assert.equal(await hasSettled(parting), false, "tagged: another line's");
  feed(rooms, "ERR not-in-room You are not in #dev");
  assert.equal(await hasSettled(parting), true);
});

Deno.test("RoomState.settled() waits after /part for the own LEAVE, and CURRENT when it was current", async () => {
  const rooms = joined("amy", "#ops", "#dev");
  assert.equal(rooms.roomFor("/part #ops"), null);
  let parting = rooms.settled();
  feed(rooms, "#lobby MSG bob hi");
  assert.equal(await hasSettled(parting), false);
  feed(rooms, "#ops LEAVE amy 1 part");
  assert.equal(await hasSettled(parting), true);
  assert.deepEqual(rooms.rooms, ["#lobby", "#dev"]);
  assert.equal(rooms.roomFor("/part bye all"), "#lobby");
  parting = rooms.settled();
  feed(rooms, "#lobby LEAVE amy 1 part bye all");
  assert.equal(rooms.current, null, "until the server says");
  assert.equal(await hasSettled(parting), false);
  feed(rooms, "CURRENT #dev");
  assert.equal(await hasSettled(parting), true);
  assert.equal(rooms.prompt(), "amy #dev> ");
  rooms.roomFor("/part");
  parting = rooms.settled();
  rooms.ended(); // the connection ended: nothing waits any more
  assert.equal(await hasSettled(parting), true);
});

Deno.test("RoomState.see() labels lines with their room only while in more than one", () => {
  const rooms = joined("amy");
  assert.deepEqual(rooms.see("#lobby", msg("bob", "hi")), [
    { line: msg("bob", "hi"), room: null },
  ]);
  const own = { type: "JOIN", alias: "amy", online: "1" } as const;
  assert.deepEqual(rooms.see("#ops", own), [{ line: own, room: "#ops" }]);
  assert.deepEqual(rooms.see("#lobby", msg("bob", "hi")), [
    { line: msg("bob", "hi"), room: "#lobby" },
  ]);
  const part = parseServerLine("LEAVE amy 0 part")!;
  assert.deepEqual(rooms.see("#ops", part), [{ line: part, room: "#ops" }]);
  assert.deepEqual(rooms.see("#lobby", msg("bob", "hi")), [
    { line: msg("bob", "hi"), room: null },
  ]);
});

Deno.test("RoomState.see() takes its own JOIN that a reconnect's catch-up follows as entering the room: the first room rejoined is labelled as the others are", () => {
  const rooms = joined("amy", "#r1", "#r2");
  rooms.lost();
  rooms.welcomed();
  // The lines as a guest's reconnect gets them (positions given for every
  // room: each is caught up until its RESUMED, so `past`, as the dialogue
  // says), the member's own JOIN first.
  const caughtUp = (text: string) => {
    const { room, rest } = splitRoomLine(text);
    return rooms.see(room, parseServerLine(rest) ?? rest, true);
  };
  const resumed = { type: "INFO", text: "Resumed: no lines missed" } as const;
  assert.deepEqual(caughtUp("#lobby JOIN amy 1"), [], "the welcome's: said");
  assert.deepEqual(rooms.see("#lobby", resumed, true), [
    { line: resumed, room: null },
  ]);
  feed(rooms, "CURRENT #lobby");
  for (const room of ["#r1", "#r2"]) {
    const own = { type: "JOIN", alias: "amy", online: "1" } as const;
    assert.deepEqual(caughtUp(`${room} JOIN amy 1`), [{ line: own, room }]);
    assert.deepEqual(caughtUp(`${room} MSG bob missed`), [
      { line: msg("bob", "missed"), room },
    ]);
    assert.deepEqual(rooms.see(room, resumed, true), [
      { line: resumed, room },
    ]);
    feed(rooms, `CURRENT ${room}`);
  }
  assert.deepEqual(rooms.rooms, ["#lobby", "#r1", "#r2"]);
  // A past own LEAVE and JOIN in a catch-up change nothing.
  assert.equal(caughtUp("#r1 LEAVE amy 0 quit").length, 1);
  assert.equal(caughtUp("#r1 JOIN amy 1").length, 1);
  assert.deepEqual(rooms.rooms, ["#lobby", "#r1", "#r2"]);
});

Deno.test("RoomState.prompt() counts the others' messages in rooms not current, until current", () => {
  const rooms = joined("amy", "#ops", "#dev");
  feed(rooms, "#ops MSG bob one");
  feed(rooms, "#ops ME bob two");
  feed(rooms, "#ops MSG amy mine"); // an own line is read
  feed(rooms, "#ops HIST 1 2026-12-06T01:00:00Z MSG bob old"); // not new
  feed(rooms, "#ops JOIN carol 3");
  feed(rooms, "#dev MSG carol three");
  feed(rooms, "#lobby MSG bob here"); // the current room's: seen
  assert.equal(rooms.prompt(), "amy #lobby [#ops 2] [#dev 1]> ");
  feed(rooms, "CURRENT #ops");
  assert.equal(rooms.prompt(), "amy #ops [#dev 1]> ");
  feed(rooms, "#lobby MSG bob again");
  assert.equal(rooms.prompt(), "amy #ops [#lobby 1] [#dev 1]> ");
  feed(rooms, "CURRENT -");
  assert.equal(rooms.current, null);
  assert.equal(rooms.prompt(), "amy [#lobby 1] [#dev 1]> ");
  assert.equal(rooms.roomFor("hi"), null, "the server says: /join #room");
});

Deno.test("RoomState.see() says which rooms the welcome put the client in, when more than one", () => {
  const rooms = new RoomState("amy");
  rooms.enabled = true;
  rooms.welcomed();
  feed(rooms, "#lobby JOIN amy 2");
  feed(rooms, "#ops JOIN amy 1");
  assert.deepEqual(feed(rooms, "CURRENT #ops"), [
    {
      line: { type: "INFO", text: "You are in #lobby, #ops; talking in #ops" },
      room: null,
    },
  ]);
  assert.deepEqual(feed(rooms, "CURRENT #lobby"), [], "later: the prompt");
});

Deno.test("RoomState follows renames of its alias, well-formed ones only", () => {
  const rooms = joined("amy", "#ops");
  feed(rooms, "#lobby NICK amy amelia 2");
  feed(rooms, "#ops NICK amy amelia 1"); // the same rename, another room
  assert.equal(rooms.alias, "amelia");
  feed(rooms, "#ops NICK AMELIA am\x1b[2Jy 1");
  assert.equal(rooms.alias, "amelia");
  assert.equal(rooms.prompt(), "amelia #lobby> ");
  const plain = new RoomState("bob");
  plain.welcomed();
  plain.see(null, parseServerLine("NICK bob robert 1")!);
  assert.equal(plain.prompt(), "robert> ");
});

Deno.test("RoomState forgets a room it was kicked from; the server says the next current", () => {
  const rooms = joined("amy", "#ops");
  feed(rooms, "CURRENT #ops");
  const kicked = feed(rooms, "#ops LEAVE amy 1 kicked spam");
  assert.equal(kicked[0]?.room, "#ops");
  assert.deepEqual(rooms.rooms, ["#lobby"]);
  assert.equal(rooms.current, null);
  feed(rooms, "CURRENT #lobby");
  assert.equal(rooms.prompt(), "amy #lobby> ");
});

Deno.test("RoomState keeps the key a room was entered with across a lost connection, until it is left or refused", async () => {
  const rooms = joined("amy");
  rooms.roomFor("/join #ops s3cret");
  feed(rooms, "#ops JOIN amy 2");
  feed(rooms, "CURRENT #ops");
  rooms.roomFor("/join #ops wrong"); // already in: a switch keeps the key
  feed(rooms, "CURRENT #ops");
  rooms.roomFor("/join #dev");
  feed(rooms, "#dev JOIN amy 1");
  feed(rooms, "CURRENT #dev");
  assert.deepEqual(rooms.lost(), {
    rooms: ["#lobby", "#ops", "#dev"],
    current: "#dev",
  });
  assert.equal(rooms.joinLine("#ops"), "/join #ops s3cret");
  assert.equal(rooms.joinLine("#dev"), "/join #dev");
  // Joined again with it: kept; a refusal (the key changed) forgets it.
  rooms.roomFor(rooms.joinLine("#ops"));
  feed(rooms, "#ops JOIN amy 2");
  assert.equal(rooms.joinLine("#ops"), "/join #ops s3cret");
  rooms.lost();
  rooms.roomFor(rooms.joinLine("#ops"));
  feed(rooms, "ERR room-key #ops needs a key");
  assert.equal(rooms.joinLine("#ops"), "/join #ops");
  // Leaving the room (a /part, a kick) forgets it too.
  rooms.roomFor("/join #ops n3w");
  feed(rooms, "#ops JOIN amy 2");
  feed(rooms, "CURRENT #ops");
  assert.equal(rooms.joinLine("#ops"), "/join #ops n3w");
  rooms.roomFor("/part");
  feed(rooms, "#ops LEAVE amy 1 part");
  assert.equal(rooms.joinLine("#ops"), "/join #ops");
  // Too many wrong keys answers a /join too: nothing waits any more.
  rooms.roomFor("/join #ops guess");
  feed(rooms, "ERR too-many-attempts Too many wrong room keys: try again");
  assert.equal(await hasSettled(rooms.settled()), true);
  assert.equal(rooms.joinLine("#ops"), "/join #ops");
});

Deno.test("RoomState: ERR too-many-attempts after a PASSWORD answers the login, not a /join sent meanwhile", async () => {
  const rooms = joined("amy");
  rooms.passwordAsked(); // a /nick to an account; its password is sent
  rooms.roomFor("/join #ops s3cret");
  feed(rooms, "ERR too-many-attempts Too many failed logins: try again");
  assert.equal(await hasSettled(rooms.settled()), false, "the join waits");
  feed(rooms, "#ops JOIN amy 2");
  feed(rooms, "CURRENT #ops");
  assert.equal(await hasSettled(rooms.settled()), true);
  assert.equal(rooms.joinLine("#ops"), "/join #ops s3cret", "its key kept");
  // A login that succeeded (NICK) leaves nothing to answer: the next
  // too-many-attempts is the join's.
  rooms.passwordAsked();
  feed(rooms, "NICK amy amyacct 2");
  rooms.roomFor("/join #dev guess");
  feed(rooms, "ERR too-many-attempts Too many wrong room keys: try again");
  assert.equal(await hasSettled(rooms.settled()), true);
});

Deno.test("carriesKey() finds a room's key in /join and /key lines, prefixed or not", () => {
  for (const line of ["/join #ops k", "/JOIN #ops k", "#dev /join #ops k"]) {
    assert.equal(carriesKey(line), true, line);
  }
  for (const line of ["/key s3cret", "#ops /key s3cret", "/Key  s3cret"]) {
    assert.equal(carriesKey(line), true, line);
  }
  const plain = ["/join #ops", "/key -", "/key", "hi /join #a k", "/joint a b"];
  for (const line of plain) assert.equal(carriesKey(line), false, line);
});

Deno.test("RoomState keeps the unread counts of its rooms across a lost connection: the rooms rejoined show them in the prompt again", () => {
  const rooms = joined("amy", "#ops", "#dev");
  for (let i = 0; i < 8; i++) feed(rooms, "#ops MSG bob hi");
  feed(rooms, "#dev MSG bob hi");
  assert.equal(rooms.prompt(), "amy #lobby [#ops 8] [#dev 1]> ");
  rooms.lost();
  rooms.welcomed();
  feed(rooms, "#lobby JOIN amy 2");
  feed(rooms, "#ops JOIN amy 2");
  feed(rooms, "CURRENT #lobby");
  feed(rooms, "#ops MSG bob more");
  assert.equal(rooms.prompt(), "amy #lobby [#ops 9]> ");
  // #dev's rejoin refused (its key changed): its count goes with it.
  rooms.roomFor(rooms.joinLine("#dev"));
  feed(rooms, "ERR room-key #dev needs a key");
  rooms.roomFor("/join #dev n3w");
  feed(rooms, "#dev JOIN amy 2");
  feed(rooms, "CURRENT #lobby");
  assert.equal(rooms.prompt(), "amy #lobby [#ops 9]> ");
  // A room shown since is read: none unread after the next drop.
  feed(rooms, "CURRENT #ops");
  feed(rooms, "CURRENT #lobby");
  rooms.lost();
  rooms.welcomed();
  feed(rooms, "#lobby JOIN amy 2");
  feed(rooms, "#ops JOIN amy 2");
  feed(rooms, "#dev JOIN amy 2");
  feed(rooms, "CURRENT #lobby");
  assert.equal(rooms.prompt(), "amy #lobby> ");
});
