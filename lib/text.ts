/**
 * Text safety, pure: what may reach a terminal or a page, and which aliases
 * look alike. {@linkcode sanitizeText} removes terminal escape sequences,
 * replaces controls and bidi overrides by U+FFFD, drops invisible format
 * characters (keeping a zero-width joiner inside an emoji sequence) and
 * keeps at most {@linkcode MAX_MARKS_IN_A_ROW} combining marks on one base;
 * {@linkcode isolateBidi} wraps a piece of text in a bidi isolate, so that
 * right-to-left text cannot reorder what a client writes around it;
 * {@linkcode isBlank} says whether text would show as nothing at all;
 * {@linkcode fitBytes} cuts text to so many bytes between graphemes;
 * {@linkcode aliasSkeleton} is the Unicode TR39 confusable skeleton of an
 * alias without its punctuation, so that `AIice`, `alice_` and `Alice` are
 * known to look the same.
 *
 * @module
 */

/**
 * Complete terminal escape sequences: CSI (`ESC [ ... final`), OSC, DCS, SOS,
 * PM and APC strings ended by BEL or `ESC \`, and two-byte escapes.
 */
const ESCAPE_SEQUENCES =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)|[\x20-\x2f]*[\x30-\x7e])/g;

/**
 * Characters never forwarded as they are. Replaced by U+FFFD: C0 controls
 * except TAB, DEL, C1 controls, bidi embeddings, overrides and isolates, and
 * the Unicode line and paragraph separators. Dropped: the invisible format
 * characters U+200B–U+200F, U+2060–U+2064, U+FEFF, the tag characters
 * U+E0000–U+E007F (a zero-width joiner between two emoji is kept), and
 * U+061C ARABIC LETTER MARK, the third invisible bidi mark with U+200E and
 * U+200F (so every Bidi_Control character is dropped or replaced).
 */
const UNSAFE_CHARACTERS =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]|[\u061C\u200B-\u200F\u2060-\u2064\uFEFF\u{E0000}-\u{E007F}]/gu;

const INVISIBLE =
  /^[\u061C\u200B-\u200F\u2060-\u2064\uFEFF\u{E0000}-\u{E007F}]$/u;
const EMOJI = /^\p{Extended_Pictographic}$/u;
/** What may follow an emoji before a joiner: VS16 or a skin tone. */
const EMOJI_SUFFIX = /^[\uFE0F\u{1F3FB}-\u{1F3FF}]$/u;

function replaceUnsafe(char: string, offset: number, text: string): string {
  if (!INVISIBLE.test(char)) return "\uFFFD";
  return char === "\u200D" && joinsEmoji(text, offset) ? char : "";
}

/** Whether the joiner at `offset` stands between two emoji. */
function joinsEmoji(text: string, offset: number): boolean {
  const before = [...text.slice(Math.max(0, offset - 4), offset)];
  let last = before.pop();
  if (last !== undefined && EMOJI_SUFFIX.test(last)) last = before.pop();
  const next = String.fromCodePoint(text.codePointAt(offset + 1) ?? 0);
  return last !== undefined && EMOJI.test(last) && EMOJI.test(next);
}

/**
 * Most nonspacing or enclosing marks (gc=Mn, Me) kept in a row on one base
 * character: what UTS #39 (5.4, Optional Detection) suggests refusing more
 * of. Real text needs fewer: Vietnamese decomposed 2, Thai 2, Hebrew with
 * points 3, Devanagari 2 per consonant, Tibetan stacks up to 4, while a
 * "Zalgo" flood stacks hundreds on one letter and draws over the lines
 * above and below it.
 */
export const MAX_MARKS_IN_A_ROW = 4;

/**
 * A run of marks on one base: nonspacing and enclosing marks, and what a
 * terminal draws as nothing between them (default ignorables, the Hangul
 * vowel and final jamo, the interlinear annotation characters and the
 * Egyptian hieroglyph format controls, all of wcwidth 0), which must not
 * start a new count.
 */
const MARK_RUN =
  /[\p{Mn}\p{Me}][\p{Mn}\p{Me}\p{Default_Ignorable_Code_Point}\u1160-\u11FF\uD7B0-\uD7FF\uFFF9-\uFFFB\u{13430}-\u{1343F}]*/gu;

