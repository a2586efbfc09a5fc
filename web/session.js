// @ts-check
/**
 * What the page keeps of itself in the tab's `sessionStorage` so that a
 * reload (F5) comes back as the same member, as a reconnect does: the
 * alias, the log's epoch, each room's last number seen, the room shown,
 * the last `RESUME` token, and the keys of the rooms it is in (so that it
 * rejoins them after the grace as a reconnect does: the tab's only, like
 * the token, which is already the member in those rooms), and the user's
 * lines not answered yet (`kept.js`: sent again under their ids after the
 * reload). Nothing else: no password (an account's or the server's, asked
 * again). The snapshot of a state and its text, that text read back
 * (checked field by field: anything else is no session), the state a
 * reloaded page starts from, and the tab's storage taken at start and let
 * go when the page goes: a copy of the storage of a page still open (a
 * duplicated tab) is no session, so a second tab never takes the first
 * one's member. Pure, but for the storage object app.js hands in.
 *
 * @module
 */

import { backfillFrom } from "./backfill.js";
import { effect } from "./effects.js";
import { EMPTY_ROOM } from "./in_room.js";
import { keptOf, parseKept, restoreKept } from "./kept.js";
import { EPOCH, TOKEN } from "./protocol.js";

/** @typedef {import("./state.js").State} State */

/**
 * Where the page was, kept across a reload.
 * @typedef {object} Session
 * @property {string} alias the member's
 * @property {string} epoch of the server's room log
 * @property {string} token the last `RESUME` token ("": none)
 * @property {string} current the room shown ("": none)
 * @property {readonly (readonly [string, number])[]} rooms the rooms the
 *   page is in, in the order joined, each with its last number seen
 * @property {readonly (readonly [string, string])[]} keys the key each
 *   room of `rooms` was entered with, when it had one
 * @property {readonly import("./kept.js").KeptLine[]} [lines] the outbox
 * @property {number} [unkept] lines of the outbox over the bounds
 * @property {readonly import("./kept.js").AskedLine[]} [asked] lines sent
 *   without an id, not answered
 */

/**
 * The few methods of `Storage` the page uses (a `Map`'s in the tests).
 * @typedef {Pick<Storage, "getItem" | "setItem" | "removeItem">} TabStorage
 */

/** The storage key of the page's {@linkcode Session}. */
export const SESSION_KEY = "tlschat.session";

/** Set while a page of this tab is open; removed when it goes. */
export const OPEN_KEY = "tlschat.open";

/**
 * What a state keeps across a reload: none before joining, and none once
 * the page left for good (`/quit`, a kick, a ban, a refused login: the
 * `stay` flag, or the alias asked for anew).
 * @param {State} state
 * @returns {Session | null}
 */
export function sessionOf(state) {
  if (state.stay || state.alias === "") return null;
  if (state.phase !== "joined" && !state.rejoining) return null;
  const rooms = [...state.rooms].filter(([name, room]) =>
    name !== "" || room.seq > 0
  ).map(([name, room]) => /** @type {const} */ ([name, room.seq]));
  const keys = [...state.keys].filter(([name, key]) =>
    state.rooms.has(name) && isKey([name, key])
  );
  const { alias, epoch, token, current } = state;
  return {
    alias,
    epoch,
    token,
    current,
    rooms,
    keys,
    ...withLines(keptOf(state)),
  };
}

/**
 * The user's lines as a session holds them: only the fields that hold
 * any (a session without lines reads as one of the release before).
 * @param {import("./kept.js").KeptLines} kept
 */
function withLines({ lines, unkept, asked }) {
  return {
    ...(lines.length > 0 ? { lines } : {}),
    ...(unkept > 0 ? { unkept } : {}),
    ...(asked.length > 0 ? { asked } : {}),
  };
}

/** A session as its storage text ("": none). @param {State} state */
export function sessionText(state) {
  const session = sessionOf(state);
  return session === null ? "" : JSON.stringify(session);
}

/**
 * The step asks to keep its session when that changed (`""`: forget it),
 * and the state keeps that text (`sessionKept`): a step that changes none
 * of what a session is made of makes no text, and one that does makes
 * only its own (not the one before's again).
 * @param {State} before @param {State} after
 * @returns {State}
 */
