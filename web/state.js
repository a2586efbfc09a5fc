// @ts-check
/**
 * The page's state and the one function that changes it: `reduce(state,
 * event)` returns the next state, never touching the page, the socket or
 * the clock (the time and the tab's visibility come in with each event).
 * What an event asks for besides (lines to send, entries for the log, a
 * box to focus, a reconnect) is in the new state's `effects`
 * (`effects.js`), which app.js carries out and view.js shows. The
 * server's lines go to their handlers through `received.js`; here are
 * the state's shape, the events, the socket opening and closing, and
 * what runs after every step (the outbox, read markers, backfill, the
 * title, the session).
 *
 * @module
 */

import { askBackfill } from "./backfill.js";
import { effect, NO_EFFECTS } from "./effects.js";
import { EMPTY_ROOM } from "./in_room.js";
import { submitJoin } from "./joining.js";
import { flushOutbox, outboxAbandoned, outboxClosed } from "./outbox.js";
import { parseLine } from "./protocol.js";
import { received } from "./received.js";
import { readLater, releaseAll, sendReads } from "./resume.js";
import { typedClosed } from "./typed.js";
import { fromAddress, goTo, part, rejoinHeld, say } from "./rooms_asked.js";
import { closeSearch, NO_SEARCH, search } from "./search.js";
import { remembered, restore } from "./session.js";

/** @typedef {import("./effects.js").Effects} Effects */
/** @typedef {import("./in_room.js").Room} Room */

/**
 * @typedef {"connecting" | "resuming" | "alias" | "password" | "joined"
 *   | "closed"} Phase
 */

/** @typedef {{ readonly alias: string, readonly operator: boolean }} Member */

/**
 * @typedef {object} State
 * @property {Phase} phase
 * @property {string} alias the alias we are in the room as (or asked for)
 * @property {string} password kept in memory only, to rejoin
 * @property {boolean} rejoining in the room before this connection
 * @property {number} attempts reconnects since the last greeting
 * @property {boolean} stay set by /quit, kicks and bans: no reconnecting
 * @property {number} unread lines that came while the tab was hidden
 * @property {string} roomName the server's name, from its greeting
 * @property {string} heading the room shown, or the server's name
 * @property {string} title the document's: the heading, after the unread
 * @property {boolean} roomsOn this connection has rooms (`CAP ... rooms`)
 * @property {boolean} idsOn its messages carry ids (`CAP ... ids`)
 * @property {readonly import("./outbox.js").OutLine[]} outbox the user's
 *   lines with ids not answered yet, in the order typed
 * @property {readonly import("./typed.js").TypedLine[]} typed the user's
 *   lines sent without ids on this connection, not answered yet
 * @property {readonly string[]} entering rooms whose own `JOIN` came, their
 *   topic and history not yet ended by a `CURRENT` (`typed.js`)
 * @property {number} whoAsked the page's own `/who` lines not answered yet
 * @property {readonly string[]} echoed the ids last answered by an echo
 *   (a second echo of one is not shown)
 * @property {boolean} seqOn its log lines carry numbers (`CAP ... seq`)
 * @property {string} epoch of the server's room log (HELLO `epoch=`)
 * @property {string} token the last `RESUME` token, for the next connection
 * @property {boolean} visible the tab was visible at the last event
 * @property {boolean} readTimer a `read` event is to come
 * @property {boolean} rejoinTimer a `rejoin` event is to come
 * @property {number} rejoins joins of held rooms sent again since one was
 *   last joined (the wait before the next doubles with each)
 * @property {import("./search.js").Search} search
 * @property {ReadonlyMap<string, Room>} rooms the rooms the page is in, in
 *   the order joined; `""` is the server's only room (no rooms) or where
 *   notices go while in none
 * @property {string} current the room shown (`""`: none)
 * @property {string} wanted a room asked for before joining (the URL's,
 *   on a page that joins when the user gives an alias)
 * @property {string} offered a room the address named that the page is
 *   not in, not joined until the user says so (`""`: none)
 * @property {readonly string[]} joining rooms the page sent `/join` for,
 *   not answered yet, oldest first
 * @property {number} logins passwords the server asked for once joined
 *   (a `/nick` to an account) whose answer has not come yet
 * @property {ReadonlyMap<string, string>} keys room keys given, in memory
 *   only, to rejoin
 * @property {{ readonly text: string, readonly warn: boolean }} status
 * @property {"join" | "chat"} screen
 * @property {boolean} membersButton shown once joined
 * @property {boolean} canJoin the join button works
 * @property {boolean} passwordShown the password box is shown
 * @property {string} joinError
 * @property {string} sessionKept the text of the session last asked to
 *   keep (`session.js`; `""`: none)
 * @property {Effects} effects
 */

