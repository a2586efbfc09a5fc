/**
 * Tests of the page's copy of the wire format (web/protocol.js) against
 * lib/server_lines.ts, without a browser: the same field table, and lines
 * parsed and formatted the same way.
 */

import assert from "node:assert/strict";
import {
  formatServerLine,
  parseServerLine,
  SERVER_LINE_FIELDS,
  type ServerLine,
} from "../../lib/server_lines.ts";
import {
  formatLine,
  isQuitCommand,
  parseLine,
  passCommand,
  pongCommand,
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
