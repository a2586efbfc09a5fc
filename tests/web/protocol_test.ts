/**
 * Tests of the page's copy of the wire format (web/protocol.js) against
 * lib/server_lines.ts, without a browser: the same field table, and lines
 * parsed and formatted the same way.
 */

import assert from "node:assert/strict";
import { JOIN_ERRORS } from "../../lib/client/rooms.ts";
import { parseCommand } from "../../lib/commands.ts";
import { joinUnsent } from "../../lib/server/room/join_doubts.ts";
import { JOIN_REFUSALS, OUTAGES } from "../../web/rooms_asked.js";
import {
  formatServerLine,
  parseServerLine,
  SERVER_LINE_FIELDS,
  type ServerLine,
} from "../../lib/server_lines.ts";
import {
  capCommand,
  epochOf,
  formatLine,
  fragmentRoom,
  isQuitCommand,
  joinCommand,
  parseLine,
  parseWhisper,
  partCommand,
  passCommand,
  pongCommand,
  readCommand,
  resumeCommand,
  roomName,
  searchCommand,
  searchWords,
  SERVER_LINE_FIELDS as PAGE_FIELDS,
} from "../../web/protocol.js";

/** One line of each type: a token per field, the last one with spaces. */
function sampleLines(): string[] {
  return Object.entries(SERVER_LINE_FIELDS).map(([type, fields]) =>
    [
      type,
      ...fields.map((field, i) =>
        i === fields.length - 1 ? `${field} and more` : `${field}1`
      ),
    ].join(" ")
  );
}

Deno.test("the page's SERVER_LINE_FIELDS is lib/server_lines.ts's, type by type, field by field", () => {
  assert.deepEqual(PAGE_FIELDS, SERVER_LINE_FIELDS);
});

Deno.test("parseLine() splits every type of line as parseServerLine() does", () => {
  for (const text of [...sampleLines(), "WHO 3", "BYE", "CAP", "MSG"]) {
    const ours = parseLine(text) as unknown as Record<string, string>;
    const theirs = parseServerLine(text) as unknown as Record<string, string>;
    assert.ok(theirs, text);
    for (const [field, value] of Object.entries(theirs)) {
      assert.equal(ours[field], value, `${text}: ${field}`);
    }
    // Fields the type does not have are empty, never missing.
    for (const [field, value] of Object.entries(ours)) {
      if (!(field in theirs)) assert.equal(value, "", `${text}: ${field}`);
    }
  }
});

Deno.test("formatLine() gives a line back as formatServerLine() does", () => {
  for (const text of [...sampleLines(), "LEAVE amy 3 quit", "CAP", "BYE"]) {
    const line = parseServerLine(text) as ServerLine;
    assert.equal(formatLine(parseLine(text)), formatServerLine(line), text);
  }
  assert.equal(formatLine(parseLine("NEWTYPE a b")), "NEWTYPE a b");
});

Deno.test("parseLine() keeps a line of an unknown type whole, even one named like an object key", () => {
  for (
    const text of [
      "NEWTYPE some text",
      "constructor x y",
      "toString",
      "__proto__ x",
      "hasOwnProperty a b c",
      "",
    ]
  ) {
    const line = parseLine(text);
    assert.equal(line.type, "?", text);
    assert.equal(line.text, text);
    assert.equal(line.alias, "");
  }
});

Deno.test("the page's commands are the server's", () => {
  assert.equal(passCommand("open sesame"), "/pass open sesame");
  assert.equal(pongCommand("42"), "/pong 42");
  assert.ok(isQuitCommand("/quit"));
  assert.ok(isQuitCommand("/QUIT bye all"));
  assert.ok(!isQuitCommand("/quitting"));
  assert.ok(!isQuitCommand("say /quit"));
});

Deno.test("parseLine() takes a line's id and room prefixes apart from its fields", () => {
  const line = parseLine("@id=abcdefghijklmnopqrstuv #ops MSG alice hi #2");
  assert.equal(line.id, "abcdefghijklmnopqrstuv");
  assert.equal(line.inRoom, "#ops");
  assert.equal(line.type, "MSG");
  assert.equal(line.alias, "alice");
  assert.equal(line.text, "hi #2");
  assert.equal(formatLine(line), "MSG alice hi #2");
  const room = parseLine("#lobby JOIN bob 3");
  assert.deepEqual([room.inRoom, room.id, room.alias], ["#lobby", "", "bob"]);
  const plain = parseLine("MSG bob #ops is down");
  assert.deepEqual([plain.inRoom, plain.text], ["", "#ops is down"]);
  const current = parseLine("CURRENT #ops");
  assert.deepEqual([current.inRoom, current.room], ["", "#ops"]);
  const unknown = parseLine("#ops NEWTYPE a b");
  assert.deepEqual([unknown.type, unknown.inRoom, unknown.text], [
    "?",
    "#ops",
    "NEWTYPE a b",
  ]);
});

