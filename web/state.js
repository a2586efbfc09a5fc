// @ts-check
/**
 * The page's state and the one function that changes it: `reduce(state,
 * event)` returns the next state, never touching the page, the socket or
 * the clock (the time and the tab's visibility come in with each event).
 * What an event asks for besides (lines to send, entries for the log, a
 * box to focus, a reconnect) is in the new state's `effects`, which
 * app.js carries out and view.js shows.
 *
 * @module
 */

import { entryFor, errorLine, notice } from "./entries.js";
import {
  isQuitCommand,
  parseLine,
  passCommand,
  pongCommand,
  WHO_COMMAND,
} from "./protocol.js";

/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./entries.js").Entry} Entry */

/** @typedef {"connecting" | "alias" | "password" | "joined" | "closed"} Phase */

/** @typedef {{ readonly alias: string, readonly operator: boolean }} Member */

/**
 * What one event asks of the page besides showing the state.
 * @typedef {object} Effects
 * @property {readonly string[]} send lines to send, in order
 * @property {boolean} clearLog empty the log before adding `entries`
 * @property {readonly Entry[]} entries added to the log
 * @property {"alias" | "password" | "message" | null} focus
 * @property {boolean} clearPassword empty the password box
 * @property {boolean} clearMessage empty the message box
 * @property {number | null} reconnectInMs connect again after this long
 */

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

/** @type {Effects} */
const NO_EFFECTS = Object.freeze({
  send: [],
  clearLog: false,
  entries: [],
  focus: null,
  clearPassword: false,
  clearMessage: false,
  reconnectInMs: null,
});

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

/** `/who` at most this often (large rooms summarise joins). */
const WHO_INTERVAL_MS = 5000;

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

/**
 * @param {State} state @param {Partial<Effects>} effects
 * @returns {State} with these effects added to the step's
 */
function effect(state, effects) {
  const was = state.effects;
  return {
    ...state,
    effects: {
      ...was,
      ...effects,
      send: [...was.send, ...(effects.send ?? [])],
      entries: [...was.entries, ...(effects.entries ?? [])],
    },
  };
}

/** @param {State} state @param {string} line */
const send = (state, line) => effect(state, { send: [line] });

/** @param {State} state @param {Entry} entry */
const show = (state, entry) => effect(state, { entries: [entry] });

/**
 * @typedef {{ now: number, hidden: boolean }} LineContext
 * @typedef {(state: State, line: Line, at: LineContext) => State} Handler
 */

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

/** @type {Handler} */
function hello(state, line) {
  const roomName = line.server || "tlschat";
  const greeted = { ...state, roomName, title: roomName, attempts: 0 };
  if (state.rejoining && state.alias) {
    const rejoin = {
      ...greeted,
      phase: /** @type {const} */ ("alias"),
      status: { text: "Rejoining…", warn: false },
    };
    return send(rejoin, state.alias);
  }
  return showJoin({ ...greeted, passwordShown: false }, "");
}

/** @type {Handler} */
function passwordAsked(state, line, at) {
  if (state.phase === "joined") {
    // A rename to a registered alias: its password is not the one this
    // page was given (if any), so the member types it.
    const text = `! ${line.text}: type /pass and the password`;
    return show(state, errorLine(text, new Date(at.now)));
  }
  if (state.password && state.phase !== "password") {
    return send({ ...state, phase: "password" }, passCommand(state.password));
  }
  // A refusal just before (a wrong room password) stays on screen. The box
  // is not emptied: it was when its last password was sent, so anything in
  // it now was typed since (between a refusal and this line, perhaps).
  const asking = showJoin(
    { ...state, phase: "password", passwordShown: true },
    state.joinError || line.text,
  );
  return effect(asking, { focus: "password" });
}

/**
 * Refused before joining: the server waits for an alias again (or, after
 * a wrong room password, asks for it again at once). Both boxes stay as
 * they are: Join sends the alias, then the password typed when the server
 * asks for it.
 * @param {State} state @param {string} text
 */
function refused(state, text) {
  const waiting = { ...state, rejoining: false, password: "" };
  const shown = showJoin({ ...waiting, phase: "alias" }, text);
  return shown.passwordShown ? effect(shown, { focus: "password" }) : shown;
}

/**
 * Shows the join form, for an alias or (phase "password") a password.
 * @param {State} state @param {string} text
 * @returns {State}
 */
function showJoin(state, text) {
  const phase = state.phase === "password" ? "password" : "alias";
  const shown = {
    ...state,
    phase: /** @type {Phase} */ (phase),
    screen: /** @type {const} */ ("join"),
    canJoin: true,
    joinError: text,
    status: { text: "Connected", warn: false },
  };
  return phase === "alias" ? effect(shown, { focus: "alias" }) : shown;
}

