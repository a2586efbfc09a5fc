// @ts-check
/**
 * The rooms the page asks for: going to one (the room list, the room form),
 * one the URL's fragment names (shown if the page is in it, else only
 * offered: {@linkcode fromAddress}), leaving one, and the answers that
 * refuse a `/join`; and what the user types, sent to the room shown only
 * when the page is in it.
 * A refused room leaves the list and its key is forgotten, except when the
 * room log could not store the `JOIN` (`ERR unavailable`) or cannot say
 * whether it did (`ERR unknown`): a passing outage, so the room stays on
 * the list held (not joined), its key kept, and its `/join` is sent again
 * after 5 s, then after twice as long each time up to 5 min, when it is
 * selected, and at the next reconnect. Handlers of the reducer
 * (`state.js`): pure.
 *
 * @module
 */

import { effect, send } from "./effects.js";
import { errorLine, inRoom as labelled, told } from "./entries.js";
import { dropRoom, EMPTY_ROOM, show, switchTo, toRoom } from "./in_room.js";
import { isTaggable, isWhisper, outboxAbandoned, queueLine } from "./outbox.js";
import { typedSent } from "./typed.js";
import {
  isQuitCommand,
  joinCommand,
  partCommand,
  roomName,
} from "./protocol.js";

/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/**
 * The `ERR` codes that refuse a `/join`: lib/client/rooms.ts's
 * `JOIN_ERRORS` (a test checks the copy).
 */
export const JOIN_REFUSALS = new Set([
  "room-invalid",
  "room-taken",
  "no-such-room",
  "room-key",
  "room-invite-only",
  "room-banned",
  "too-many-rooms",
  "rooms-full",
  "room-creations",
  "too-many-attempts",
]);

/**
 * The refusals of a `/join` the room log could not store (or cannot say):
 * not in, for now; the room is held, to join again. These codes answer
 * other lines too (a message, an operator's action): a join's begins with
 * these words and names its room.
 */
export const OUTAGES = new Map([
  ["unavailable", "Cannot join"],
  ["unknown", "Perhaps not in"],
]);

/**
 * The `/join` a refusal answers: the oldest (the server answers in order),
 * or the one a room log's names ("" for none).
 * @param {readonly string[]} joining @param {Line} line
 */
function refusedRoom(joining, line) {
  if (JOIN_REFUSALS.has(line.code)) return joining[0] ?? "";
  const says = OUTAGES.get(line.code);
  return (says && joining.find((n) => line.text.startsWith(`${says} ${n}:`))) ??
    "";
}

/**
 * Whether a line answers a `/join` the page sent itself (a click, a
 * rejoin): its refusal, or its `JOIN`; not an answer to a
 * line the user typed (`typed.js`).
 * @param {State} state @param {Line} line
 */
export function answersPageJoin(state, line) {
  if (line.type === "ERR") return refusedRoom(state.joining, line) !== "";
  return line.type === "JOIN" && line.inRoom !== "" &&
    state.joining.includes(line.inRoom);
}

/** The first wait before the held rooms are joined again. */
const REJOIN_FIRST_MS = 5000;
/** The longest wait between two tries. */
const REJOIN_MOST_MS = 300_000;

/** The `ERR` codes that answer a password (a login after `/nick`). */
const LOGIN_ERRORS = new Set([
  "login-failed",
  "password-wrong",
  "too-many-attempts",
]);

/**
 * Shows a room the page is in, or joins it (once in, when not yet; only
 * when the server has rooms). A held room is shown and joined again, with
 * the key given now or else the one it was asked with.
 * @param {State} state
 * @param {{ room: string, key: string, focus: boolean }} asked
 * @returns {State}
 */
export function goTo(state, asked) {
  const name = roomName(asked.room);
  if (name === "") return state;
  const held = state.rooms.get(name)?.held === true;
  // A room the page is in keeps the key it was entered with.
  const keys = asked.key === "" || (state.rooms.has(name) && !held)
    ? state.keys
    : new Map(state.keys).set(name, asked.key);
  const offered = state.offered === name ? "" : state.offered;
  const keyed = { ...state, keys, offered };
  if (state.phase !== "joined") return { ...keyed, wanted: name };
  if (!state.roomsOn) return state;
  const cleared = effect(keyed, {
    clearRoom: true,
    focus: asked.focus ? "message" : null,
  });
  if (state.rooms.has(name) && !held) return switchTo(cleared, name);
  const shown = held ? switchTo(cleared, name) : cleared;
  if (state.joining.includes(name)) return shown;
  const joining = { ...shown, joining: [...state.joining, name] };
  return send(joining, joinCommand(name, keys.get(name) ?? ""));
}

/** A room's name as the server makes them: the only ones an address names. */
const ROOM_NAME = /^#[a-z0-9_-]{1,32}$/;

