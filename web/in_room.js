// @ts-check
/**
 * The page in its rooms: each room's log, members, topic and unread count,
 * which room is shown, what the rooms' lines change besides the log (who
 * is here, the topic, our own joins and parts, what came while the tab was
 * hidden), and `/who` per room, asked at most every few seconds. The room
 * named `""` is the server's only room when it has no rooms, and where the
 * page's notices go while it is in none. Handlers of the reducer
 * (`state.js`): pure.
 *
 * @module
 */

import { effect, send } from "./effects.js";
import { inRoom as labelled } from "./entries.js";
import { whoIsHere, withMember, withoutMember } from "./members.js";
import { WHO_COMMAND } from "./protocol.js";

/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */
/** @typedef {import("./state.js").Member} Member */

/**
 * One room as the page keeps it.
 * @typedef {object} Room
 * @property {string} topic
 * @property {string | null} online how many are here (null: not told yet)
 * @property {ReadonlyMap<string, Member>} members by lower-case alias
 * @property {readonly Entry[]} log what its message log shows, oldest first
 * @property {number} unread lines said here while another room was shown
 * @property {number | null} whoAskedAt when the page last sent its `/who`
 * @property {boolean} whoWanted its members changed (or were never asked)
 *   while another room was shown: asked when it is shown
 * @property {boolean} replaceOnHistory its next history replaces its log
 * @property {number} seq the last log number seen here (0: none, or
 *   forgotten when the log's epoch changed); lines up to it are not shown
 *   again
 * @property {number} shownSeq the last log number shown with the tab
 *   visible and the room shown
 * @property {number} readSeq the read marker: the last number the page
 *   sent with `/read`, or the server told with `READ`
 * @property {readonly Entry[] | null} catchUp entries held while the
 *   server catches the room up after a reconnect (null: not catching up),
 *   shown after a "N new messages" divider when `RESUMED` comes
 * @property {boolean} unplaced entered with no position given (a first
 *   login, a `/join`): what follows its own `JOIN` is held as a catch-up,
 *   the lines older than that `JOIN` from the account's read marker
 * @property {import("./backfill.js").Backfill | null} backfill the history
 *   a reloaded page asks for and shows before the log (null: none)
 * @property {boolean} held on the list but not joined: the room log did not
 *   store its `JOIN` (or cannot say), its key kept; selecting it, or a
 *   reconnect, joins it again (`rooms_asked.js`)
 */

/** A room the page has just joined. @type {Room} */
export const EMPTY_ROOM = Object.freeze({
  topic: "",
  online: null,
  members: new Map(),
  log: [],
  unread: 0,
  whoAskedAt: null,
  whoWanted: false,
  replaceOnHistory: false,
  seq: 0,
  shownSeq: 0,
  readSeq: 0,
  catchUp: null,
  unplaced: false,
  backfill: null,
  held: false,
});

/** Each room's log keeps this many entries (a long-open tab stays small). */
export const MAX_LOG = 1000;

/**
 * Of which at most this many notices of people coming and going: past it
 * the oldest of them leaves, so that a busy room's joins and leaves never
 * push what was said out of the log.
 */
export const MAX_PRESENCE = 100;

/** `/who` at most this often per room (large rooms summarise joins). */
const WHO_INTERVAL_MS = 5000;

/** A room by name (an empty one when the page is not in it). */
export function roomOf(/** @type {State} */ state, /** @type {string} */ name) {
  return state.rooms.get(name) ?? EMPTY_ROOM;
}

/**
 * Changes a room the page is in (none other).
 * @param {State} state @param {string} name
 * @param {(room: Room) => Partial<Room>} change
 * @returns {State}
 */
export function updateRoom(state, name, change) {
  const room = state.rooms.get(name);
  if (room === undefined) return state;
  const rooms = new Map(state.rooms).set(name, { ...room, ...change(room) });
  return { ...state, rooms };
}

/**
 * Adds an entry to a room's log (by default the room shown), before the
 * user's lines waiting for their echo (`outbox.js`), which stay last; an
 * entry about a room the page is not in goes to the room shown, labelled.
 * @param {State} state @param {Entry} entry @param {string} [name]
 */