/** @type {Handler} */
function joined(state, line, at) {
  const now = new Date(at.now);
  const welcome = state.rejoining ? notice("Reconnected", now) : notice(
    `Welcome, ${line.alias}! ${line.online} online. ${line.text}`,
    now,
  );
  const inRoom = {
    ...state,
    phase: /** @type {const} */ ("joined"),
    alias: line.alias,
    clearOnHistory: state.rejoining,
    rejoining: false,
    screen: /** @type {const} */ ("chat"),
    membersButton: true,
    passwordShown: false,
    status: { text: `Connected as ${line.alias}`, warn: false },
    online: line.online,
    whoAskedAt: null,
  };
  return effect(askWho(show(inRoom, welcome), at.now), { focus: "message" });
}

/** @param {State} state @param {number} now */
function askWho(state, now) {
  const last = state.whoAskedAt;
  if (last !== null && now - last < WHO_INTERVAL_MS) return state;
  return send({ ...state, whoAskedAt: now }, WHO_COMMAND);
}

/** @type {Handler} */
const unchanged = (state) => state;

/**
 * What lines of the room change besides the log (what is said counts as
 * unread while the tab is hidden).
 * @type {ReadonlyMap<string, Handler>}
 */
const ROOM = new Map(
  /** @type {[string, Handler][]} */ ([
    ["MSG", unseen],
    ["ME", unseen],
    ["PRIV", unseen],
    [
      "HIST",
      (state) =>
        state.clearOnHistory
          ? effect({ ...state, clearOnHistory: false }, { clearLog: true })
          : state,
    ],
    ["JOIN", (state, line) => ({
      ...withMember(state, line.alias, false),
      online: line.online,
    })],
    ["LEAVE", (state, line) => ({
      ...withoutMember(state, line.alias),
      online: line.online,
    })],
    ["NICK", (state, line) => ({
      ...withMember(withoutMember(state, line.alias), line.newAlias, false),
      alias: line.alias === state.alias ? line.newAlias : state.alias,
    })],
    [
      "PRESENCE",
      (state, line, at) => askWho({ ...state, online: line.online }, at.now),
    ],
    [
      "WHO",
      (state, line) => ({ ...whoIsHere(state, line), online: line.online }),
    ],
    ["TOPIC", (state, line) => ({ ...state, topic: line.text })],
  ]),
);

/**
 * Counts a line the user has not seen yet (tab in the background).
 * @type {Handler}
 */
function unseen(state, _line, at) {
  if (!at.hidden) return state;
  const unread = state.unread + 1;
  return { ...state, unread, title: `(${unread}) ${state.roomName}` };
}

/** @param {State} state @param {string} alias @param {boolean} operator */
function withMember(state, alias, operator) {
  const key = alias.toLowerCase();
  if (state.members.has(key)) return state;
  const members = new Map(state.members).set(key, { alias, operator });
  return { ...state, members };
}

/** @param {State} state @param {string} alias */
function withoutMember(state, alias) {
  const key = alias.toLowerCase();
  if (!state.members.has(key)) return state;
  const members = new Map(state.members);
  members.delete(key);
  return { ...state, members };
}

/**
 * The member list from a `WHO` (operators marked with "@").
 * @param {State} state @param {Line} line
 * @returns {State}
 */
function whoIsHere(state, line) {
  /** @type {State} */
  let listed = { ...state, members: new Map() };
  for (const alias of line.aliases.split(" ").filter((a) => a !== "")) {
    listed = alias.startsWith("@")
      ? withMember(listed, alias.slice(1), true)
      : withMember(listed, alias, false);
  }
  return listed;
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

/**
 * The join form sent: a password the server asked for, or an alias (again,
 * or another one) with the password typed already, which answers the
 * PASSWORD that may come back, so one click retries both.
 * @param {State} state @param {string} alias @param {string} password
 */
function submitJoin(state, alias, password) {
  const cleared = { ...state, joinError: "" };
  if (state.phase === "password" && alias === state.alias) {
    const given = effect({ ...cleared, password }, { clearPassword: true });
    return send(given, passCommand(password));
  }
  if (alias === "") return cleared;
  const asking = {
    ...cleared,
    phase: /** @type {const} */ ("alias"),
    alias,
    password: state.passwordShown ? password : "",
  };
  return send(effect(asking, { clearPassword: true }), alias);
}

/** @param {State} state @param {string} text */
function say(state, text) {
  if (text.trim() === "") return state;
  const said = isQuitCommand(text) ? { ...state, stay: true } : state;
  return send(effect(said, { clearMessage: true }), text);
}
