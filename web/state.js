// @ts-check
/**
 * The page's state and the one function that changes it: `reduce(state,
 * event)` returns the next state, never touching the page, the socket or
 * the clock (the time and the tab's visibility come in with each event).
 * What an event asks for besides (lines to send, entries for the log, a
 * box to focus, a reconnect) is in the new state's `effects`
 * (`effects.js`), which app.js carries out and view.js shows. Lines before
 * joining are `joining.js`'s to handle, the room's lines `in_room.js`'s;
 * here are those of every phase, the socket closing, and what the user
 * says.
 *
 * @module
 */

import { effect, NO_EFFECTS, send, show, unchanged } from "./effects.js";
import { entryFor, errorLine } from "./entries.js";
import { ROOM } from "./in_room.js";
import {
  hello,
  joined,
  passwordAsked,
  refused,
  submitJoin,
} from "./joining.js";
import { isQuitCommand, parseLine, pongCommand } from "./protocol.js";

/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./effects.js").Effects} Effects */
/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./effects.js").LineContext} LineContext */

/** @typedef {"connecting" | "alias" | "password" | "joined" | "closed"} Phase */

/** @typedef {{ readonly alias: string, readonly operator: boolean }} Member */

/**
 * @typedef {object} State
 * @property {Phase} phase
 * @property {string} alias the alias we are in the room as (or asked for)
 * @property {string} password kept in memory only, to rejoin
 * @property {boolean} rejoining in the room before this connection
 * @property {boolean} clearOnHistory the next history replaces the log
 * @property {number} attempts reconnects since the last greeting
 * @property {boolean} stay set by /quit, kicks and bans: no reconnecting
 * @property {number} unread lines that came while the tab was hidden
 * @property {string} roomName
 * @property {string} title the document's
 * @property {string} topic
 * @property {{ readonly text: string, readonly warn: boolean }} status
 * @property {"join" | "chat"} screen
 * @property {boolean} membersButton shown once joined
 * @property {boolean} canJoin the join button works
 * @property {boolean} passwordShown the password box is shown
 * @property {string} joinError
 * @property {string | null} online how many are here (null: not told yet)
 * @property {ReadonlyMap<string, Member>} members by lower-case alias
 * @property {number | null} whoAskedAt when the page last sent `/who`
 * @property {Effects} effects
 */

/**
 * What happens to the page: it connects (again, after a wait, when
 * `retry`), a line arrives, the socket closes (`random` in [0, 1) spreads
 * reconnects), the user joins or says something, or looks at the tab.
 * @typedef {{ type: "connect", retry: boolean }
 *   | { type: "line", text: string, now: number, hidden: boolean }
 *   | { type: "closed", random: number }
 *   | { type: "join", alias: string, password: string }
 *   | { type: "say", text: string }
 *   | { type: "seen" }} PageEvent
 */

/** The page before it has connected. @type {State} */
export const INITIAL_STATE = Object.freeze({
  phase: "connecting",
  alias: "",
  password: "",
  rejoining: false,
  clearOnHistory: false,
  attempts: 0,
  stay: false,
  unread: 0,
  roomName: "tlschat",
  title: "tlschat",
  topic: "",
  status: { text: "Connecting…", warn: false },
  screen: "join",
  membersButton: false,
  canJoin: false,
  passwordShown: false,
  joinError: "",
  online: null,
  members: new Map(),
  whoAskedAt: null,
  effects: NO_EFFECTS,
});

/** Goodbyes after which coming back on our own would be wrong. */
const FINAL = new Set(["quit", "kicked", "banned", "auth-failed", "replaced"]);

/**
 * The state after an event; its `effects` are this event's only.
 * @param {State} state @param {PageEvent} event
 * @returns {State}
 */
export function reduce(state, event) {
  const next = { ...state, effects: NO_EFFECTS };
  switch (event.type) {
    case "connect":
      return {
        ...next,
        phase: "connecting",
        status: event.retry
          ? { text: "Reconnecting…", warn: true }
          : next.status,
      };
    case "line":
      return received(next, parseLine(event.text), event);
    case "closed":
      return closed(next, event.random);
    case "join":
      return submitJoin(next, event.alias.trim(), event.password);
    case "say":
      return say(next, event.text);
    case "seen":
      return { ...next, unread: 0, title: next.roomName };
  }
}

/** Lines handled in every phase. @type {ReadonlyMap<string, Handler>} */
const ALWAYS = new Map(
  /** @type {[string, Handler][]} */ ([
    ["HELLO", hello],
    ["PASSWORD", passwordAsked],
    ["WELCOME", joined],
    [
      "ERR",
      (state, line, at) =>
        state.phase === "joined"
          ? show(state, errorLine(`! ${line.text}`, new Date(at.now)))
          : refused(state, line.text),
    ],
    ["BYE", (state, line, at) => {
      const stay = state.stay || FINAL.has(line.reason);
      return state.phase === "joined"
        ? show(
          { ...state, stay },
          errorLine(`Disconnected: ${line.text}`, new Date(at.now)),
        )
        : { ...state, stay, joinError: line.text };
    }],
    // An idle reader is still here: the server drops silent members.
    ["PING", (state, line) => send(state, pongCommand(line.token))],
  ]),
);

/** @param {State} state @param {Line} line @param {LineContext} at */
function received(state, line, at) {
  const always = ALWAYS.get(line.type);
  if (always) return always(state, line, at);
  if (state.phase !== "joined") {
    return line.type === "INFO" ? { ...state, joinError: line.text } : state;
  }
  const changed = (ROOM.get(line.type) ?? unchanged)(state, line, at);
  const entry = entryFor(line, new Date(at.now));
  return entry === null ? changed : show(changed, entry);
}

/**
 * The socket closed: try again after 1, 2, 4 ... up to 30 s (with
 * jitter), unless the user left or was sent away.
 * @param {State} state @param {number} random
 */
function closed(state, random) {
  const ended = {
    ...state,
    canJoin: false,
    rejoining: state.phase === "joined" || state.rejoining,
    phase: /** @type {const} */ ("closed"),
  };
  if (state.stay) {
    return { ...ended, status: { text: "Disconnected", warn: true } };
  }
  const delay = Math.min(30_000, 1000 * 2 ** state.attempts) *
    (0.75 + random / 2);
  const waiting = {
    ...ended,
    attempts: state.attempts + 1,
    status: {
      text: `Reconnecting in ${Math.ceil(delay / 1000)} s…`,
      warn: true,
    },
  };
  return effect(waiting, { reconnectInMs: delay });
}

/** @param {State} state @param {string} text */
function say(state, text) {
  if (text.trim() === "") return state;
  const said = isQuitCommand(text) ? { ...state, stay: true } : state;
  return send(effect(said, { clearMessage: true }), text);
}
