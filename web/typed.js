// @ts-check
/**
 * What the user typed that carries no id (docs/protocol.md: ids only on
 * messages and `/me`): whispers (`/msg`), other commands, and every line
 * on a server without `ids`. Such a line cannot wait in the outbox and be
 * sent again (`outbox.js`): a resend might do it twice (a whisper typed
 * while the page reconnects waits there unsent, and comes here once it
 * goes, never again). But it must not
 * vanish silently either, so each one sent on this connection is kept in
 * `state.typed` until the server answers it; when the socket closes, one
 * that never left the page (still waiting in the pacer, `pace.js`: the
 * `closed` event lists them) is shown as not sent, and one that left
 * without an answer as perhaps not sent, each with its text to copy.
 * An answer: a whisper's `SENT` (its target and text), or, the server
 * answering a connection's lines in order, the next line addressed to
 * the member (an `ERR` without id, an `INFO`, a `WHO`, a `TOPIC` shown
 * or set by it, its own `NICK`, `JOIN`, `LEAVE`, `MOD` or message: one it
 * did, not another member's action on it), which answers the oldest. That
 * is approximate: a refusal of a line the page sent itself may be taken
 * for a command's answer; the members it asked for (`state.whoAsked`: a
 * `WHO` answers the page's own `/who` first) and the answers to its own
 * `/join` lines are not (`received.js` says which), nor the topic and
 * history that come with any join (its `JOIN` to the next `CURRENT`). At most
 * {@linkcode TYPED_KEPT} are kept. Handlers of the reducer (`state.js`):
 * pure.
 *
 * @module
 */

import { told, unsentEntry } from "./entries.js";
import { isPasswordLine, parseWhisper } from "./protocol.js";
import { show } from "./in_room.js";

/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/**
 * A line the user typed, sent without an id, not answered yet.
 * @typedef {object} TypedLine
 * @property {string} text as typed
 * @property {string} room the room shown when it was typed (`""`: none)
 * @property {string} wire as sent (with its room's prefix)
 * @property {string} to a whisper's target, lower case (`""`: no whisper)
 */

/** The most typed lines kept unanswered (a command flood stays small). */
export const TYPED_KEPT = 50;

/**
 * Lines addressed to this member only, each an answer to one of its
 * lines: the oldest typed line not answered is taken as answered.
 */
const ANSWERS = new Set([
  "ERR",
  "INFO",
  "WHO",
  "TOPIC",
  "BAN",
  "ROOM",
  "FOUNDEND",
  "HISTEND",
]);

/** The server's lines that are an answer when about this member. */
const OWN_ANSWERS = new Set(["MSG", "ME", "NICK", "JOIN", "LEAVE", "MOD"]);

/**
 * A typed line sent without an id: kept until answered.
 * @param {State} state @param {string} text @param {string} room
 * @param {string} wire
 * @returns {State}
 */
export function typedSent(state, text, room, wire) {
  const whisper = parseWhisper(text);
  // A password is never shown again (nor kept: `kept.js`), only that it was.
  const shown = isPasswordLine(text) ? "/pass …" : text;
  /** @type {TypedLine} */
  const typed = {
    text: shown,
    room,
    wire,
    to: whisper?.to.toLowerCase() ?? "",
  };
  return { ...state, typed: [...state.typed, typed].slice(-TYPED_KEPT) };
}

/**
 * A server line: a whisper's `SENT` answers it (and the lines before it:
 * answers come in order); another answer the oldest line kept; the topic
 * and history that come with a join (its own `JOIN` to `CURRENT`), and
 * every line of a join the page sent itself (`pageJoin`), none; nor the
 * members of a room the page asked for itself (`state.whoAsked`).
 * @param {State} state @param {Line} line @param {boolean} [pageJoin]
 * @returns {State}
 */
export function typedAnswered(state, line, pageJoin = false) {
  if (line.type === "WHO" && line.id === "" && state.whoAsked > 0) {
    return { ...state, whoAsked: state.whoAsked - 1 }; // the page's own
  }
  const entering = enteringAfter(state, line);
  const next = entering === state.entering ? state : { ...state, entering };
  if (next.typed.length === 0 || pageJoin) return next;
  return answeredBy(next, line);
}

/**
 * The rooms whose own `JOIN` came and whose join's answer (its topic and
 * history) runs until the next `CURRENT`, which ends it.
 * @param {State} state @param {Line} line
 * @returns {readonly string[]}
 */
function enteringAfter(state, line) {
  if (line.type === "CURRENT") {
    return state.entering.length === 0 ? state.entering : [];
  }
  if (line.type !== "JOIN" || !self(state, line)) return state.entering;
  const room = line.inRoom;
  return state.entering.includes(room)
    ? state.entering
    : [...state.entering, room].slice(-TYPED_KEPT);
}

/** A join's own answer: what comes between its `JOIN` and `CURRENT`. */
const JOIN_PARTS = new Set(["TOPIC", "HIST", "HISTEND"]);

/**
 * The oldest typed line `line` answers goes (through a `SENT`'s own line).
 * @param {State} state @param {Line} line
 * @returns {State}
 */
function answeredBy(state, line) {
  if (
    JOIN_PARTS.has(line.type) && line.seq === "" &&
    state.entering.includes(line.inRoom)
  ) return state;
  if (line.type === "SENT") {
    const to = line.alias.toLowerCase();
    const at = state.typed.findIndex((t) =>
      t.to === to && parseWhisper(t.text)?.text === line.text.trim()
    );
    return { ...state, typed: state.typed.slice(at + 1) };
  }
  const ours = self(state, line);
  // A flood warning answers nothing: the line it is about goes on; a topic
  // from the log (numbered) is everyone's, an answer only when the user set it.
  const answers = (ANSWERS.has(line.type) && line.id === "" &&
    line.code !== "flood" &&
    (line.type !== "TOPIC" || line.seq === "" || ours)) ||
    (OWN_ANSWERS.has(line.type) && ours && line.id === "");
  return answers ? { ...state, typed: state.typed.slice(1) } : state;
}

/**
 * Whether the user did what `line` tells: its alias is the actor (a
 * `MOD`'s operator, not its target; not the one a kick or ban took out),
 * never another member acting on it.
 * @param {State} state @param {Line} line
 */
function self(state, line) {
  const me = state.alias.toLowerCase();
  if (me === "") return false;
  if (line.type === "MOD") return line.by.toLowerCase() === me;
  if (line.type === "LEAVE" && OTHERS_LEAVES.has(line.reason)) return false;
  return line.alias.toLowerCase() === me;
}

/** A member's leaving a room by another's doing. */
const OTHERS_LEAVES = new Set(["kicked", "banned"]);

/**
 * The socket closed: each typed line not answered is shown, with its
 * text, as not sent (`unsent` holds its wire line: it never left the
 * page) or perhaps not sent (it left; its answer never came).
 * @param {State} state @param {readonly string[]} unsent
 * @returns {State}
 */
export function typedClosed(state, unsent) {
  const left = [...unsent];
  /** @type {State} */
  let next = { ...state, typed: [], entering: [], whoAsked: 0 };
  for (const typed of state.typed) {
    const at = left.indexOf(typed.wire);
    if (at >= 0) left.splice(at, 1);
    const entry = at >= 0
      ? unsentEntry(typed.text, told`disconnected before it left`, false)
      : unsentEntry(typed.text, told`disconnected before an answer`, true);
    next = show(next, entry, typed.room);
  }
  return next;
}