export function show(state, entry, name = state.current) {
  const into = state.rooms.has(name) ? name : state.current;
  const shown = into === name ? entry : labelled(entry, name);
  return updateRoom(state, into, (room) => {
    const log = roomFor(room.log, shown);
    let at = log.length;
    while (at > 0 && log[at - 1]?.pendingId !== undefined) at--;
    return { log: [...log.slice(0, at), shown, ...log.slice(at)] };
  });
}

/**
 * A log with room for one more entry: past {@linkcode MAX_PRESENCE}
 * presence notices, a presence notice makes its oldest one leave;
 * past {@linkcode MAX_LOG} entries, the oldest entry leaves.
 * @param {readonly Entry[]} log @param {Entry} entry
 * @returns {readonly Entry[]}
 */
function roomFor(log, entry) {
  let kept = log;
  if (entry.presence) {
    const notices = kept.filter((e) => e.presence).length;
    if (notices >= MAX_PRESENCE) {
      const oldest = kept.findIndex((e) => e.presence);
      kept = [...kept.slice(0, oldest), ...kept.slice(oldest + 1)];
    }
  }
  return kept.length < MAX_LOG ? kept : kept.slice(1 - MAX_LOG);
}

/**
 * Shows another room the page is in (and its name as the URL fragment).
 * Leaving the room `""` (no room yet), its notices go to the room shown.
 * @param {State} state @param {string} name
 * @returns {State}
 */
export function switchTo(state, name) {
  if (name === state.current || !state.rooms.has(name)) return state;
  const orphans = state.current === "" ? roomOf(state, "").log : [];
  let next = updateRoom({ ...state, current: name }, name, (room) => ({
    unread: 0,
    log: [...orphans, ...room.log].slice(-MAX_LOG),
  }));
  if (orphans.length > 0) next = updateRoom(next, "", () => ({ log: [] }));
  const shown = effect(next, { fragment: name });
  if (!roomOf(shown, name).whoWanted) return shown;
  const asked = updateRoom(shown, name, () => ({ whoWanted: false }));
  return askedWho(asked, name);
}

/**
 * Sends the page's own `/who` of a room, counted so that its answer is
 * not taken for a typed line's (`typed.js`).
 * @param {State} state @param {string} name
 */
function askedWho(state, name) {
  const counted = { ...state, whoAsked: state.whoAsked + 1 };
  return send(counted, toRoom(state, name, WHO_COMMAND));
}

/**
 * A line for a room: with its `#room ` prefix when the server has rooms.
 * @param {State} state @param {string} name @param {string} text
 */
export function toRoom(state, name, text) {
  return state.roomsOn && name !== "" ? `${name} ${text}` : text;
}

/**
 * Asks who is in a room, unless it was asked lately; a room not shown is
 * asked when it is (its members are shown only then, and a page in many
 * busy rooms would spend its flood budget on them, its user's lines
 * waiting behind).
 * @param {State} state @param {string} name @param {number} now
 */
export function askWho(state, name, now) {
  if (name !== state.current) {
    return updateRoom(state, name, () => ({ whoWanted: true }));
  }
  const last = state.rooms.get(name)?.whoAskedAt;
  if (last === undefined || (last !== null && now - last < WHO_INTERVAL_MS)) {
    return state;
  }
  const asked = updateRoom(state, name, () => ({ whoAskedAt: now }));
  return askedWho(asked, name);
}

/**
 * What a room's log keeps when its history replaces it: the user's lines
 * not answered (greyed) and those not sent (or perhaps not), with their
 * text to copy. @param {Room} room
 */
function lasting(room) {
  return room.log.filter((e) =>
    e.pendingId !== undefined || e.className.startsWith("unsent")
  );
}

/** The room a line is about: its prefix's, else the room shown. */
const target = (/** @type {State} */ state, /** @type {Line} */ line) =>
  line.inRoom || state.current;

/** Whether a room's line is about this page's own member. */
function ours(/** @type {State} */ state, /** @type {Line} */ line) {
  return state.roomsOn && line.inRoom !== "" &&
    line.alias.toLowerCase() === state.alias.toLowerCase();
}

/**
 * What lines of the rooms change besides the log (what is said counts as
 * unread while the tab is hidden, and in rooms not shown).
 * @type {ReadonlyMap<string, Handler>}
 */
