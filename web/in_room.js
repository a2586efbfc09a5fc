// @ts-check
/**
 * The page in the room: what the room's lines change besides the log (who
 * is here, how many, the topic, what came while the tab was hidden), and
 * `/who`, asked at most every few seconds. Handlers of the reducer
 * (`state.js`): pure.
 *
 * @module
 */

import { effect, send } from "./effects.js";
import { WHO_COMMAND } from "./protocol.js";

/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/** `/who` at most this often (large rooms summarise joins). */
const WHO_INTERVAL_MS = 5000;

/** @param {State} state @param {number} now */
export function askWho(state, now) {
  const last = state.whoAskedAt;
  if (last !== null && now - last < WHO_INTERVAL_MS) return state;
  return send({ ...state, whoAskedAt: now }, WHO_COMMAND);
}

/**
 * What lines of the room change besides the log (what is said counts as
 * unread while the tab is hidden).
 * @type {ReadonlyMap<string, Handler>}
 */
export const ROOM = new Map(
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