/**
 * A room the URL's fragment names: a link the user followed, or another
 * window (any origin may navigate this tab) or a script changing the
 * address, so never a join without the user. A room the page is in (or
 * holds) is shown, nothing sent; another is offered (`offered`: a "Join"
 * button, the address set back to the room shown), except on a page not
 * in yet that waits for the user's alias: its join form names the room,
 * joined with the alias given (a link's invitation). A page that comes
 * back in by itself (a reload, a reconnect) offers it.
 * @param {State} state @param {string} typed the fragment, decoded
 * @returns {State}
 */
export function fromAddress(state, typed) {
  const name = roomName(typed);
  if (!ROOM_NAME.test(name)) return state;
  if (state.rooms.has(name)) return switchTo(state, name);
  const joined = state.phase === "joined";
  if (!joined && !state.rejoining) return { ...state, wanted: name };
  if (joined && !state.roomsOn) return state;
  const offered = { ...state, offered: name };
  return joined ? effect(offered, { fragment: state.current }) : offered;
}

/**
 * Leaves a room: `/part` for one the page is in; a held one (not joined)
 * only leaves the list, its key forgotten.
 * @param {State} state @param {string} name
 * @returns {State}
 */
export function part(state, name) {
  if (!state.roomsOn || !state.rooms.has(name) || name === "") return state;
  return state.rooms.get(name)?.held
    ? dropRoom(state, name)
    : send(state, partCommand(name));
}

/**
 * The room a refusal is about: the oldest `/join` the page sent still
 * unanswered (the server answers in order), or "" when it is no refusal
 * of one (one of a login the server asked a password for first). A room
 * the page was in before a reconnect and could not rejoin leaves the list
 * (held on it, through an outage of the room log); one refused for its key
 * is put in the room form, its key box focused.
 * @param {State} state @param {Line} line
 * @returns {{ state: State, room: string }}
 */
function refusedJoin(state, line) {
  if (LOGIN_ERRORS.has(line.code) && state.logins > 0) {
    return { state: { ...state, logins: state.logins - 1 }, room: "" };
  }
  const room = refusedRoom(state.joining, line);
  if (room === "") return { state, room: "" };
  const rest = state.joining.filter((name) => name !== room);
  const answered = { ...state, joining: rest };
  if (OUTAGES.has(line.code)) return { state: hold(answered, room), room };
  const left = dropRoom(answered, room);
  // A key missing or changed: the room form asks for it, the name in it.
  const ask = line.code === "room-key" && left.screen === "chat";
  return {
    state: ask ? effect(left, { fillRoom: room, focus: "roomKey" }) : left,
    room,
  };
}

/**
 * Keeps a room on the list, not joined (its members unknown), its key
 * kept: added at the end when it was not on it, the room shown unchanged.
 * The held rooms are joined again when the wait (doubling) ends.
 * @param {State} state @param {string} name
 * @returns {State}
 */
function hold(state, name) {
  const room = state.rooms.get(name) ?? EMPTY_ROOM;
  const rooms = new Map(state.rooms).set(name, {
    ...room,
    held: true,
    members: new Map(),
    online: null,
  });
  const held = { ...state, rooms };
  if (state.rejoinTimer) return held;
  const wait = Math.min(REJOIN_MOST_MS, REJOIN_FIRST_MS * 2 ** state.rejoins);
  return effect({ ...held, rejoinTimer: true }, { rejoinInMs: wait });
}

/**
 * The wait for the held rooms ended: their `/join` is sent again (those
 * not asked for already), with their keys.
 * @param {State} state
 * @returns {State}
 */
export function rejoinHeld(state) {
  const next = { ...state, rejoinTimer: false };
  if (next.phase !== "joined" || !next.roomsOn) return next;
  const names = [...next.rooms].filter(([name, room]) =>
    room.held && !next.joining.includes(name)
  ).map(([name]) => name);
  if (names.length === 0) return next;
  return names.reduce(
    (asked, name) => send(asked, joinCommand(name, asked.keys.get(name) ?? "")),
    /** @type {State} */ ({
      ...next,
      joining: [...next.joining, ...names],
      rejoins: next.rejoins + 1,
    }),
  );
}

/**
 * An `ERR` once joined, perhaps refusing a `/join`: shown in its room's
 * log when the room is on the list, else in the room shown, labelled with
 * its room. A room held by it is told in the room shown too, labelled, the
 * first time (not when a try again is refused).
 * @param {State} state @param {Line} line @param {Entry} entry
 * @returns {State}
 */
export function refusal(state, line, entry) {
  const again = state.rooms.get(state.joining[0] ?? "")?.held === true;
  const { state: after, room } = refusedJoin(state, line);
  const there = show(after, entry, room || after.current);
  const elsewhere = room !== "" && room !== after.current && !again &&
    after.rooms.get(room)?.held === true;
  return elsewhere ? show(there, labelled(entry, room)) : there;
}

