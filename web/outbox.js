// @ts-check
/**
 * The user's messages and `/me` lines until the server answers them, as
 * the terminal client keeps them (lib/client/pending.ts), with the `ids`
 * capability: each gets an id (made by app.js from 128 random bits: the
 * `say` event brings it), is shown at once in its room's log greyed
 * ("sending", class `pending`), and stays in `state.outbox` until its
 * echo (`@id=ID MSG ...`), which takes its place where it comes in the
 * room's order, or an `ERR` with its id, which turns it into a "Not sent"
 * entry with the reason and the text kept to copy. `ERR unknown` (the room
 * log cannot say) sends it once more under the same id. A line is sent
 * only while its room is ready (joined, not held, its rejoin and catch-up
 * done), in the order typed; when the socket closes, every line not
 * answered waits, and goes again under its id once its room is back: the
 * server's window of ids stores it at most once (`duplicate`: its echo
 * again, as first sent: its room, its number). A line the catch-up shows (sent, stored, its echo lost with the
 * connection) leaves the outbox's entry, and the echo of its resend is not
 * shown again. A line goes only under the alias that typed it: after a
 * rename (or a reload that came back as another member) it is not sent,
 * and says so, unless the catch-up showed it stored. Whispers (`/msg`) and
 * other commands carry no id (docs/protocol.md): they go at once, kept by
 * `typed.js` until answered; a whisper typed while the page reconnects
 * waits here, greyed, and goes once (no id: never again) when the page is
 * back, handed to `typed.js`. The outbox is kept across a reload
 * (`kept.js`). Handlers of the reducer (`state.js`): pure.
 *
 * @module
 */

import { send } from "./effects.js";
import { unsentEntry } from "./entries.js";
import { roomOf, show, toRoom, updateRoom } from "./in_room.js";
import { parseWhisper, tagLine } from "./protocol.js";
import { typedSent } from "./typed.js";

/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/**
 * A line the user sent with an id, not answered yet.
 * @typedef {object} OutLine
 * @property {string} id its id
 * @property {string} room the room it was said in (`""`: none)
 * @property {string} text as typed (a message, `/me ...`, or `/msg ...`)
 * @property {string} alias the alias that typed it: sent under no other
 * @property {boolean} whisper a whisper typed while the page was not in:
 *   sent once, without its id (which only names its greyed entry), then
 *   kept by `typed.js`
 * @property {boolean} sent handed to this connection's socket
 * @property {boolean} doubt sent on a connection that closed before
 *   its answer: perhaps stored
 * @property {boolean} seen the catch-up showed it: its echo is not shown
 * @property {boolean} resent sent once more after `ERR unknown`
 */

/** How many answered ids are remembered, to show each echo once. */
const ECHOED_KEPT = 200;

/**
 * Whether a typed line carries an id: a message (text, or `//` for one
 * starting with `/`) or a `/me` line; no other command may.
 * @param {string} text
 */
export function isTaggable(text) {
  if (/^\/me( |$)/i.test(text)) return true;
  return !text.startsWith("/") || text.startsWith("//");
}

/**
 * Whether a typed line is a whisper (`/msg ALIAS TEXT`) that may wait in
 * the outbox while the page reconnects. @param {string} text
 */
export function isWhisper(text) {
  return parseWhisper(text) !== null;
}

/**
 * A typed line to send with its id: shown greyed in its room at once,
 * sent when its room is ready ({@linkcode flushOutbox}); a whisper
 * (`whisper`) goes once without it.
 * @param {State} state @param {string} room @param {string} text
 * @param {string} id @param {{ doubt?: boolean, alias?: string }} [kept]
 *   a line kept across a reload: perhaps sent by the page before, typed
 *   under `alias`
 * @returns {State}
 */
export function queueLine(state, room, text, id, kept = {}) {
  /** @type {OutLine} */
  const out = {
    id,
    room,
    text,
    alias: kept.alias ?? state.alias,
    whisper: !isTaggable(text),
    sent: false,
    doubt: kept.doubt ?? false,
    seen: false,
    resent: false,
  };
  /** @type {Entry} */
  const entry = {
    className: "pending",
    parts: [
      { kind: "alias", text: out.alias },
      { kind: "text", text: " " },
      { kind: "said", text },
    ],
    when: "sending",
    dated: false,
    pendingId: id,
  };
  const queued = { ...state, outbox: [...state.outbox, out] };
  return updateRoom(queued, room, (r) => ({ log: [...r.log, entry] }));
}