export function remembered(before, after) {
  if (sessionChange(before, after) === "same") return after;
  const text = sessionText(after);
  return text === before.sessionKept
    ? after
    : effect({ ...after, sessionKept: text }, { session: text });
}

/**
 * What a step changed of what a session is made of, found without making
 * either's text: nothing (`"same"`: their texts are the same), only rooms'
 * last numbers seen (`"positions"`: a reload that lost them would only
 * resume from an earlier line), or more (`"more"`: perhaps the member,
 * its token, its rooms or its unsent lines; perhaps nothing, as a phase
 * that keeps none of it).
 * @param {State} before @param {State} after
 * @returns {"same" | "positions" | "more"}
 */
export function sessionChange(before, after) {
  const same = before.stay === after.stay && before.alias === after.alias &&
    before.phase === after.phase && before.rejoining === after.rejoining &&
    before.epoch === after.epoch && before.token === after.token &&
    before.current === after.current && before.keys === after.keys &&
    before.outbox === after.outbox && before.typed === after.typed;
  return same ? roomsChange(before.rooms, after.rooms) : "more";
}

/**
 * What changed of the rooms a session keeps: the same names in the same
 * order, each with its number (`"same"`), or another number (`"positions"`).
 * @param {State["rooms"]} before @param {State["rooms"]} after
 * @returns {"same" | "positions" | "more"}
 */
function roomsChange(before, after) {
  if (before === after) return "same";
  if (before.size !== after.size) return "more";
  const next = after.entries();
  let moved = false;
  for (const [name, room] of before) {
    const { value } = next.next();
    if (value === undefined || value[0] !== name) return "more";
    moved ||= value[1].seq !== room.seq;
  }
  return moved ? "positions" : "same";
}

/** A word sent as a line of its own: no space or control inside. */
const WORD = /^[^\s\p{Cc}]{1,64}$/u;

/**
 * A room's name as the server makes them (`#` and 1 to 32 of a-z, 0-9, `-`
 * and `_`), folded as the page keeps it: no `,` or `=` that would add a
 * position to `/resume`, nor a length that would make it too long a line.
 */
const ROOM = /^#[a-z0-9_-]{1,32}$/;

/** A room key as `/join` sends it: one word, of a line's length at most. */
const KEY = /^[^\s\p{Cc}]{1,512}$/u;

/** Numbers `/resume` takes: at most 15 digits. */
const MAX_SEQ = 999_999_999_999_999;

/** A room kept: `#name` as the page sends it, or `""` (no rooms). */
function isRoom(/** @type {unknown} */ name) {
  return typeof name === "string" && (name === "" || ROOM.test(name));
}

/** A room's key kept: a room the page was in (not `""`) and its key. */
function isKey(/** @type {unknown} */ pair) {
  return Array.isArray(pair) && pair.length === 2 && pair[0] !== "" &&
    isRoom(pair[0]) && typeof pair[1] === "string" && KEY.test(pair[1]);
}

/**
 * A position kept: a room and a number (0: none seen yet), one `/resume`
 * takes (a larger one, refused there, would hide the room's every line as
 * seen already).
 */
function isPosition(/** @type {unknown} */ pair) {
  return Array.isArray(pair) && pair.length === 2 && isRoom(pair[0]) &&
    Number.isSafeInteger(pair[1]) && pair[1] >= 0 && pair[1] <= MAX_SEQ;
}

/**
 * A session from its storage text, or null when there is none or it is
 * not one (every field checked: the alias, rooms and keys are sent as
 * lines; no keys: none, as a page of the release before kept; the user's
 * lines each checked, one unsound dropped and told: `kept.js`).
 * @param {string | null} text
 * @returns {Session | null}
 */
export function parseSession(text) {
  /** @type {unknown} */
  let value;
  try {
    value = JSON.parse(text ?? "");
  } catch {
    return null; // not a session: the page starts anew
  }
  if (typeof value !== "object" || value === null) return null;
  const { alias, epoch, token, current, rooms, keys = [] } =
    /** @type {Record<string, unknown>} */ (value);
  const { lines, unkept, asked } = /** @type {Record<string, unknown>} */ (
    value
  );
  const valid = typeof alias === "string" && WORD.test(alias) &&
    typeof epoch === "string" && (epoch === "" || EPOCH.test(epoch)) &&
    typeof token === "string" && (token === "" || TOKEN.test(token)) &&
    isRoom(current) && Array.isArray(rooms) && rooms.length <= 1000 &&
    rooms.every(isPosition) && Array.isArray(keys) && keys.length <= 1000 &&
    keys.every(isKey);
  if (!valid) return null;
  const kept = parseKept(lines, unkept, asked);
  return /** @type {Session} */ ({
    alias,
    epoch,
    token,
    current,
    rooms,
    keys,
    ...withLines(kept),
  });
}

