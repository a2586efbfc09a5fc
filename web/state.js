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

import { askBackfill, backfilled, backfillRefused } from "./backfill.js";
import { effect, NO_EFFECTS, send, unchanged } from "./effects.js";
import { entryFor, errorLine, localEnds, notice, told } from "./entries.js";
import { EMPTY_ROOM, ROOM_LINES, show } from "./in_room.js";
import {
  afterBye,
  hello,
  joined,
  passwordAsked,
  refused,
  resumeRefused,
  submitJoin,
} from "./joining.js";
import { formatLine, parseLine, pongCommand } from "./protocol.js";
import {
  isPast,
  isRepeat,
  readLater,
  readMarker,
  record,
  releaseAll,
  releaseStarted,
  resumed,
  resumeToken,
  sendReads,
} from "./resume.js";
import {
  closeSearch,
  foundEnd,
  foundLine,
  NO_SEARCH,
  search,
  searchRefused,
} from "./search.js";
import {
  fromAddress,
  goTo,
  part,
  refusal,
  rejoinHeld,
  say,
} from "./rooms_asked.js";
import {
  echoed,
  flushOutbox,
  outboxAbandoned,
  outboxClosed,
  outboxRefused,
} from "./outbox.js";
import { remembered, restore } from "./session.js";

/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./effects.js").Effects} Effects */
/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./effects.js").LineContext} LineContext */
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
 *   | { type: "closed", random: number }
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
  effects: NO_EFFECTS,
});

/**
 * A `BYE`'s text said as a disconnection once: many of the server's texts
 * begin with "Disconnected:" already. The server's text is isolated (it
 * may hold someone's words).
 * @param {string} text
 */
function disconnected(text) {
  return text.startsWith("Disconnected:")
    ? told`${text}`
    : told`Disconnected: ${text}`;
}

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
      return closed(next, event.random);
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

/** Lines handled in every phase. @type {ReadonlyMap<string, Handler>} */
const ALWAYS = new Map(
  /** @type {[string, Handler][]} */ ([
    ["HELLO", hello],
    ["PASSWORD", passwordAsked],
    ["WELCOME", joined],
    // The capabilities asked for at the greeting, before the alias.
    [
      "CAP",
      (state, line, at) =>
        state.phase === "joined"
          ? show(state, notice(told`${formatLine(line)}`, new Date(at.now)))
          : {
            ...state,
            roomsOn: line.caps.split(" ").includes("rooms"),
            idsOn: line.caps.split(" ").includes("ids"),
            seqOn: line.caps.split(" ").includes("seq"),
          },
    ],
    ["RESUME", resumeToken],
    ["ERR", (was, line, at) => {
      const refusedLine = outboxRefused(was, line);
      if (refusedLine !== null) return refusedLine;
      // Throttled: the page's pace and the server's clock disagree.
      const state = line.code === "flood"
        ? effect(was, { holdBack: true })
        : was;
      if (line.code === "resume-expired" || state.phase === "resuming") {
        return resumeRefused(state);
      }
      const quiet = searchRefused(state, line) ?? backfillRefused(state, line);
      if (quiet !== null) return quiet;
      if (state.phase !== "joined") return refused(state, line.text);
      // A refused /join: shown labelled with its room.
      return refusal(
        state,
        line,
        errorLine(told`! ${line.text}`, new Date(at.now)),
      );
    }],
    ["BYE", (state, line, at) => {
      const next = afterBye(state, line.reason);
      return state.phase === "joined"
        ? show(next, errorLine(disconnected(line.text), new Date(at.now)))
        : { ...next, joinError: line.text };
    }],
    // An idle reader is still here: the server drops silent members.
    ["PING", (state, line) => send(state, pongCommand(line.token))],
  ]),
);

/** @param {State} state @param {Line} line @param {LineContext} at */
function received(state, line, at) {
  const always = ALWAYS.get(line.type);
  if (always) return always(state, localEnds(line), at); // ends: local time
  if (state.phase !== "joined") {
    return line.type === "INFO" ? { ...state, joinError: line.text } : state;
  }
  const filled = backfilled(state, line, at);
  if (filled !== null) return filled;
  // An echo of a line the outbox holds is the page's own: shown though
  // numbered below the page's rejoin (its echo again after a resend).
  const mine = line.id !== "" && state.outbox.some((o) => o.id === line.id);
  const { state: was, line: own } = echoed(state, line);
  if (own === null || (!mine && isRepeat(was, own))) return was;
  const handle = isPast(was, own)
    ? unchanged
    : JOINED_LINES.get(own.type) ?? ROOM_LINES.get(own.type);
  const changed = (handle ?? unchanged)(was, own, at);
  return record(changed, own, entryFor(own, new Date(at.now)));
}

/** Lines of the log's numbers and of search, once joined. */
const JOINED_LINES = new Map(
  /** @type {[string, Handler][]} */ ([
    ["RESUMED", resumed],
    ["CURRENT", (state, line, at) => {
      const current = /** @type {Handler} */ (ROOM_LINES.get("CURRENT"));
      return current(releaseStarted(state), line, at);
    }],
    ["READ", readMarker],
    ["FOUND", foundLine],
    ["FOUNDEND", foundEnd],
  ]),
);

/**
 * The socket closed: try again after 1, 2, 4 ... up to 30 s (with
 * jitter), unless the user left or was sent away.
 * @param {State} state @param {number} random
 */
function closed(state, random) {
  const ended = {
    ...releaseAll(outboxClosed(state)),
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