const MARKS = /[\p{Mn}\p{Me}]/gu;

/** A run of marks with those past {@linkcode MAX_MARKS_IN_A_ROW} dropped. */
function capMarks(run: string): string {
  // No more UTF-16 units than the cap: no more marks either (most runs).
  if (run.length <= MAX_MARKS_IN_A_ROW) return run;
  let marks = 0;
  for (const { index } of run.matchAll(MARKS)) {
    if (++marks > MAX_MARKS_IN_A_ROW) {
      return run.slice(0, index) + run.slice(index).replace(MARKS, "");
    }
  }
  return run;
}

/**
 * Makes text safe to show on anyone's terminal or page: terminal escape
 * sequences are removed, other controls and bidi overrides become U+FFFD,
 * invisible format characters are dropped, except a zero-width joiner
 * inside an emoji sequence, and of the combining marks in a row on one
 * base only the first {@linkcode MAX_MARKS_IN_A_ROW} are kept.
 *
 * @example Escape sequences, controls, invisible characters, mark floods
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeText } from "./text.ts";
 *
 * assert.equal(sanitizeText("\x1b[31mred\x1b[0m\x07"), "red\uFFFD");
 * assert.equal(sanitizeText("pay\u200Bpal"), "paypal");
 * assert.equal(sanitizeText("👩\u200D💻"), "👩\u200D💻");
 * const zalgo = "Z" + "\u0336".repeat(300);
 * assert.equal(sanitizeText(zalgo), "Z" + "\u0336".repeat(4));
 * ```
 */
export function sanitizeText(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, "")
    .replace(UNSAFE_CHARACTERS, replaceUnsafe)
    .replace(MARK_RUN, capMarks);
}

/**
 * Someone's text read back from storage (a line's `text`, a topic, a
 * ban's or mute's reason, a goodbye, a line the search index found), made
 * as {@linkcode sanitizeText} makes a client's text today: text that a
 * release before the cap on combining marks (or any other rule since)
 * stored is sent under today's rules, without rewriting what is stored.
 * Once per read from storage (what was read is kept in memory), not per
 * member it goes to; text this release stored comes back unchanged.
 */
export function storedText(text: string): string {
  return sanitizeText(text);
}

const utf8 = new TextEncoder();
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, between graphemes (a
 * letter and its marks, an emoji sequence), as IRC servers cut a topic or
 * a reason over their `TOPICLEN` or `KICKLEN`; between code points when
 * its first grapheme alone is longer (a long emoji sequence). Text within
 * `maxBytes` comes back as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitBytes } from "./text.ts";
 *
 * assert.equal(fitBytes("abcdé", 5), "abcd");
 * assert.equal(fitBytes("ab👍🏽", 8), "ab");
 * assert.equal(fitBytes("short", 512), "short");
 * ```
 */
export function fitBytes(text: string, maxBytes: number): string {
  if (text.length <= maxBytes / 3 || utf8.encode(text).length <= maxBytes) {
    return text; // 3 bytes at most per UTF-16 unit
  }
  const fit = (parts: Iterable<string>) => {
    let [bytes, end] = [0, 0];
    for (const part of parts) {
      bytes += utf8.encode(part).length;
      if (bytes > maxBytes) break;
      end += part.length;
    }
    return text.slice(0, end);
  };
  const whole = fit(Array.from(graphemes.segment(text), (g) => g.segment));
  return whole !== "" ? whole : fit(text);
}

/** U+2068 FIRST STRONG ISOLATE: opens an isolate ({@linkcode isolateBidi}). */
export const FSI = "\u2068";

/** U+2069 POP DIRECTIONAL ISOLATE: closes what {@linkcode FSI} opened. */
export const PDI = "\u2069";

/** Printable ASCII: left-to-right letters, digits and neutrals only. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * A piece of text someone chose (an alias, a topic, a reason, a room name,
 * a message) made into a bidi isolate, FSI…PDI (Unicode UAX #9), to be
 * embedded in a line a client composes: inside, it takes its own direction
 * from its first strong letter; outside, it counts as one neutral, so that
 * right-to-left text cannot swap the punctuation and words around it
 * (`-!- bob was kicked by amy: REASON`) nor turn the whole line
 * right-to-left. Text of printable ASCII is returned as it is: where every
 * piece that is not ASCII is isolated, the line outside the isolates is
 * left-to-right throughout, so isolating it too would change nothing. Give
 * it sanitised text ({@linkcode sanitizeText} leaves no isolate control
 * that could close this one early).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isolateBidi } from "./text.ts";
 *
 * assert.equal(isolateBidi("שלום"), "\u2068שלום\u2069");
 * assert.equal(isolateBidi("bob"), "bob");
 * ```
 */
