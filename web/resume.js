// @ts-check
/**
 * The page's place in the room log, with a server that offers `seq` and
 * `resume`: the log's epoch and the last number seen in each room (all
 * forgotten when the epoch changes), `/resume` before the alias on a
 * reconnect (with the last connection's `RESUME` token), lines already
 * shown dropped, what the server catches up (from a position given, or
 * from the account's read marker after the page's own `JOIN`) held until
 * its `RESUMED` and shown after a "N new messages" divider (the page's own
 * leaving and renames among it are past ones), and read markers (`READ`
 * in, `/read` out a moment after lines were shown). Handlers of the
 * reducer (`state.js`): pure.
 *
 * @module
 */

import { backfillAgain, backfillReady } from "./backfill.js";
import { effect, send } from "./effects.js";
import { divider, missed } from "./entries.js";
import { roomOf, show, updateRoom } from "./in_room.js";
import {
  epochOf,
  offeredCaps,
  readCommand,
  resumeCommand,
  TOKEN,
} from "./protocol.js";

/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./in_room.js").Room} Room */
/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/** `/read` goes this long after the first line shown since the last. */
export const READ_DELAY_MS = 2000;

/** The lines that come from the room log, with `@seq=N;time=T` tags. */
const LOG_LINES = new Set([
  "MSG",
  "ME",
  "JOIN",
  "LEAVE",
  "NICK",
  "TOPIC",
  "MOD",
]);

/** The room a line is about: its prefix's, else the room shown. */
const target = (/** @type {State} */ state, /** @type {Line} */ line) =>
  line.inRoom || state.current;

/** A line's log number (0: none). @param {Line} line */
function seqOf(line) {
  return LOG_LINES.has(line.type) || line.type === "HIST"
    ? Number(line.seq) || 0
    : 0;
}

/**
 * Changes every room the page is in. @param {State} state
 * @param {(room: Room, name: string) => Partial<Room>} change
 * @returns {State}
 */
function everyRoom(state, change) {
  const rooms = new Map(
    [...state.rooms].map((
      [name, room],
    ) => [name, { ...room, ...change(room, name) }]),
  );
  return { ...state, rooms };
}

/** Where the page was: each room's last number seen (none for 0). */
function positions(/** @type {State} */ state) {
  return [...state.rooms].filter(([, room]) => room.seq > 0)
    .map(([name, room]) => /** @type {const} */ ([name, room.seq]));
}

/**
 * The greeting's part: keeps the log's epoch (forgetting every number
 * when it changed, the log's entries' too) and, on a reconnect to a server that offers `resume`,
 * says where the page was before the alias, holding the lines of each
 * room it names until the server has caught it up. `waiting`: a token was
 * given, so the alias waits for the answer (a `WELCOME` or an `ERR`).
 * @param {State} state @param {string} params the greeting's
 * @returns {{ state: State, waiting: boolean }}
 */
export function greeted(state, params) {
  const epoch = epochOf(params);
  const where = positions(state);
  const resuming = state.rejoining && state.alias !== "" &&
    state.epoch !== "" && offeredCaps(params).includes("resume");
  /** @type {State} */
  let next = { ...state, epoch, token: "" };
  if (epoch !== state.epoch) {
    next = everyRoom(next, (room) => ({
      seq: 0,
      shownSeq: 0,
      readSeq: 0,
      log: room.log.some((e) => e.seq !== undefined)
        ? room.log.map(unnumbered)
        : room.log,
    }));
  }
  next = everyRoom(next, (room) => ({
    backfill: backfillAgain(room.backfill, epoch === state.epoch),
  }));
  if (!resuming) return { state: next, waiting: false };
  const named = new Set(where.map(([name]) => name));
  next = everyRoom(next, (_, name) => ({
    catchUp: named.has(name) ? [] : null,
  }));
  const line = resumeCommand(state.epoch, where, state.token);
  return { state: send(next, line), waiting: state.token !== "" };
}

/**
 * An entry without its number: one of an epoch gone, whose numbers the
 * new one gives again (to other lines).
 * @param {Entry} entry @returns {Entry}
 */