/**
 * Whether a room takes lines now: joined, its rejoin answered and its
 * catch-up shown (lines said before the reconnect come first).
 * @param {State} state @param {string} name
 */
function ready(state, name) {
  const room = state.rooms.get(name);
  return state.phase === "joined" && room !== undefined && !room.held &&
    room.catchUp === null && !state.joining.includes(name);
}

/**
 * After each step: sends, in order, the lines of the outbox not sent on
 * this connection whose room is ready, under the alias that typed them
 * (a whisper, once: it leaves for `typed.js`); one whose room the page is
 * no longer in (left, refused), or typed under another alias, is not
 * sent, and says so ("perhaps" for one sent on a connection that closed
 * before its answer), unless the catch-up showed it stored.
 * @param {State} state
 * @returns {State}
 */
export function flushOutbox(state) {
  if (state.phase !== "joined") return state;
  /** @type {State} */
  let next = state;
  for (const out of state.outbox) {
    if (out.sent) continue;
    const gone = !state.rooms.has(out.room);
    if (!gone && !ready(state, out.room)) continue;
    if (out.seen && (gone || !sameAlias(out.alias, state.alias))) {
      next = forget(next, out); // stored: the catch-up showed it
    } else if (gone) {
      next = unsent(next, out, `you are not in ${out.room}`);
    } else if (!sameAlias(out.alias, state.alias)) {
      const now = `typed as ${out.alias}, you are ${state.alias} now`;
      next = unsent(next, out, now);
    } else if (out.whisper) {
      next = whisperNow(next, out);
    } else {
      next = change(next, out.id, { sent: true });
      next = send(next, wireLine(next, out));
    }
  }
  return next;
}

