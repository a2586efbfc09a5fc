/** Tests of text safety and look-alike aliases, without I/O. */

import assert from "node:assert/strict";
import {
  aliasSkeleton,
  isBlank,
  isolateBidi,
  MAX_MARKS_IN_A_ROW,
  sanitizeText,
} from "../lib/text.ts";

Deno.test("sanitizeText() keeps text and TAB and removes escape sequences", () => {
  assert.equal(sanitizeText("héllo\twörld 🎉 ١٢٣"), "héllo\twörld 🎉 ١٢٣");
  assert.equal(sanitizeText("\x1b[1;31mred\x1b[0m"), "red");
  assert.equal(sanitizeText("\x1b]0;pwned\x07title"), "title");
  assert.equal(
    sanitizeText("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
    "link",
  );
  assert.equal(sanitizeText("a\x1b[2Jb\x07c"), "ab\uFFFDc");
});

Deno.test("sanitizeText() replaces C0, DEL, C1, bidi overrides and separators", () => {
  const unsafe = [
    "\x00",
    "\x07",
    "\x08",
    "\n",
    "\r",
    "\x7f",
    "\u0085",
    "\u009b",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u2028",
    "\u2029",
  ];
  for (const char of unsafe) {
    assert.equal(sanitizeText(`a${char}b`), "a\uFFFDb", JSON.stringify(char));
  }
  // ESC followed by a letter is itself an escape sequence; a lone ESC is not.
  assert.equal(sanitizeText("a\x1bMb"), "ab");
  assert.equal(sanitizeText("a\x1b"), "a\uFFFD");
});

Deno.test("sanitizeText() drops invisible format characters but keeps emoji joiners", () => {
  const invisible = [
    "\u200B",
    "\u200C",
    "\u200D",
    "\u200E",
    "\u200F",
    "\u2060",
    "\u2061",
    "\u2064",
    "\uFEFF",
    "\u{E0001}",
    "\u{E0041}",
    "\u{E007F}",
  ];
  for (const char of invisible) {
    assert.equal(sanitizeText(`pay${char}pal`), "paypal", JSON.stringify(char));
  }
  for (const emoji of ["👩\u200D💻", "❤️\u200D🔥", "👨🏽\u200D🚀"]) {
    assert.equal(sanitizeText(`a ${emoji} b`), `a ${emoji} b`);
  }
  assert.equal(sanitizeText("👍\u200D x"), "👍 x");
  assert.equal(sanitizeText("\u200D💻"), "💻");
});

Deno.test("sanitizeText() leaves no Bidi_Control character: the marks (ALM U+061C too) dropped, the others replaced", () => {
  // Unicode's Bidi_Control property, whole: 061C, 200E, 200F, 202A-202E,
  // 2066-2069.
  const controls = [0x61c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d]
    .concat([0x202e, 0x2066, 0x2067, 0x2068, 0x2069]);
  for (let c = 0; c <= 0x10ffff; c++) {
    const char = String.fromCodePoint(c);
    assert.equal(
      /\p{Bidi_Control}/u.test(char),
      controls.includes(c),
      c.toString(16),
    );
  }
  for (const c of controls) {
    const shown = sanitizeText(`1${String.fromCodePoint(c)}2`);
    assert.ok(!/\p{Bidi_Control}/u.test(shown), c.toString(16));
  }
  assert.equal(sanitizeText("pay\u061C 100"), "pay 100");
});

Deno.test("sanitizeText() keeps at most 4 combining marks in a row on one base: a Zalgo flood is cut", () => {
  assert.equal(MAX_MARKS_IN_A_ROW, 4);
  const above = "\u030D\u030E\u0304\u0305\u033F\u0311\u0306\u0310";
  const below = "\u0316\u0317\u0318\u0319\u031C\u031D\u031E\u031F";
  const zalgo = [..."HE COMES"].map((c) => c + (above + below).repeat(20));
  const capped = sanitizeText(zalgo.join(""));
  assert.equal(
    capped,
    [..."HE COMES"].map((c) => c + above.slice(0, 4)).join(""),
  );
  assert.equal(
    sanitizeText("Z" + "\u0336".repeat(300)),
    "Z\u0336\u0336\u0336\u0336",
  );
  // Enclosing marks stack too (each a ring around the last).
  assert.equal(
    sanitizeText("o" + "\u20DD".repeat(50) + "k"),
    "o" + "\u20DD".repeat(4) + "k",
  );
  // What a terminal draws as nothing does not start a new count: an
  // invisible character (dropped first), a soft hyphen, a Hangul vowel
  // jamo (wcwidth 0) between marks; a variation selector is a mark itself.
  const four = "\u0300\u0301\u0302\u0303";
  assert.equal(sanitizeText(`a${four}\u200B${four}b`), `a${four}b`);
  assert.equal(sanitizeText(`a${four}\u00AD${four}b`), `a${four}\u00ADb`);
  assert.equal(sanitizeText(`a${four}\uFE00${four}b`), `a${four}b`);
  assert.equal(sanitizeText(`a${four}\u1161${four}b`), `a${four}\u1161b`);
  // A new base starts a new count.
  assert.equal(sanitizeText(`a${four}b${four}`), `a${four}b${four}`);
});

Deno.test("sanitizeText() counts marks on across the format characters a terminal draws as nothing: interlinear annotation, Egyptian hieroglyph format controls", () => {
  const four = "\u0336".repeat(4);
  // glibc's wcwidth (what terminals use) gives each of these 0 columns and
  // none is Default_Ignorable: between runs of 4 marks, they let a Zalgo
  // flood through whole (Z and 300 marks stacked, 75 runs of 4).
  for (const gap of ["\uFFF9", "\uFFFA", "\uFFFB", "\u{13430}", "\u{1343F}"]) {
    const capped = sanitizeText("Z" + (four + gap).repeat(75));
    assert.equal(
      [...capped.matchAll(/\u0336/g)].length,
      4,
      `U+${gap.codePointAt(0)!.toString(16).toUpperCase()} between marks`,
    );
  }
  // Visible format characters (a prepended concatenation mark is drawn,
  // one column) are bases of their own.
  assert.equal(
    sanitizeText(`a${four}\u0600${four}`),
    `a${four}\u0600${four}`,
  );
});

Deno.test("sanitizeText() leaves the marks of real scripts as they are: Vietnamese, Devanagari, Hebrew, Arabic, Thai, Tibetan, Korean, Japanese, emoji", () => {
  const texts = [
    "Tiếng Việt có dấu: người, những, được, Nguyễn",
    "Tiếng Việt có dấu: người, những, được, Nguyễn".normalize("NFD"),
    "संस्कृतम् हिन्दी क्ष्म्य स्त्र्यं अँगना",
    "בְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים שָּׁ",
    "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ",
    "สวัสดีครับ กี่ ปู่ น้ำ",
    "བཀྲ་ཤིས་བདེ་ལེགས། སྒྲུབ ཧྨྱཱུ",
    "1️⃣ #️⃣ 🏳️‍🌈 👁️‍🗨️ 👩🏽‍💻",
    "ǹ̄ ḗ ṏ", // Latin letters with two precomposed and one added mark
    "한국어 がぎぐ".normalize("NFD"), // Hangul jamo, kana and dakuten
  ];
  for (const text of texts) assert.equal(sanitizeText(text), text, text);
});

Deno.test("aliasSkeleton() maps the ASCII confusables of TR39 and ignores punctuation", () => {
  const alike: [string, string][] = [
    ["AIice", "Alice"],
    ["A1ice", "alice"],
    ["ALICE", "AL1CE"],
    ["b0b", "bob"],
    ["Mallory", "rnallory"],
    ["ALlCE", "alice"],
    ["alice", "allce"],
    ["rnallory", "mallory"],
    ["B0B", "BOB"],
    ["l1I", "lll"],
    // Punctuation passes unnoticed: ignored wherever it is.
    ["carol.", "carol"],
    ["_carol", "Carol"],
    ["carol_", "CAROL"],
    ["ca.rol", "c-a_r.o-l"],
    ["r.n", "m"],
    ["b_0-b", "bob"],
  ];
  for (const [a, b] of alike) assert.equal(aliasSkeleton(a), aliasSkeleton(b));
  const distinct: [string, string][] = [
    ["bob", "bod"],
    ["carol", "caro1l"],
    ["alice", "aiace"],
  ];
  for (const [a, b] of distinct) {
    assert.notEqual(aliasSkeleton(a), aliasSkeleton(b), `${a} ${b}`);
  }
});

Deno.test("isBlank() is true of text that shows nothing, after sanitising", () => {
  const blank = [
    "",
    " \t ",
    "\u00A0\u2002\u2003\u200A\u202F\u205F\u3000", // spaces of every width
    "\u3164\u3164", // Hangul filler
    "\uFFA0\u115F\u1160", // the other Hangul fillers
    "\u2800\u2800", // braille pattern blank
    "\u00AD\u034F\u180E\uFE0F", // soft hyphen, CGJ, Mongolian, VS16
    "\u{E0041}\u{E0042}", // tags
    "\u2061\u2062\u2063", // invisible operators
  ];
  for (const text of blank) {
    assert.equal(isBlank(text), true, JSON.stringify(text));
  }
  // What sanitising leaves of zero-width characters and escapes.
  const sanitised = sanitizeText("\u200B \u200D\u200C \x1b[0m\uFEFF ");
  assert.equal(isBlank(sanitised), true, JSON.stringify(sanitised));
  const shown = [
    "a",
    "\u3164a\u3164",
    "\u2801", // a braille cell with a dot
    "\u0301", // a lone combining mark shows on a dotted circle
    "\uFFFD", // what sanitising puts for a control
    "🎉",
    ".",
  ];
  for (const text of shown) {
    assert.equal(isBlank(text), false, JSON.stringify(text));
  }
});

Deno.test("aliasSkeleton() maps only TR39's confusables among alias characters", () => {
  // TR39's confusables.txt maps these alias characters, and no others.
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const mapped = [...alphabet].filter((c) => aliasSkeleton(c) !== c);
  assert.deepEqual(mapped, ["i", "m", "0", "1"]);
  // Look-alikes that TR39 does not list stay apart.
  const notInTr39: [string, string][] = [
    ["s5", "ss"],
    ["z2", "zz"],
    ["b8", "bb"],
    ["vv", "w"],
    ["cl", "d"],
    ["uv", "uu"],
    ["g9", "gq"],
    ["b6", "bb"],
  ];
  for (const [a, b] of notInTr39) {
    assert.notEqual(aliasSkeleton(a), aliasSkeleton(b), `${a} ${b}`);
  }
});

Deno.test("isolateBidi() puts text that is not plain ASCII in FSI…PDI and leaves ASCII as it is", () => {
  for (const text of ["שלום", "مرحبا", "héllo", "١٢٣", "a\uFFFD", "🎉"]) {
    assert.equal(isolateBidi(text), `\u2068${text}\u2069`, text);
  }
  for (const text of ["", "bob", "#ops", "12 (3) !?"]) {
    assert.equal(isolateBidi(text), text, text);
  }
});