function unnumbered(entry) {
  if (entry.seq === undefined) return entry;
  const { seq: _, ...rest } = entry;
  return rest;
}

/**
 * Whether a line of the log was shown already (in this epoch): at most
 * the room's last number, or held in its catch-up.
 * @param {State} state @param {Line} line
 */
export function isRepeat(state, line) {
  const seq = LOG_LINES.has(line.type) ? seqOf(line) : 0;
  if (seq === 0) return false;
  const room = roomOf(state, target(state, line));
  return seq <= room.seq || (room.catchUp ?? []).some((e) => e.seq === seq);
}

/**
 * Whether a line is held in its room's catch-up and about the page's own
 * member leaving or renaming: said before the page came (a connection
 * that dropped, another device), it changes nothing but the log.
 * @param {State} state @param {Line} line
 */
export function isPast(state, line) {
  const held = state.rooms.get(target(state, line))?.catchUp ?? null;
  return held !== null && seqOf(line) > 0 &&
    (line.type === "LEAVE" || line.type === "NICK") &&
    line.alias.toLowerCase() === state.alias.toLowerCase();
}

/**
 * Whether a line is the page's own `JOIN` of a room it holds nothing for
 * (no position given: a first login, a `/join`, a room the page had seen
 * no line of): the server may then catch it up from the account's read
 * marker, with lines numbered below that `JOIN`, after it.
 * @param {State} state @param {Line} line
 */
function entersUnplaced(state, line) {
  const room = state.rooms.get(line.inRoom);
  return line.type === "JOIN" && state.seqOn && state.roomsOn &&
    room !== undefined && room.catchUp === null &&
    line.alias.toLowerCase() === state.alias.toLowerCase();
}

/**
 * Shows a line's entry (held while its room catches up, at the time it was
 * said; a history ends that) and counts its number as seen. The page's own `JOIN` of a room it
 * gave no position for starts holding (itself, and what follows): the
 * lines numbered below it are a catch-up from the account's read marker,
 * not lines seen already.
 * @param {State} state @param {Line} line @param {Entry | null} entry
 * @returns {State}
 */
export function record(state, line, entry) {
  if (entersUnplaced(state, line)) {
    const holding = { catchUp: [], unplaced: true };
    return record(updateRoom(state, line.inRoom, () => holding), line, entry);
  }
  const name = target(state, line);
  const seq = seqOf(line);
  const holding = roomOf(state, name).catchUp !== null;
  if (holding && (line.type === "HIST" || line.type === "HISTEND")) {
    return record(caughtUp(state, name, null), line, entry);
  }
  if (entry === null) return state;
  const numbered = seq > 0 ? { ...entry, seq } : entry;
  if (holding && seq > 0 && state.rooms.has(name)) {
    return updateRoom(state, name, (room) => ({
      catchUp: [...(room.catchUp ?? []), saidAt(numbered, line.time)],
    }));
  }
  const shown = show(state, numbered, name);
  return seq > 0
    ? updateRoom(shown, name, (room) => ({ seq: Math.max(room.seq, seq) }))
    : shown;
}

/**
 * A caught-up line's entry at the time it was said (its `time` tag), not
 * the time it came; with its date when that is another day.
 * @param {Entry} entry @param {string} time
 * @returns {Entry}
 */
function saidAt(entry, time) {
  const said = new Date(time);
  if (time === "" || Number.isNaN(said.getTime())) return entry;
  const came = entry.when instanceof Date ? entry.when.toDateString() : "";
  return { ...entry, when: said, dated: said.toDateString() !== came };
}

/**
 * A room caught up: what was held is shown in log order, after how many
 * lines are missing (when the server says) and a "N new messages"
 * divider (when any came); its numbers count as seen.
 * @param {State} state @param {string} name @param {Entry | null} gap
 * @returns {State}
 */
function caughtUp(state, name, gap) {
  const held = roomOf(state, name).catchUp;
  if (held === null || !state.rooms.has(name)) return state;
  const sorted = [...held].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  const said = sorted.filter((e) => /\b(message|action)\b/.test(e.className));
  const top = Math.max(0, ...sorted.map((e) => e.seq ?? 0));
  const entries = [
    ...(gap === null ? [] : [gap]),
    ...(said.length > 0 ? [divider(said.length)] : []),
    ...sorted,
  ];
  const released = updateRoom(state, name, (room) => ({
    catchUp: null,
    unplaced: false,
    seq: Math.max(room.seq, top),
  }));
  return entries.reduce((next, entry) => show(next, entry, name), released);
}