/** Whether two aliases are one (the server's are unique in any case). @param {string} a @param {string} b */
function sameAlias(a, b) {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * A whisper that waited goes, once, without an id: it leaves the outbox
 * (its greyed entry too: its `SENT` shows it) for `typed.js`, which tells
 * if it is not answered. @param {State} state @param {OutLine} out
 */
function whisperNow(state, out) {
  const wire = toRoom(state, out.room, out.text);
  return typedSent(send(forget(state, out), wire), out.text, out.room, wire);
}

/** The line on the wire: its id, its room's prefix, the text. @param {State} state @param {OutLine} out */
function wireLine(state, out) {
  return tagLine(out.id, toRoom(state, out.room, out.text));
}

/**
 * The socket closed: every line sent and not answered may have been
 * stored or not; each is sent again under its id once its room is back.
 * @param {State} state
 * @returns {State}
 */
export function outboxClosed(state) {
  const outbox = state.outbox.map((out) =>
    out.sent ? { ...out, sent: false, doubt: true } : out
  );
  return { ...state, outbox };
}

/**
 * The page left for good (`/quit`, a kick, a ban): no line of the outbox
 * will go; each says so, perhaps stored when it was on its way.
 * @param {State} state
 * @returns {State}
 */
export function outboxAbandoned(state) {
  return state.outbox.reduce(
    (next, out) => unsent(next, out, "disconnected", out.sent || out.doubt),
    state,
  );
}

/**
 * A message or action line about the outbox: its echo (the entry shown
 * greyed leaves; the echo is shown unless the catch-up showed the line,
 * or it is a second echo: numbered, it is shown unless its room shows
 * that number already), or a line of the catch-up by this member with
 * the text of a line in doubt (shown: the line was stored; its greyed
 * entry leaves). Returns the state and the line to show (null: none).
 * @param {State} state @param {Line} line
 * @returns {{ state: State, line: Line | null }}
 */
export function echoed(state, line) {
  if (line.type !== "MSG" && line.type !== "ME") return { state, line };
  const out = state.outbox.find((o) => o.id !== "" && o.id === line.id);
  if (out === undefined) {
    if (line.id !== "" && state.echoed.includes(line.id)) {
      return { state, line: null };
    }
    return { state: caughtUp(state, line), line };
  }
  const answered = {
    ...forget(state, out),
    echoed: [...state.echoed, out.id].slice(-ECHOED_KEPT),
  };
  // A duplicate's echo comes with its room; from an older server, it may
  // come without: the line's is known.
  const inRoom = line.inRoom === "" && out.room !== "" ? out.room : line.inRoom;
  // Numbered: shown already when its room shows that number (the catch-up
  // brought it, as stored: the text typed may differ, and the same alias
  // and text may be another line); else as the catch-up matched it.
  const seq = Number(line.seq) || 0;
  const shown = seq > 0
    ? numberShown(state, inRoom || state.current, seq)
    : out.seen;
  return { state: answered, line: shown ? null : { ...line, inRoom } };
}

/**
 * Whether room `name` shows (or holds in its catch-up) the line numbered
 * `seq`. @param {State} state @param {string} name @param {number} seq
 */
function numberShown(state, name, seq) {
  const room = roomOf(state, name);
  return [...room.log, ...(room.catchUp ?? [])].some((e) => e.seq === seq);
}

/**
 * A line by this member (under the alias that typed a line in doubt),
 * without an id, in a room with a line in doubt of the same kind and
 * text: the catch-up of a line whose echo was lost.
 * @param {State} state @param {Line} line
 */
function caughtUp(state, line) {
  if (line.id !== "") return state;
  const room = line.inRoom || state.current;
  const said = line.type === "ME" ? `/me ${line.text}` : line.text;
  const out = state.outbox.find((o) =>
    o.doubt && !o.seen && !o.whisper && o.room === room &&
    sameAlias(o.alias, line.alias) && sameText(o.text, said)
  );
  if (out === undefined) return state;
  return withoutEntry(change(state, out.id, { seen: true }), out);
}

/** Whether a typed line and a line shown say the same. @param {string} typed @param {string} shown */
function sameText(typed, shown) {
  const text = typed.startsWith("//") ? typed.slice(1) : typed;
  return text.trim() === shown.trim();
}

/**
 * An `ERR` about a line of the outbox (its id): `unknown` the first time
 * sends it again under the same id; any other leaves it not sent, with
 * the reason, its text kept. Null: no line of the outbox.
 * @param {State} state @param {Line} line
 * @returns {State | null}
 */
export function outboxRefused(state, line) {
  const out = state.outbox.find((o) => o.id !== "" && o.id === line.id);
  if (out === undefined) return null;
  if (line.code === "unknown" && !out.resent) {
    const again = change(state, out.id, { resent: true, doubt: true });
    return out.sent ? send(again, wireLine(state, out)) : again;
  }
  // Answered: this try was refused, whatever became of an earlier one
  // (stored, its id would have brought its echo again); in doubt only
  // when the server cannot say (`unknown`, a second time).
  return unsent(state, out, line.text, line.code === "unknown");
}

/**
 * A line of the outbox that was not sent (or perhaps not: `doubt`, sent
 * on a connection that closed before its answer): its greyed entry
 * becomes "Not sent" ("Perhaps not sent"), with the reason and the text
 * to copy.
 * @param {State} state @param {OutLine} out @param {string} reason
 * @param {boolean} [doubt]
 * @returns {State}
 */
function unsent(state, out, reason, doubt = out.doubt) {
  const why = reason.replace(/^(Perhaps not|Not) sent( \([^)]*\))?: */, "");
  const entry = unsentEntry(out.text, why, doubt);
  const left = {
    ...state,
    outbox: state.outbox.filter((o) => o.id !== out.id),
  };
  const log = state.rooms.get(out.room)?.log ?? [];
  if (!log.some((e) => e.pendingId === out.id)) {
    return show(left, entry, out.room);
  }
  return updateRoom(left, out.room, (room) => ({
    log: room.log.map((e) => e.pendingId === out.id ? entry : e),
  }));
}

/** A line leaves the outbox and its greyed entry the log. @param {State} state @param {OutLine} out */
function forget(state, out) {
  const outbox = state.outbox.filter((o) => o.id !== out.id);
  return withoutEntry({ ...state, outbox }, out);
}

/** The greyed entry of a line leaves its room's log. @param {State} state @param {OutLine} out */
function withoutEntry(state, out) {
  return updateRoom(state, out.room, (room) => ({
    log: room.log.filter((e) => e.pendingId !== out.id),
  }));
}

/**
 * Changes one line of the outbox. @param {State} state @param {string} id
 * @param {Partial<OutLine>} change
 * @returns {State}
 */
function change(state, id, change) {
  const outbox = state.outbox.map((o) => o.id === id ? { ...o, ...change } : o);
  return { ...state, outbox };
}