Deno.test("the page's room commands are the server's", () => {
  assert.equal(capCommand("rate=5,burst=10,caps=ids+rooms"), "/cap ids rooms");
  assert.equal(capCommand("rate=5,caps=rooms+next"), "/cap rooms");
  assert.equal(capCommand("rate=5,caps=next"), null);
  assert.equal(capCommand("rate=5"), null);
  assert.equal(roomName(" Ops "), "#ops");
  assert.equal(roomName("#Dev-1"), "#dev-1");
  assert.equal(roomName("  "), "");
  assert.equal(roomName("#"), "");
  // A link's fragment is no way to send a second line (`/op mallory`).
  assert.equal(roomName("lobby\n/op mallory"), "");
  assert.equal(roomName("#ops\r/key -"), "");
  assert.equal(roomName("#ops s3cret"), "");
  assert.equal(joinCommand("#ops", ""), "/join #ops");
  assert.equal(joinCommand("#ops", "k3y"), "/join #ops k3y");
  assert.equal(partCommand("#ops"), "/part #ops");
});

Deno.test("fragmentRoom() reads the room from the address given, escapes decoded, none from a malformed one", () => {
  assert.equal(fragmentRoom("https://chat.example:7444/#Ops"), "Ops");
  assert.equal(fragmentRoom("https://chat.example/?a=1#%23dev"), "#dev");
  assert.equal(fragmentRoom("https://chat.example/#caf%C3%A9"), "café");
  assert.equal(fragmentRoom("https://chat.example/"), "");
  assert.equal(fragmentRoom("https://chat.example/#"), "");
  assert.equal(fragmentRoom("https://chat.example/#%E0%A4%A"), "");
  // Decoded, still a name roomName() refuses: no second line.
  assert.equal(roomName(fragmentRoom("https://h/#lobby%0A/op%20x")), "");
});

Deno.test("parseLine() takes a log line's tags (id, seq, time) apart, ignoring others and malformed values", () => {
  const time = "2026-11-26T15:04:05.123Z";
  const line = parseLine(`@id=abc;seq=42;time=${time} #ops MSG alice hi`);
  assert.deepEqual([line.id, line.seq, line.time, line.inRoom, line.text], [
    "abc",
    "42",
    time,
    "#ops",
    "hi",
  ]);
  assert.equal(formatLine(line), "MSG alice hi");
  const odd = parseLine("@seq=x1;later=1;time=<b> #ops JOIN bob 2");
  assert.deepEqual([odd.type, odd.seq, odd.time, odd.alias], [
    "JOIN",
    "",
    "",
    "bob",
  ]);
  const plain = parseLine("MSG bob no tags");
  assert.deepEqual([plain.seq, plain.time], ["", ""]);
});

Deno.test("the page's resume, read and search commands are the server's", () => {
  assert.equal(
    capCommand("rate=5,caps=ids+rooms+seq+resume,epoch=E1"),
    "/cap ids rooms seq resume",
  );
  assert.equal(epochOf("rate=5,caps=ids,epoch=3fA9x"), "3fA9x");
  assert.equal(epochOf("rate=5,epoch=bad epoch"), "");
  assert.equal(epochOf("rate=5"), "");
  assert.equal(
    resumeCommand("E1", [["#lobby", 120], ["#ops", 98]], "tok"),
    "/resume E1 #lobby=120,#ops=98 tok",
  );
  assert.equal(resumeCommand("E1", [["", 7]], ""), "/resume E1 7");
  assert.equal(resumeCommand("E1", [], ""), "/resume E1 -");
  assert.equal(readCommand("#ops", 5), "/read #ops 5");
  assert.equal(readCommand("", 5), "/read 5");
  assert.equal(searchWords(" a\r\n/op  b\t"), "a /op b");
  assert.equal(searchCommand("a b"), "/search a b");
});

Deno.test("the page's /join refusals are the terminal client's, and its outage answers begin as the server's", () => {
  assert.deepEqual([...JOIN_REFUSALS].sort(), [...JOIN_ERRORS].sort());
  for (const outcome of ["refused", "unknown"] as const) {
    const error = joinUnsent("#den", outcome)!;
    const says = OUTAGES.get(error.code);
    assert.ok(says !== undefined, error.code);
    assert.ok(error.text.startsWith(`${says} #den:`), error.text);
  }
});

Deno.test("parseWhisper() reads a typed /msg as the server's parseCommand() does: its target and text, or none without both", () => {
  for (
    const typed of [
      "/msg bob hi there",
      "/MSG Bob  hi  there ",
      "/msg bob //not a command",
      "/msg bob /msg bob",
      "/Msg b.o_b-2 \u05e9\u05dc\u05d5\u05dd (hi)",
    ]
  ) {
    const { to, text } = parseCommand(typed) as { to: string; text: string };
    assert.deepEqual(parseWhisper(typed), { to, text }, typed);
  }
  // Not a whisper: the server answers its usage, or takes another command.
  for (const typed of ["/msg", "/msg bob", "/msg bob  ", "/msgbob hi", "hi"]) {
    assert.equal(parseWhisper(typed), null, typed);
  }
  assert.equal(parseWhisper("/privnotice bob hi"), null);
  // The page reads blanks of any kind between the words, and around.
  assert.deepEqual(parseWhisper(" /msg\tbob \t hi there\n"), {
    to: "bob",
    text: "hi there",
  });
});