/**
 * What happens to the page: a reload finds where it was (its session),
 * it connects (again, after a wait, when `retry`), a line arrives, the socket closes (`random` in [0, 1) spreads
 * reconnects), the user joins or says something, or looks at the tab,
 * asks for a room (the room list, the room form with a key, the offer of
 * one the address named; `focus`: then type in it) or leaves one, the
 * address names one (its fragment: a link, or another window), the user
 * declines the room offered, the `/read` timer
 * fires, the held rooms' wait ends (`rejoin`), or the user searches or
 * closes the results.
 * @typedef {{ type: "restore", session: import("./session.js").Session }
 *   | { type: "connect", retry: boolean }
 *   | { type: "line", text: string, now: number, hidden: boolean }
 *   | { type: "closed", random: number, unsent?: readonly string[] }
 *   | { type: "join", alias: string, password: string }
 *   | { type: "say", text: string, now: number, id?: string }
 *   | { type: "seen" }
 *   | { type: "room", room: string, key: string, focus: boolean }
 *   | { type: "address", room: string }
 *   | { type: "decline" }
 *   | { type: "part", room: string }
 *   | { type: "read" }
 *   | { type: "rejoin" }
 *   | { type: "search", words: string }
 *   | { type: "close-search" }} PageEvent
 */

/** The page before it has connected. @type {State} */
export const INITIAL_STATE = Object.freeze({
  phase: "connecting",
  alias: "",
  password: "",
  rejoining: false,
  attempts: 0,
  stay: false,
  unread: 0,
  roomName: "tlschat",
  heading: "tlschat",
  title: "tlschat",
  roomsOn: false,
  idsOn: false,
  outbox: [],
  typed: [],
  entering: [],
  whoAsked: 0,
  echoed: [],
  seqOn: false,
  epoch: "",
  token: "",
  visible: true,
  readTimer: false,
  rejoinTimer: false,
  rejoins: 0,
  search: NO_SEARCH,
  rooms: new Map([["", EMPTY_ROOM]]),
  current: "",
  wanted: "",
  offered: "",
  joining: [],
  logins: 0,
  keys: new Map(),
  status: { text: "Connecting…", warn: false },
  screen: "join",
  membersButton: false,
  canJoin: false,
  passwordShown: false,
  joinError: "",
  sessionKept: "",
  effects: NO_EFFECTS,
});

/**
 * The state after an event; its `effects` are this event's only (the
 * session to keep among them, when it changed).
 * @param {State} state @param {PageEvent} event
 * @returns {State}
 */
export function reduce(state, event) {
  const next = step({ ...state, effects: NO_EFFECTS }, event);
  const flushed = flushOutbox(next);
  return remembered(state, titled(readLater(askBackfill(flushed))));
}

/**
 * The heading (the room shown, or the server's name) and the title (the
 * heading after the count of what came while the tab was hidden).
 * @param {State} state
 */
function titled(state) {
  const heading = state.roomsOn && state.current !== ""
    ? state.current
    : state.roomName;
  const title = state.unread > 0 ? `(${state.unread}) ${heading}` : heading;
  return heading === state.heading && title === state.title
    ? state
    : { ...state, heading, title };
}

/** @param {State} next @param {PageEvent} event @returns {State} */
function step(next, event) {
  switch (event.type) {
    case "restore":
      return restore(next, event.session);
    case "connect":
      return {
        ...next,
        phase: "connecting",
        status: event.retry
          ? { text: "Reconnecting…", warn: true }
          : next.status,
      };
    case "line":
      return received(
        { ...next, visible: !event.hidden },
        parseLine(event.text),
        event,
      );
    case "closed":
      return closed(next, event.random, event.unsent ?? []);
    case "join":
      return submitJoin(next, event.alias.trim(), event.password);
    case "say":
      return say(next, event.text, event.now, event.id ?? "");
    case "seen":
      return { ...next, unread: 0, visible: true };
    case "room":
      return goTo(next, event);
    case "address":
      return fromAddress(next, event.room);
    case "decline":
      return { ...next, offered: "" };
    case "part":
      return part(next, event.room);
    case "read":
      return sendReads(next);
    case "rejoin":
      return rejoinHeld(next);
    case "search":
      return search(next, event.words);
    case "close-search":
      return closeSearch(next);
  }
}

/**
 * The socket closed: try again after 1, 2, 4 ... up to 30 s (with
 * jitter), unless the user left or was sent away. The user's lines
 * without ids not answered are shown as not sent (in `unsent`: they never
 * left the page) or perhaps not sent (`typed.js`).
 * @param {State} state @param {number} random
 * @param {readonly string[]} unsent
 */
function closed(state, random, unsent) {
  const ended = {
    ...releaseAll(typedClosed(outboxClosed(state), unsent)),
    canJoin: false,
    rejoining: state.phase === "joined" || state.rejoining,
    phase: /** @type {const} */ ("closed"),
  };
  if (state.stay) {
    const status = { text: "Disconnected", warn: true };
    return { ...outboxAbandoned(ended), status };
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
