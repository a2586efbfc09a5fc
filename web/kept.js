// @ts-check
/**
 * The user's lines the page keeps across a reload, in its session
 * (`session.js`, the tab's `sessionStorage`, this server's origin only):
 * the outbox (`outbox.js`: messages and `/me` lines not answered, with
 * their ids, rooms and the alias that typed each; whispers typed while
 * the page reconnected, not sent yet), at most {@linkcode KEPT_LINES}
 * lines of {@linkcode KEPT_CHARS} characters in all, the oldest first (how
 * many did not fit is kept, and told); and the lines sent without an id
 * not answered yet (`typed.js`), at most as many, told after the reload as
 * perhaps not sent (without an id they are never sent again), but never a
 * password typed as `/pass`. A reloaded
 * page puts the outbox back, greyed, each line in doubt unless it never
 * left the page, sent again under its id once its room is back (the
 * server's window of ids stores it at most once): only under the alias
 * that typed it. Read back field by field: anything unsound is dropped.
 * Pure.
 *
 * @module
 */

import { told, unsentEntry } from "./entries.js";
import { show } from "./in_room.js";
import { isTaggable, isWhisper, queueLine } from "./outbox.js";
import { isPasswordLine } from "./protocol.js";

/** @typedef {import("./state.js").State} State */

/**
 * A line of the outbox kept across a reload.
 * @typedef {object} KeptLine
 * @property {string} id its id
 * @property {string} room its room (`""`: none)
 * @property {string} text as typed
 * @property {string} alias the alias that typed it
 * @property {boolean} doubt perhaps sent already (handed to a socket)
 */

/**
 * A line sent without an id, not answered: told after the reload.
 * @typedef {object} AskedLine
 * @property {string} room the room shown when it was typed
 * @property {string} text as typed
 */

/**
 * What the page keeps of the user's lines.
 * @typedef {object} KeptLines
 * @property {readonly KeptLine[]} lines the outbox, oldest first
 * @property {number} unkept lines of the outbox over the bounds
 * @property {readonly AskedLine[]} asked lines sent without an id
 */

/** The most lines of the outbox kept across a reload. */
export const KEPT_LINES = 100;

/** The most characters of text kept across a reload, all lines together. */
export const KEPT_CHARS = 65_536;

/**
 * What a state keeps of the user's lines: the outbox, then the lines sent
 * without ids, within the bounds (the oldest first: they go first).
 * @param {State} state
 * @returns {KeptLines}
 */
export function keptOf(state) {
  let chars = 0;
  /** @type {KeptLine[]} */
  const lines = [];
  for (const out of state.outbox) {
    if (lines.length === KEPT_LINES || chars + out.text.length > KEPT_CHARS) {
      break;
    }
    chars += out.text.length;
    const { id, room, text, alias } = out;
    lines.push({ id, room, text, alias, doubt: out.sent || out.doubt });
  }
  // A password typed as `/pass` is never kept (nor told: it is no line said).
  const asked = state.typed.filter(({ text }) => !isPasswordLine(text))
    .slice(0, KEPT_LINES).map(({ room, text }) => ({ room, text }));
  return { lines, unkept: state.outbox.length - lines.length, asked };
}

/** An id as the page makes them (docs/protocol.md "Line ids"). */
const ID = /^[A-Za-z0-9_-]{16,64}$/;

/** An alias as the server takes them. */
const ALIAS = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

/** A room kept: `#name` as the page sends it, or `""`. */
const ROOM = /^(#[a-z0-9_-]{1,32})?$/;

/** Text that is one line, of a line's length at most. */
function isText(/** @type {unknown} */ text) {
  return typeof text === "string" && text.trim() !== "" &&
    text.length <= 8192 && !/[\r\n\0]/.test(text);
}

/** A kept line of the outbox: a message, `/me` or whisper, sound. */
function isKeptLine(/** @type {unknown} */ value) {
  if (typeof value !== "object" || value === null) return false;
  const { id, room, text, alias, doubt } =
    /** @type {Record<string, unknown>} */ (value);
  return typeof id === "string" && ID.test(id) && typeof room === "string" &&
    ROOM.test(room) && isText(text) &&
    (isTaggable(String(text)) || isWhisper(String(text))) &&
    typeof alias === "string" && ALIAS.test(alias) &&
    typeof doubt === "boolean";
}

/** A kept line sent without an id. */
function isAsked(/** @type {unknown} */ value) {
  if (typeof value !== "object" || value === null) return false;
  const { room, text } = /** @type {Record<string, unknown>} */ (value);
  return typeof room === "string" && ROOM.test(room) && isText(text) &&
    !isPasswordLine(String(text));
}

/**
 * The user's lines from a session's fields, each checked (one unsound is
 * dropped, and counted as not kept when of the outbox); none: nothing.
 * @param {unknown} lines @param {unknown} unkept @param {unknown} asked
 * @returns {KeptLines}
 */
export function parseKept(lines, unkept, asked) {
  const all = Array.isArray(lines) ? lines.slice(0, KEPT_LINES) : [];
  const sound = /** @type {KeptLine[]} */ (all.filter(isKeptLine));
  const over = Number.isSafeInteger(unkept) && Number(unkept) > 0
    ? Number(unkept)
    : 0;
  const told = Array.isArray(asked)
    ? /** @type {AskedLine[]} */ (asked.slice(0, KEPT_LINES).filter(isAsked))
    : [];
  return {
    lines: sound.map(({ id, room, text, alias, doubt }) => ({
      id,
      room,
      text,
      alias,
      doubt,
    })),
    unkept: over + all.length - sound.length,
    asked: told.map(({ room, text }) => ({ room, text })),
  };
}

/**
 * A reloaded page's lines: the outbox back, greyed, to be sent again once
 * the page is in (`outbox.js`); the lines sent without an id told as
 * perhaps not sent, and how many were not kept.
 * @param {State} state @param {KeptLines} kept
 * @returns {State}
 */
export function restoreKept(state, kept) {
  /** @type {State} */
  let next = state;
  for (const { room, text } of kept.asked) {
    const why = told`the page was reloaded before an answer`;
    next = show(next, unsentEntry(text, why, true), room);
  }
  if (kept.unkept > 0) {
    const what = told`${`${kept.unkept}`} more lines typed before the reload`;
    next = show(next, unsentEntry(what, told`too many to keep`, false));
  }
  for (const { id, room, text, alias, doubt } of kept.lines) {
    next = queueLine(next, room, text, id, { alias, doubt });
  }
  return next;
}
