// @ts-check
/**
 * What a reloaded page shows before the lines it missed: each room's
 * recent conversation up to where the page was (its position, kept across
 * the reload), as a fresh join shows it, since a reload keeps no log. Once
 * the room is caught up (its `RESUMED`) and shown, the page asks for its
 * history once (`/history`: the server's `--history` last messages); at
 * `HISTEND` the `HIST` lines numbered at or below the position go before
 * the room's log, and the others (caught up or live already) are dropped,
 * so no line shows twice. One `/history` per room, only when it is shown:
 * a reload in many rooms sends no burst of them. Handlers of the reducer
 * (`state.js`): pure.
 *
 * @module
 */

import { send } from "./effects.js";
import { entryFor } from "./entries.js";
import { MAX_LOG, toRoom, updateRoom } from "./in_room.js";
import { HISTORY_COMMAND } from "./protocol.js";

/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./effects.js").LineContext} LineContext */
/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/**
 * A room's history still to show before its log, after a reload.
 * @typedef {object} Backfill
 * @property {number} upTo the room's position at the reload: the history
 *   up to it was not shown
 * @property {"waiting" | "ready" | "asked"} step waiting for the room to
 *   be caught up (`RESUMED`), ready to ask once shown, or asked
 * @property {readonly Entry[]} held the history's lines up to `upTo`,
 *   gathered until `HISTEND`
 */

/**
 * The history to ask for a room a reload came back to at `seq` (none
 * for 0: no line seen, so the server sends its history anyway).
 * @param {number} seq
 * @returns {Backfill | null}
 */
export function backfillFrom(seq) {
  return seq > 0 ? { upTo: seq, step: "waiting", held: [] } : null;
}

/**
 * A new connection: a history asked and not answered is lost with the
 * old one, so each room waits for its catch-up again; none when the
 * log's epoch changed (the server sends each room's history then).
 * @param {Backfill | null} backfill @param {boolean} sameEpoch
 * @returns {Backfill | null}
 */
export function backfillAgain(backfill, sameEpoch) {
  if (backfill === null || !sameEpoch) return null;
  return { ...backfill, step: "waiting", held: [] };
}

/**
 * A room caught up (`RESUMED`): its history may be asked once it is shown.
 * @param {State} state @param {string} name
 * @returns {State}
 */
export function backfillReady(state, name) {
  return updateRoom(
    state,
    name,
    ({ backfill }) =>
      backfill?.step === "waiting"
        ? { backfill: { ...backfill, step: "ready" } }
        : {},
  );
}

/**
 * After each step: the room shown, caught up after a reload, asks for its
 * history (once).
 * @param {State} state
 * @returns {State}
 */
export function askBackfill(state) {
  const name = state.current;
  const backfill = state.rooms.get(name)?.backfill;
  if (state.phase !== "joined" || backfill?.step !== "ready") return state;
  const asked = updateRoom(state, name, () => ({
    backfill: { ...backfill, step: "asked" },
  }));
  return send(asked, toRoom(state, name, HISTORY_COMMAND));
}

/**
 * A `HIST` or `HISTEND` line of a room whose history the page asked for
 * after a reload: kept, dropped or shown before the log (the state after
 * it), or null when it is no answer to that (then handled as ever: a
 * history the page did not ask for, after a new epoch, ends the backfill
 * in `in_room.js`).
 * @param {State} state @param {Line} line @param {LineContext} at
 * @returns {State | null}
 */
export function backfilled(state, line, at) {
  if (line.type !== "HIST" && line.type !== "HISTEND") return null;
  const name = line.inRoom || state.current;
  const backfill = state.rooms.get(name)?.backfill ?? null;
  if (backfill?.step !== "asked") return null;
  if (line.type === "HISTEND") {
    return updateRoom(state, name, (room) => ({
      backfill: null,
      log: [...backfill.held, ...room.log].slice(-MAX_LOG),
    }));
  }
  const seq = Number(line.seq) || 0;
  if (seq === 0 || seq > backfill.upTo) return state;
  const entry = /** @type {Entry} */ (entryFor(line, new Date(at.now)));
  return updateRoom(state, name, () => ({
    backfill: { ...backfill, held: [...backfill.held, { ...entry, seq }] },
  }));
}

/**
 * `ERR no-history` while a history was asked: the server keeps none, so
 * nothing is shown before the log and no room asks again (null: the
 * line is no answer to that).
 * @param {State} state @param {Line} line
 * @returns {State | null}
 */
export function backfillRefused(state, line) {
  if (line.code !== "no-history") return null;
  const asked = [...state.rooms.values()].some((room) =>
    room.backfill?.step === "asked"
  );
  if (!asked) return null;
  return [...state.rooms.keys()].reduce(
    (next, name) => updateRoom(next, name, () => ({ backfill: null })),
    state,
  );
}