export function isolateBidi(text: string): string {
  return PRINTABLE_ASCII.test(text) ? text : FSI + text + PDI;
}

/**
 * What shows as nothing, alone or in a row: Unicode's White_Space (spaces of
 * every width, U+3000 among them, and line breaks), its
 * Default_Ignorable_Code_Point (invisible format characters, variation
 * selectors, tags, the soft hyphen, the combining grapheme joiner, and the
 * Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, which fonts draw as
 * blank letters), and U+2800 BRAILLE PATTERN BLANK (an empty braille cell).
 * A lone combining mark is not in it: it shows, on a dotted circle.
 */
const BLANK = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\u2800]*$/u;

/**
 * Whether text would show as nothing: empty, or only blank and filler
 * characters (see {@linkcode BLANK}). Judge text after
 * {@linkcode sanitizeText}, which may leave only those.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBlank, sanitizeText } from "./text.ts";
 *
 * assert.equal(isBlank(sanitizeText(" \u200B \u3164\u2800 ")), true);
 * assert.equal(isBlank("\u3164hi"), false);
 * assert.equal(isBlank("\u0301"), false);
 * ```
 */
export function isBlank(text: string): boolean {
  return BLANK.test(text);
}

/**
 * Prototypes of the alias characters that look like others in some letter
 * case, checked against Unicode's confusables.txt (TR39, the 10.0.0 file).
 * Of the characters an alias may hold (ASCII letters, digits, `_ . -`), it
 * maps exactly four, `0 → O`, `1 → l`, `I → l` and `m → rn` (its other
 * ASCII entries, `"`, `` ` `` and `|`, cannot be in an alias), and nothing
 * else: `5`/`S`, `2`/`Z`, `8`/`B`, `vv`/`w` or `cl`/`d` are not in it, so
 * they are not here either. Not in TR39 as such: lower case `i → l` and
 * `0 → o`. Aliases ignore case (`AIice` is `aiice`, which anyone may write
 * with a capital `I`), so the skeleton works in lower case, where TR39's
 * `I` and `O` are `i` and `o`; it therefore also takes `L`, `i` and `l`
 * (and `RN`, `M`) as alike, erring on the side of refusing an alias.
 */
const CONFUSABLE_PROTOTYPES: Readonly<Record<string, string>> = {
  "0": "o",
  "1": "l",
  "i": "l",
  "m": "rn",
};

/** The punctuation aliases may hold: ignored when comparing looks. */
const ALIAS_PUNCTUATION = /[_.-]/g;

/**
 * The confusable skeleton of an alias (ASCII letters, digits, `_ . -`):
 * TR39's in lower case, since aliases ignore case, and without punctuation,
 * which passes unnoticed at the edge of a name (`carol.`, `_carol`) or
 * inside it (`ca.rol`). Two aliases that look alike in any of their case
 * variants have the same skeleton.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aliasSkeleton } from "./text.ts";
 *
 * assert.equal(aliasSkeleton("AIice"), aliasSkeleton("alice"));
 * assert.equal(aliasSkeleton("rnallory"), aliasSkeleton("Mallory"));
 * assert.equal(aliasSkeleton("b0b"), aliasSkeleton("bob"));
 * assert.equal(aliasSkeleton("_carol."), aliasSkeleton("carol"));
 * assert.notEqual(aliasSkeleton("alice"), aliasSkeleton("aiace"));
 * ```
 */
export function aliasSkeleton(alias: string): string {
  return alias.toLowerCase().replace(ALIAS_PUNCTUATION, "").replace(
    /[01im]/g,
    (char) => CONFUSABLE_PROTOTYPES[char]!,
  );
}
