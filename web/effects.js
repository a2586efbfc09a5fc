// @ts-check
/**
 * What one step of the page's reducer asks for besides the new state (its
 * {@linkcode Effects}: lines to send, a box to focus or empty, the URL
 * fragment to show, a reconnect, a `/read` later, the session to keep
 * across a reload, the pace to send at), the helpers that add to them, and the shape of a
 * line's handler. Pure, like the reducer (`state.js`). What the
 * log shows is state (each room's `log`), not an effect.
 *
 * @module
 */

/** @typedef {import("./protocol.js").Line} Line */
/** @typedef {import("./state.js").State} State */

/**
 * What one event asks of the page besides showing the state.
 * @typedef {object} Effects
 * @property {readonly string[]} send lines to send, in order
 * @property {"alias" | "password" | "message" | "roomKey" | null} focus
 * @property {boolean} clearPassword empty the password box
 * @property {boolean} clearMessage empty the message box
 * @property {boolean} clearRoom empty the room boxes (name and key)
 * @property {string | null} fillRoom put this room's name in the room
 *   box (its key asked for again)
 * @property {string | null} fragment show this URL fragment (`#ops`)
 * @property {number | null} reconnectInMs connect again after this long
 * @property {number | null} readInMs send what was read (a `read` event)
 *   after this long
 * @property {number | null} rejoinInMs join the held rooms again (a
 *   `rejoin` event) after this long
 * @property {string | null} session keep this in the tab's storage (the
 *   page's session as text, `session.js`; `""`: forget it), or null:
 *   unchanged
 * @property {{ rate: number, burst: number } | null} pace send no faster
 *   than these flood limits from now on, this step's lines included (the
 *   greeting's; `pace.js`), or null: as before
 * @property {boolean} holdBack the server throttled a line (`ERR flood`):
 *   hold back what waits to be sent for a while
 * @property {boolean} hangUp close the socket (if one is open or opening)
 *   and connect no more: the user quit while not connected
 */

/**
 * @typedef {{ now: number, hidden: boolean }} LineContext
 * @typedef {(state: State, line: Line, at: LineContext) => State} Handler
 */

/** @type {Effects} */
export const NO_EFFECTS = Object.freeze({
  send: [],
  focus: null,
  clearPassword: false,
  clearMessage: false,
  clearRoom: false,
  fillRoom: null,
  fragment: null,
  reconnectInMs: null,
  readInMs: null,
  rejoinInMs: null,
  session: null,
  pace: null,
  holdBack: false,
  hangUp: false,
});

/**
 * Adds effects to the step's (lines to send after those there).
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
    },
  };
}

/** Adds a line to send. @param {State} state @param {string} line */
export const send = (state, line) => effect(state, { send: [line] });

/** A line that changes nothing but the log. @type {Handler} */
export const unchanged = (state) => state;
