/**
 * UTF-8 sizes and cuts of text for the IRC door's 512-byte lines, counted
 * from the UTF-16 units without encoding (an encoder for each grapheme of
 * every line sent took 2 ms a 4 KB message, for each IRC client it went
 * to): how many bytes a text takes, and text cut into parts of at most so
 * many bytes, between graphemes where it can.
 *
 * @module
 */

/** UTF-8 bytes of `text` as `TextEncoder` writes it (see {@linkcode codeBytes}). */
export function byteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += codeUnits(text, i)) {
    bytes += codeBytes(text, i);
  }
  return bytes;
}

/**
 * UTF-8 bytes of the code point at UTF-16 index `i`, counted without
 * encoding (an encoder for each grapheme of every line sent took 2 ms a
 * 4 KB message, for each IRC client it went to): a lone surrogate is sent
 * as U+FFFD, 3 bytes.
 */
function codeBytes(text: string, i: number): number {
  const unit = text.charCodeAt(i);
  if (unit < 0x80) return 1;
  if (unit < 0x800) return 2;
  return codeUnits(text, i) === 2 ? 4 : 3;
}

/** UTF-16 units of the code point at index `i`: 2 for a surrogate pair. */
function codeUnits(text: string, i: number): number {
  const unit = text.charCodeAt(i);
  const next = text.charCodeAt(i + 1); // NaN past the end
  const pair = unit >= 0xD800 && unit <= 0xDBFF && next >= 0xDC00 &&
    next <= 0xDFFF;
  return pair ? 2 : 1;
}

/**
 * Text cut into parts of at most `maxBytes` UTF-8 bytes, never inside a
 * character, and between graphemes (an emoji sequence, a letter and its
 * accents) unless one grapheme alone is longer than `maxBytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitBytes } from "./utf8_parts.ts";
 *
 * assert.deepEqual(splitBytes("abcdé", 5), ["abcd", "é"]);
 * assert.deepEqual(splitBytes("ab👍🏽", 8), ["ab", "👍🏽"]);
 * ```
 */
export function splitBytes(text: string, maxBytes: number): string[] {
  const parts: string[] = [];
  const segments = PRINTABLE_ASCII.test(text) ? null : graphemes.segment(text);
  let start = 0;
  while (start < text.length) {
    const end = fitting(text, start, maxBytes);
    // The start of the grapheme cut, if it is not the part's first.
    const grapheme = end < text.length ? segments?.containing(end)?.index : end;
    const cut = grapheme !== undefined && grapheme > start ? grapheme : end;
    parts.push(text.slice(start, cut));
    start = cut;
  }
  return parts.length === 0 ? [""] : parts;
}

/**
 * Where the longest run of whole code points from `start` within
 * `maxBytes` ends (one code point at least).
 */
function fitting(text: string, start: number, maxBytes: number): number {
  let end = start;
  let bytes = 0;
  while (end < text.length) {
    const size = codeBytes(text, end);
    if (bytes + size > maxBytes && end > start) break;
    bytes += size;
    end += codeUnits(text, end);
  }
  return end;
}

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/** Text each character of which is a grapheme of one byte. */
const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;
