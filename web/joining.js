// @ts-check
/**
 * The page before it is in the room: the greeting (rejoining under the
 * same alias after a reconnect), the password asked for (given again from
 * memory, or typed), refusals, the join form and what it sends, and the
 * welcome that puts it in the room. Handlers of the reducer (`state.js`):
 * pure.
 *
 * @module
 */

import { effect, send, show } from "./effects.js";
import { errorLine, notice } from "./entries.js";
import { askWho } from "./in_room.js";
import { passCommand } from "./protocol.js";

/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./state.js").Phase} Phase */
/** @typedef {import("./state.js").State} State */

/** @type {Handler} */
export function hello(state, line) {
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
export function passwordAsked(state, line, at) {
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
export function refused(state, text) {
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
export function joined(state, line, at) {
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

/**
 * The join form sent: a password the server asked for, or an alias (again,
 * or another one) with the password typed already, which answers the
 * PASSWORD that may come back, so one click retries both.
 * @param {State} state @param {string} alias @param {string} password
 */
export function submitJoin(state, alias, password) {
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
