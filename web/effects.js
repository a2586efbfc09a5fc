// @ts-check
/**
 * What one step of the page's reducer asks for besides the new state (its
 * {@linkcode Effects}: lines to send, entries for the log, a box to focus,
 * a reconnect), the helpers that add to them, and the shape of a line's
 * handler. Pure, like the reducer (`state.js`).
 *
 * @module
 */

/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./state.js").State} State */

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
 * @typedef {{ now: number, hidden: boolean }} LineContext
 * @typedef {(state: State, line: Line, at: LineContext) => State} Handler
 */

/** @type {Effects} */
export const NO_EFFECTS = Object.freeze({
  send: [],
  clearLog: false,
  entries: [],
  focus: null,
  clearPassword: false,
  clearMessage: false,
  reconnectInMs: null,
});

/**
 * Adds effects to the step's (lines to send and entries after those there).
 * @param {State} state @param {Partial<Effects>} effects
 * @returns {State} with these effects added to the step's
 */
export function effect(state, effects) {
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

/** Adds a line to send. @param {State} state @param {string} line */
export const send = (state, line) => effect(state, { send: [line] });

/** Adds an entry to the log. @param {State} state @param {Entry} entry */
export const show = (state, entry) => effect(state, { entries: [entry] });

/** A line that changes nothing but the log. @type {Handler} */
export const unchanged = (state) => state;
