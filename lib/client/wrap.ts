/**
 * Lines cut to the terminal's width by the client itself, each row after
 * the first indented, so that no text someone else wrote can start a row
 * of its own: a message padded with spaces or blank characters up to the
 * right margin would otherwise go on at column 0, where it passes for a
 * line of its own (`12:34 -!- mallory was made a room operator`). Widths
 * are counted as terminals count them (wcwidth: East Asian wide characters
 * and emoji 2 columns, combining marks 0, tabs to the next multiple of 8),
 * erring wide: a row cut too early only wastes room, one cut too late
 * would let the terminal wrap it to column 0 again. Pure.
 *
 * @module
 */

import { FSI, PDI } from "../text.ts";

/** What starts every row after a line's first: as wide as `HH:MM `. */
export const CONTINUATION_INDENT = "      ";

/** Narrower than this, lines are left to the terminal. */
const MIN_COLUMNS = 20;

/** The colours and weights `styleText` puts in: they take no room. */
// deno-lint-ignore no-control-regex -- matching escapes is the point
const STYLE = /(\x1b\[[0-9;]*m)/;

/**
 * What a terminal draws over nothing: combining and enclosing marks, and
 * the bidi isolates (FSI…PDI) that display lines put around what others
 * wrote.
 */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u2066-\u2069]$/u;

/**
 * East Asian Wide and Fullwidth characters (Hangul initial jamo, CJK,
 * kana, Hangul syllables, fullwidth forms, their supplementary planes) and
 * emoji shown as emoji: 2 columns. A few emoji blocks are taken whole,
 * erring wide.
 */
const WIDE =
  /^(?:[\u1100-\u115F\u2329\u232A\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uA960-\uA97F\uAC00-\uD7A3\uF900-\uFAFF\uFE10-\uFE19\uFE30-\uFE6F\uFF00-\uFF60\uFFE0-\uFFE6\u{16FE0}-\u{18D08}\u{1AFF0}-\u{1B2FF}\u{1F200}-\u{1F2FF}\u{1F300}-\u{1F64F}\u{1F680}-\u{1F6FF}\u{1F900}-\u{1F9FF}\u{1FA70}-\u{1FAFF}\u{20000}-\u{2FFFD}\u{30000}-\u{3FFFD}]|\p{Emoji_Presentation})$/u;

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/** Columns a character takes (a tab: see {@linkcode wrapLine}). */
function charWidth(char: string): number {
  if (ZERO_WIDTH.test(char)) return 0;
  return WIDE.test(char) ? 2 : 1;
}

/**
 * VARIATION SELECTOR-16: what follows a character shown as text by default
 * (`❤`, `1`, `#`) asks for it as an emoji, which most terminals draw over
 * 2 columns (kitty, WezTerm, Windows Terminal, iTerm2...), though wcwidth
 * counts the pair as 1.
 */
const EMOJI_STYLE = "\uFE0F";

/**
 * Columns a grapheme takes at column `column`: its characters' sum, and at
 * least 2 for one asked for as an emoji ({@linkcode EMOJI_STYLE}).
 */
function graphemeWidth(grapheme: string, column: number): number {
  if (grapheme === "\t") return 8 - (column % 8);
  let width = 0;
  for (const char of grapheme) width += charWidth(char);
  return grapheme.includes(EMOJI_STYLE) ? Math.max(2, width) : width;
}

/**
 * A display line (colour codes allowed, no other control but TAB) cut into
 * rows of at most `columns`, between graphemes, each row after the first
 * starting with {@linkcode CONTINUATION_INDENT}; a line that fits is
 * returned as it is, and so is every line when `columns` is under 20. An
 * isolate (FSI…PDI) cut by a row's end is closed at the end of the row and
 * opened again after the next row's indent: each row is a paragraph of its
 * own to a terminal that orders bidi text, and right-to-left text left
 * bare at the start of a row would make it a right-to-left row, its indent
 * at the right and its text from the left edge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wrapLine } from "./wrap.ts";
 *
 * const line = "12:34 <bob> hi" + " ".repeat(6) + "12:34 -!- fake";
 * assert.equal(wrapLine(line, 20), "12:34 <bob> hi      \n      12:34 -!- fake");
 * assert.equal(wrapLine("12:34 <bob> hi", 20), "12:34 <bob> hi");
 * ```
 */
export function wrapLine(line: string, columns: number): string {
  if (!(columns >= MIN_COLUMNS)) return line;
  let out = "";
  let column = 0;
  let isolates = 0; // open at this point
  for (const [i, piece] of line.split(STYLE).entries()) {
    if (i % 2 === 1) { // a colour code
      out += piece;
      continue;
    }
    for (const { segment } of graphemes.segment(piece)) {
      let width = graphemeWidth(segment, column);
      if (column + width > columns) {
        out += PDI.repeat(isolates) + "\n" + CONTINUATION_INDENT +
          FSI.repeat(isolates);
        column = CONTINUATION_INDENT.length;
        width = graphemeWidth(segment, column);
      }
      if (segment === FSI) isolates++;
      else if (segment === PDI && isolates > 0) isolates--;
      out += segment;
      column += width;
    }
  }
  return out;
}