/**
 * `CURRENT` ends a join sequence: a room that is holding lines, or was
 * entered with no position, and got no `RESUMED` shows what it holds (a
 * room whose sequence has not started holds none).
 * @param {State} state
 */
export function releaseStarted(state) {
  return [...state.rooms].reduce(
    (next, [name, room]) =>
      room.catchUp?.length || room.unplaced ? caughtUp(next, name, null) : next,
    state,
  );
}

/** Shows what every room holds (the socket closed). @param {State} state */
export function releaseAll(state) {
  return [...state.rooms.keys()].reduce(
    (next, name) => caughtUp(next, name, null),
    state,
  );
}

/**
 * `RESUMED LAST MISSING TEXT`: the room is caught up; how many lines are
 * missing is shown plainly. After a reload, its history may be asked.
 * @type {Handler}
 */
export function resumed(state, line, at) {
  const name = target(state, line);
  const gap = missed(line.missing, new Date(at.now));
  const last = Number(line.last) || 0;
  // Caught up, its log goes on: a history asked later does not replace it.
  const numbered = updateRoom(backfillReady(state, name), name, (room) => ({
    seq: Math.max(room.seq, last),
    replaceOnHistory: false,
  }));
  if (roomOf(numbered, name).catchUp !== null) {
    return caughtUp(numbered, name, gap);
  }
  return gap === null ? numbered : show(numbered, gap, name);
}

/**
 * `RESUME TOKEN SECONDS TEXT`: the token the next connection gives.
 * @type {Handler}
 */
export function resumeToken(state, line) {
  return TOKEN.test(line.token) ? { ...state, token: line.token } : state;
}

/**
 * `READ SEQ`: the account read the room up to SEQ (on this device or
 * another): its marker, and fewer unread lines.
 * @type {Handler}
 */
export function readMarker(state, line) {
  const name = target(state, line);
  const seq = Number(line.seq) || 0;
  const room = state.rooms.get(name);
  if (room === undefined || seq <= room.readSeq) return state;
  const after =
    room.log.filter((e) =>
      (e.seq ?? 0) > seq && /^(message|action)$/.test(e.className)
    ).length;
  const marked = updateRoom(state, name, () => ({
    readSeq: seq,
    unread: Math.min(room.unread, after),
  }));
  const all = name === state.current && seq >= room.seq;
  return all ? { ...marked, unread: 0 } : marked;
}

/**
 * After each step: the room shown, with the tab visible, has been seen up
 * to its last number; a `/read` for what was seen is sent a moment later
 * (one timer at a time).
 * @param {State} state
 * @returns {State}
 */
export function readLater(state) {
  const shown = state.rooms.get(state.current);
  let next = state;
  if (state.visible && shown !== undefined && shown.seq > shown.shownSeq) {
    next = updateRoom(next, state.current, (room) => ({ shownSeq: room.seq }));
  }
  if (next.readTimer || !next.seqOn || next.phase !== "joined") return next;
  // A held room (not joined) is marked once joined again.
  const unsent = [...next.rooms.values()].some((r) =>
    !r.held && r.shownSeq > r.readSeq
  );
  return unsent
    ? effect({ ...next, readTimer: true }, { readInMs: READ_DELAY_MS })
    : next;
}

/**
 * The `/read` timer: sends each room's last number seen and not yet
 * marked read.
 * @param {State} state
 * @returns {State}
 */
export function sendReads(state) {
  const next = { ...state, readTimer: false };
  if (state.phase !== "joined") return next;
  return [...state.rooms].reduce((sent, [name, room]) => {
    if (room.held || room.shownSeq <= room.readSeq) return sent;
    const marked = updateRoom(sent, name, () => ({ readSeq: room.shownSeq }));
    return send(marked, readCommand(name, room.shownSeq));
  }, next);
}