export const ROOM_LINES = new Map(
  /** @type {[string, Handler][]} */ ([
    ["MSG", said],
    ["ME", said],
    ["PRIV", unseen],
    [
      "HIST",
      (state, line) =>
        updateRoom(
          state,
          target(state, line),
          // A history the page did not ask for: none to ask after a reload.
          (room) =>
            room.replaceOnHistory
              ? { replaceOnHistory: false, log: lasting(room), backfill: null }
              : { backfill: null },
        ),
    ],
    ["JOIN", joinedRoom],
    ["LEAVE", leftRoom],
    ["NICK", (state, line) => {
      const renamed = updateRoom(state, target(state, line), (room) => ({
        members: withMember(
          withoutMember(room.members, line.alias),
          line.newAlias,
          false,
        ),
      }));
      const self = line.alias.toLowerCase() === state.alias.toLowerCase();
      // Its own: a login that succeeded, if one was asked.
      return self ? { ...renamed, alias: line.newAlias, logins: 0 } : renamed;
    }],
    ["PRESENCE", (state, line, at) => {
      const name = target(state, line);
      const told = updateRoom(state, name, () => ({ online: line.online }));
      return askWho(told, name, at.now);
    }],
    ["WHO", (state, line) =>
      updateRoom(state, target(state, line), () => ({
        members: whoIsHere(line.aliases),
        online: line.online,
        whoWanted: false,
      }))],
    [
      "TOPIC",
      (state, line) =>
        updateRoom(state, target(state, line), () => ({ topic: line.text })),
    ],
    [
      "CURRENT",
      (state, line) =>
        switchTo(
          answered(state, line.room),
          line.room === "-" ? "" : line.room,
        ),
    ],
  ]),
);

/**
 * A `/join` the page sent was answered (a JOIN, or a CURRENT for a room
 * it was in already).
 * @param {State} state @param {string} name
 */
function answered(state, name) {
  if (!state.joining.includes(name)) return state;
  return { ...state, joining: state.joining.filter((n) => n !== name) };
}

/**
 * Counts a line the user has not seen yet (tab in the background).
 * @type {Handler}
 */
function unseen(state, _line, at) {
  return at.hidden ? { ...state, unread: state.unread + 1 } : state;
}

/**
 * A message: unseen in a hidden tab, unread in a room not shown (unless
 * it is our own).
 * @type {Handler}
 */
function said(state, line, at) {
  const name = target(state, line);
  const counted = unseen(state, line, at);
  if (name === state.current || ours(state, line)) return counted;
  return updateRoom(counted, name, (room) => ({ unread: room.unread + 1 }));
}

/**
 * Someone joined a room; when it is us, the room is added to the list (and
 * shown, when none was), and its members asked for.
 * @type {Handler}
 */
function joinedRoom(state, line, at) {
  const name = target(state, line);
  const self = ours(state, line);
  const added = self && !state.rooms.has(name)
    ? { ...state, rooms: new Map(state.rooms).set(name, EMPTY_ROOM) }
    : state;
  const told = updateRoom(added, name, (room) => ({
    members: withMember(room.members, line.alias, false),
    online: line.online,
    held: room.held && !self,
  }));
  if (!self) return told;
  // In again: the next room held waits the shortest time again.
  const asked = askWho(answered({ ...told, rejoins: 0 }, name), name, at.now);
  return asked.current === "" ? switchTo(asked, name) : asked;
}

/**
 * Someone left a room; when it is us, the room leaves the list (and the
 * most recently joined one left is shown, if it was shown).
 * @type {Handler}
 */
function leftRoom(state, line) {
  const name = target(state, line);
  if (!ours(state, line)) {
    return updateRoom(state, name, (room) => ({
      members: withoutMember(room.members, line.alias),
      online: line.online,
    }));
  }
  return dropRoom(state, name);
}

/**
 * Forgets a room's key and takes the room off the list (if on it); when it
 * was shown, the most recently joined one left is shown.
 * @param {State} state @param {string} name
 * @returns {State}
 */
export function dropRoom(state, name) {
  if (name === "") return state;
  const keys = new Map(state.keys);
  keys.delete(name);
  if (!state.rooms.has(name)) return { ...state, keys };
  const rooms = new Map(state.rooms);
  rooms.delete(name);
  const left = { ...state, rooms, keys };
  if (state.current !== name) return left;
  const last = [...rooms.keys()].at(-1) ?? "";
  return last === ""
    ? effect({ ...left, current: "" }, { fragment: "" })
    : switchTo(left, last);
}