/**
 * Told when a line that cannot wait in the outbox (a command other than a
 * whisper, any line but a whisper without ids, or one in a held room) is
 * typed while the page is not in (a reconnect): a command typed then could
 * act long after the user meant it to.
 */
const NOT_CONNECTED =
  told`! Not sent: not connected; your line is kept in the box, send it again once connected`;

/**
 * What the user typed, sent to the room shown, the box emptied; but kept
 * in the box, not sent, when the page is not in that room (held: its join
 * is to be sent again, which this asks for now). With ids, a message or
 * `/me` line goes with `id` through the outbox (`outbox.js`): shown
 * greyed until its echo, sent again after a reconnect; typed while the
 * page is reconnecting, it waits there too, sent once its room is back;
 * so does a whisper (`/msg`), sent once, never again (no id: nothing
 * could tell a second one from the first). Any other command typed then
 * stays in the box (sent now, a line would be taken as the alias, or
 * dropped; run later, it could act long after the user meant it to).
 * @param {State} state @param {string} text @param {number} now
 * @param {string} id
 */
export function say(state, text, now, id) {
  if (text.trim() === "") return state;
  const when = new Date(now);
  const held = state.rooms.get(state.current)?.held === true;
  const queued = !held && state.idsOn && id !== "" && isTaggable(text);
  if (state.phase !== "joined" && isQuitCommand(text) && waitsToRejoin(state)) {
    return quitAway(effect(state, { clearMessage: true }));
  }
  if (state.phase !== "joined") {
    const waits = queued || (!held && id !== "" && isWhisper(text));
    return waits && waitsToRejoin(state)
      ? queueLine(
        effect(state, { clearMessage: true }),
        state.current,
        text,
        id,
      )
      : show(state, errorLine(NOT_CONNECTED, when));
  }
  if (held && !isQuitCommand(text)) {
    return inHeld(state, text.trim(), state.current, when);
  }
  const said = isQuitCommand(text) ? { ...state, stay: true } : state;
  if (queued) {
    return queueLine(
      effect(said, { clearMessage: true }),
      state.current,
      text,
      id,
    );
  }
  // `/quit` leaves the server, in a room or not: from a held one, as is.
  const line = held ? text : toRoom(state, state.current, text);
  const sent = send(effect(said, { clearMessage: true }), line);
  return said.stay ? sent : typedSent(sent, text, state.current, line);
}

/**
 * `/quit` typed while the page reconnects: it connects no more, each line
 * waiting is told as not sent (perhaps, when it had left), and the
 * session with its lines is forgotten (`stay`).
 * @param {State} state
 * @returns {State}
 */
function quitAway(state) {
  const left = outboxAbandoned({
    ...state,
    stay: true,
    rejoining: false,
    phase: /** @type {const} */ ("closed"),
  });
  const status = { text: "Disconnected", warn: true };
  return effect({ ...left, status, canJoin: false }, { hangUp: true });
}

/**
 * Whether the page is on its way back into the rooms it was in (a
 * reconnect, a reload): not left for good, not sent back to the join form.
 * @param {State} state
 */
function waitsToRejoin(state) {
  return state.rejoining && !state.stay && state.alias !== "";
}

/**
 * A line typed in a held room (`/quit` apart): `/part` (of it) leaves the
 * list, as its "×" does; another command is kept, not sent, with no join
 * (the user did not ask for one); a message or `/me` is kept, and asks
 * for the room again ({@linkcode notInRoom}).
 * @param {State} state @param {string} text @param {string} name
 * @param {Date} now
 * @returns {State}
 */
function inHeld(state, text, name, now) {
  const [command = "", first = ""] = text.split(/\s+/);
  // `/part [#room] [REASON]`: this room, unless another is named.
  const parted = first.startsWith("#") ? roomName(first) : name;
  if (/^\/part$/i.test(command) && parted === name) {
    return effect(part(state, name), { clearMessage: true });
  }
  if (!command.startsWith("/") || /^\/me$/i.test(command)) {
    return notInRoom(state, name, now);
  }
  const entry =
    told`! Not sent: you are not in ${name} (select it to join it again)`;
  return show(state, errorLine(entry, now), name);
}

/**
 * A line typed in a held room: not sent (the server would refuse it, or,
 * had the join been stored after all, say it in a room the page does not
 * show as joined), kept in the box and told there; the room's `/join` is
 * sent again now, unless one waits for its answer.
 * @param {State} state @param {string} name @param {Date} now
 * @returns {State}
 */
function notInRoom(state, name, now) {
  const entry = errorLine(
    told`! Not sent: you are not in ${name}; joining it again (your line is kept in the box)`,
    now,
  );
  const shown = show(state, entry, name);
  if (state.joining.includes(name)) return shown;
  const joining = { ...shown, joining: [...state.joining, name] };
  return send(joining, joinCommand(name, state.keys.get(name) ?? ""));
}
