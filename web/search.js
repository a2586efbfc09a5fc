// @ts-check
/**
 * The page's search box: `/search WORDS` sent, the `FOUND` lines that
 * answer it kept as entries of their own list (plain data, shown as text
 * like the log's), its `FOUNDEND` count, and the errors that refuse a
 * search (`search-limit`, `no-history`, `usage`). Handlers of the reducer
 * (`state.js`): pure.
 *
 * @module
 */

import { send } from "./effects.js";
import { found } from "./entries.js";
import { searchCommand, searchWords } from "./protocol.js";

/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/**
 * The search shown (or not): the words sent, the results so far (newest
 * first, as they came), what the page says about them, and whether the
 * answer is still coming.
 * @typedef {object} Search
 * @property {boolean} open the results are shown
 * @property {string} words
 * @property {readonly Entry[]} results
 * @property {{ readonly text: string, readonly warn: boolean }} status
 * @property {boolean} pending
 */

/** No search yet. @type {Search} */
export const NO_SEARCH = Object.freeze({
  open: false,
  words: "",
  results: [],
  status: { text: "", warn: false },
  pending: false,
});

/** The page keeps at most this many results (the server sends 50). */
const MAX_RESULTS = 200;

/** The `ERR` codes that refuse a search. */
const REFUSALS = new Set(["search-limit", "no-history", "usage"]);

/**
 * Sends a search typed in the box (nothing when it has no words, or the
 * page is not in the room).
 * @param {State} state @param {string} typed
 * @returns {State}
 */
export function search(state, typed) {
  const words = searchWords(typed);
  if (words === "" || state.phase !== "joined") return state;
  const asked = {
    ...state,
    search: {
      open: true,
      words,
      results: [],
      status: { text: `Searching for “${words}”…`, warn: false },
      pending: true,
    },
  };
  return send(asked, searchCommand(words));
}

/** Closes the results. @param {State} state @returns {State} */
export function closeSearch(state) {
  return state.search.open
    ? { ...state, search: { ...state.search, open: false } }
    : state;
}

/**
 * `FOUND #room SEQ TIME KIND ALIAS TEXT`: one result.
 * @type {Handler}
 */
export function foundLine(state, line) {
  const { search } = state;
  if (!search.pending || search.results.length >= MAX_RESULTS) return state;
  const result = { ...found(line), seq: Number(line.seq) || 0 };
  return {
    ...state,
    search: { ...search, results: [...search.results, result] },
  };
}

/**
 * `FOUNDEND COUNT TEXT`: the answer is complete. The page says the count
 * in its own words; of the server's TEXT (`End of search: 2 lines`, which
 * says it again) it keeps only a note in parentheses at its end, such as
 * `(the newest 50)`.
 * @type {Handler}
 */
export function foundEnd(state, line) {
  const { search } = state;
  if (!search.pending) return state;
  const count = Number(line.count) || 0;
  const said = count === 0
    ? `Nothing found for “${search.words}”`
    : `${
      count === 1 ? "1 message" : `${count} messages`
    } found for “${search.words}”`;
  const note = /\([^()]*\)$/.exec(line.text)?.[0];
  const text = note === undefined ? said : `${said} ${note}`;
  return {
    ...state,
    search: { ...search, pending: false, status: { text, warn: false } },
  };
}

/**
 * An `ERR` that refuses the search waiting for its answer, shown with the
 * results; null when it is about something else.
 * @param {State} state @param {Line} line
 * @returns {State | null}
 */
export function searchRefused(state, line) {
  const { search } = state;
  if (!search.pending || !REFUSALS.has(line.code)) return null;
  const status = { text: `! ${line.text}`, warn: true };
  return { ...state, search: { ...search, pending: false, status } };
}