/**
 * A reloaded page: where its session was, rejoining as after a dropped
 * connection (its rooms' logs empty, each room's numbers up to its last
 * seen counted as seen, shown and read, the history up to it to be asked
 * once the room is caught up: `backfill.js`), the user's lines not
 * answered back in its outbox (`kept.js`).
 * @param {State} state @param {Session} session
 * @returns {State}
 */
export function restore(state, session) {
  const rooms = new Map([["", EMPTY_ROOM]]);
  for (const [name, seq] of session.rooms) {
    const backfill = backfillFrom(seq);
    rooms.set(name, {
      ...EMPTY_ROOM,
      seq,
      shownSeq: seq,
      readSeq: seq,
      backfill,
    });
  }
  return restoreKept({
    ...state,
    alias: session.alias,
    epoch: session.epoch,
    token: session.token,
    rooms,
    keys: new Map(session.keys.filter(([name]) => rooms.has(name))),
    current: rooms.has(session.current) ? session.current : "",
    rejoining: true,
    status: { text: "Rejoining…", warn: false },
  }, {
    lines: session.lines ?? [],
    unkept: session.unkept ?? 0,
    asked: session.asked ?? [],
  });
}

/**
 * The session a page starts from, marking the tab's page open. A page of
 * this tab still open (the mark set, not removed by its `pagehide`: this
 * tab is a duplicate of an open one, whose storage it copied) keeps its
 * member: the copy is forgotten and the page starts anew.
 * @param {TabStorage} storage
 * @returns {Session | null}
 */
export function takeSession(storage) {
  const copied = storage.getItem(OPEN_KEY) !== null;
  const session = copied ? null : parseSession(storage.getItem(SESSION_KEY));
  if (session === null) storage.removeItem(SESSION_KEY);
  storage.setItem(OPEN_KEY, "1");
  return session;
}

/**
 * The page goes (`pagehide`: a reload, a tab closed) or comes back from
 * the back-forward cache (`pageshow`): the next page of this tab may take
 * its session only once it has gone.
 * @param {TabStorage} storage @param {boolean} open
 */
export function markOpen(storage, open) {
  if (open) storage.setItem(OPEN_KEY, "1");
  else storage.removeItem(OPEN_KEY);
}

/** How long a change of only the rooms' last numbers waits to be written. */
export const POSITIONS_WRITE_MS = 1000;

/**
 * Writes the page's session as the steps ask (`write`: to the tab's
 * storage, `""`: forget it), not each time: a change of more than the
 * rooms' last numbers (the member, its token, its rooms, its lines not
 * sent) is written at once; one of only those numbers (every numbered
 * line in a busy room) waits, the last one written once `later` calls
 * back ({@linkcode POSITIONS_WRITE_MS}) or when `flush()`ed: when the
 * page hides or goes (a reload), before the next page reads it.
 */
export class SessionWriter {
  /** @type {(text: string) => void} */
  #write;
  /** @type {(flush: () => void) => void} */
  #later;
  /** The text waiting to be written (null: none). @type {string | null} */
  #waiting = null;
  /** A `later` call back is to come. */
  #due = false;

  /**
   * @param {(text: string) => void} write keeps a session's text
   * @param {(flush: () => void) => void} later calls back once, after a while
   */
  constructor(write, later) {
    this.#write = write;
    this.#later = later;
  }

  /**
   * A step asked to keep `text`; `change` is what it changed
   * ({@linkcode sessionChange}).
   * @param {string} text @param {"same" | "positions" | "more"} change
   */
  keep(text, change) {
    this.#waiting = text;
    if (change !== "positions") this.flush();
    else if (!this.#due) {
      this.#due = true;
      this.#later(() => {
        this.#due = false;
        this.flush();
      });
    }
  }

  /** Writes the text waiting, if any. */
  flush() {
    const text = this.#waiting;
    this.#waiting = null;
    if (text !== null) this.#write(text);
  }
}
