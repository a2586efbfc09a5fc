// deno-lint-ignore-file no-control-regex -- these tests look for terminal codes
/** Tests of lines cut to the terminal's width (`wrap.ts`), without a terminal. */

import assert from "node:assert/strict";
import { styleText } from "node:util";
import { CONTINUATION_INDENT, wrapLine } from "../../lib/client/wrap.ts";
import { formatForDisplay } from "../../lib/client/display.ts";

/** The rows a wrapped line shows, colour codes left out. */
const rows = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "").split("\n");

/** Columns of a row as this module counts them (ASCII, CJK, combining). */
function width(row: string): number {
  let n = 0;
  for (const char of row) {
    if (/\p{Mn}/u.test(char)) continue;
    n += /[\u4E00-\u9FFF\uAC00-\uD7A3]|\p{Emoji_Presentation}/u.test(char)
      ? 2
      : 1;
  }
  return n;
}

Deno.test("wrapLine() leaves a line that fits as it is, colour codes included", () => {
  const line = "12:34 <" + styleText("red", "bob", { validateStream: false }) +
    "> " + "x".repeat(88);
  assert.equal(rows(line)[0]!.length, 100);
  assert.equal(wrapLine(line, 100), line);
  assert.equal(wrapLine("x".repeat(300), 10), "x".repeat(300)); // too narrow
});

Deno.test("wrapLine() puts a message padded to the margin on an indented row, not at column 0", () => {
  for (const pad of [" ", "\u2800", "\u3164", "\t"]) {
    const head = "12:34 <mallory> hi";
    const spoof = "12:34 -!- mallory was made a room operator by alice";
    const padding = pad === "\t"
      ? "\t".repeat(8) // columns 18 to 80
      : pad.repeat((80 - head.length) / (pad === "\u3164" ? 2 : 1));
    const shown = rows(wrapLine(head + padding + spoof, 80));
    assert.equal(shown.length, 2, JSON.stringify(shown));
    assert.equal(shown[1], CONTINUATION_INDENT + spoof);
    for (const row of shown.slice(1)) assert.ok(row.startsWith(" "), row);
  }
});

Deno.test("wrapLine() counts wide characters as 2 columns, combining marks as 0, and never cuts a grapheme", () => {
  const text = "12:34 <bob> " + "漢字".repeat(30) + "👩‍💻".repeat(10) +
    "e\u0301".repeat(40) + "Z" + "\u0336".repeat(300);
  const shown = rows(wrapLine(text, 40));
  assert.equal(shown.join("").replaceAll(CONTINUATION_INDENT, ""), text);
  for (const row of shown) {
    assert.ok(width(row) <= 40, `${width(row)}: ${row}`);
    assert.ok(!/^[\p{Mn}\u200D]/u.test(row.trimStart()), row);
  }
  assert.ok(shown.slice(1).every((row) => row.startsWith(CONTINUATION_INDENT)));
});

Deno.test("wrapLine() keeps a line's colours across its rows", () => {
  const line = formatForDisplay({
    type: "MSG",
    alias: "bob",
    text: "y".repeat(60),
  }, {
    color: true,
    time: new Date(2026, 0, 1, 12, 34),
  })!;
  const wrapped = wrapLine(line, 40);
  assert.equal(wrapped.replace("\n" + CONTINUATION_INDENT, ""), line);
  assert.equal(rows(wrapped)[0], "12:34 <bob> " + "y".repeat(28));
});

Deno.test("wrapLine() counts an emoji asked for by VS16 (❤️, 1️⃣) as 2 columns: no spoof at column 0 where terminals draw it wide", () => {
  // Drawn 2 columns each (kitty, WezTerm, Windows Terminal...), 34 hearts
  // after the 12-column head fill an 80-column row: counted 1 each, the
  // spoof went on in the same row of the cut, and the terminal put it at
  // column 0.
  const head = "12:34 <bob> ";
  const spoof = "12:34 -!- mallory was made a room";
  for (const emoji of ["\u2764\uFE0F", "1\uFE0F\u20E3"]) {
    const shown = rows(wrapLine(head + emoji.repeat(34) + spoof, 80));
    assert.equal(shown.length, 2, JSON.stringify(shown));
    assert.equal(shown[1], CONTINUATION_INDENT + spoof);
  }
});

Deno.test("wrapLine() counts bidi isolates as 0 columns, and closes one a row cuts and opens it again after the next row's indent", () => {
  const fits = "12:34 -!- Topic: \u2068" + "ש".repeat(20) + "\u2069 (by a)";
  assert.equal(wrapLine(fits, 45), fits);
  const line = formatForDisplay(
    { type: "TOPIC", alias: "amy", text: "שלום עולם ".repeat(12) },
    { color: true, time: new Date(2026, 0, 1, 12, 34) },
  )!;
  const shown = rows(wrapLine(line, 40));
  assert.ok(shown.length > 2, JSON.stringify(shown));
  for (const [i, row] of shown.entries()) {
    // Every row a balanced isolate, nothing but ASCII outside it: each
    // row, a paragraph of its own to the terminal, reads left to right,
    // its indent at the left.
    const outside = row.replace(/\u2068[^\u2068\u2069]*\u2069/g, "");
    assert.match(outside, /^[\x20-\x7e]*$/, row);
    if (i > 0 && /\p{Script=Hebrew}/u.test(row)) {
      assert.ok(row.startsWith(CONTINUATION_INDENT + "\u2068"), row);
    }
    assert.ok(width(row.replace(/[\u2068\u2069]/g, "")) <= 40, row);
  }
  const joined = shown.map((row, i) =>
    i === 0 ? row : row.slice(CONTINUATION_INDENT.length)
  ).join("").replace(/\u2069\u2068/g, "");
  assert.equal(joined, rows(line)[0]);
});
