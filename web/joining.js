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

import { effect, send } from "./effects.js";
import { errorLine, notice, told } from "./entries.js";
import { askWho, show, updateRoom } from "./in_room.js";
import {
  capCommand,
  floodLimits,
  joinCommand,
  passCommand,
} from "./protocol.js";
import { greeted } from "./resume.js";

/** @typedef {import("./effects.js").Handler} Handler */
/** @typedef {import("./state.js").Phase} Phase */
/** @typedef {import("./state.js").State} State */

/** Goodbyes after which coming back on our own would be wrong. */
const FINAL = new Set(["quit", "kicked", "banned", "auth-failed", "replaced"]);

/**
 * Reconnects after a login held back wait as long as after this many
 * failed ones: the longest wait (30 s; the limits' own last a minute).
 */
const HELD_BACK_ATTEMPTS = 5;

/**
 * The state after a `BYE` with `reason`: staying (no reconnecting) after
 * one of {@linkcode FINAL}, or after `too-many-attempts` (the login
 * limits held the login back) on a login typed on the join form. A page
 * coming back after a drop with the password it logged in with tries
 * again, after the longest wait: the guesses that hold its address back
 * may be someone else's (a NAT, an IPv6 /64).
 * @param {State} state @param {string} reason
 * @returns {State}
 */
export function afterBye(state, reason) {
  const held = reason === "too-many-attempts";
  if (state.stay || FINAL.has(reason) || (held && !state.rejoining)) {
    return { ...state, stay: true };
  }
  if (!held) return state;
  return { ...state, attempts: Math.max(state.attempts, HELD_BACK_ATTEMPTS) };
}

/**
 * The greeting: paces what the page sends to the server's flood limits,
 * asks for the capabilities the page uses (before any alias), then
 * rejoins (after saying where it was, when it can resume) or shows the
 * join form. With a resume token, the alias waits for the answer to
 * `/resume`.
 * @type {Handler}
 */
export function hello(state, line) {
  const roomName = line.server || "tlschat";
  const cap = capCommand(line.params);
  const fresh = {
    ...effect(state, { pace: floodLimits(line.params) }),
    roomName,
    attempts: 0,
    roomsOn: false,
    seqOn: false,
    joining: [],
    logins: 0,
  };
  const asked = cap === null ? fresh : send(fresh, cap);
  const placed = greeted(asked, line.params);
  if (state.rejoining && state.alias) {
    const rejoin = {
      ...placed.state,
      phase: /** @type {Phase} */ (placed.waiting ? "resuming" : "alias"),
      status: { text: "Rejoining…", warn: false },
    };
    return placed.waiting ? rejoin : send(rejoin, state.alias);
  }
  return showJoin({ ...placed.state, passwordShown: false }, "");
}

/**
 * The resume token was refused (`ERR resume-expired`, or any `ERR` while
 * waiting for the answer): the page rejoins with its alias, as without
 * one. @param {State} state
 * @returns {State}
 */
export function resumeRefused(state) {
  return state.phase === "resuming"
    ? send({ ...state, phase: "alias" }, state.alias)
    : state;
}

/** @type {Handler} */
export function passwordAsked(state, line, at) {
  const said = withoutPassHint(line.text);
  if (state.phase === "joined") {
    // A rename to a registered alias: its password is not the one this
    // page was given (if any), so the member types it.
    const text = told`! ${said}: type /pass and the password`;
    const asked = { ...state, logins: state.logins + 1 };
    return show(asked, errorLine(text, new Date(at.now)));
  }
  if (state.password && state.phase !== "password") {
    return send({ ...state, phase: "password" }, passCommand(state.password));
  }
  // A refusal just before (a wrong room password) stays on screen. The box
  // is not emptied: it was when its last password was sent, so anything in
  // it now was typed since (between a refusal and this line, perhaps).
  const asking = showJoin(
    { ...state, phase: "password", passwordShown: true },
    state.joinError || said,
  );
  return effect(asking, { focus: "password" });
}

/**
 * A `PASSWORD` line's text without the server's hint for clients typed by
 * hand (`This room has a password: send /pass PASSWORD`): the page asks
 * in its own password box.
 * @param {string} text
 */
function withoutPassHint(text) {
  return text.replace(/: send \/pass PASSWORD$/, "");
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

/**
 * In: with rooms, the server's own lines bring the default room (and an
 * account's); the page joins the room the URL asked for, or after a
 * reconnect the rooms it was in (the one shown last). Without rooms, the
 * page asks who is here. After a reconnect, each room's next history
 * replaces its log.
 * @type {Handler}
 */
export function joined(state, line, at) {
  const now = new Date(at.now);
  const welcome = state.rejoining ? notice("Reconnected", now) : notice(
    told`Welcome, ${line.alias}! ${line.online} online. ${line.text}`,
    now,
  );
  const rooms = new Map(
    [...state.rooms].map(([name, room]) => [name, {
      ...room,
      replaceOnHistory: state.rejoining,
      whoAskedAt: null,
    }]),
  );
  const inRoom = {
    ...state,
    rooms,
    phase: /** @type {const} */ ("joined"),
    alias: line.alias,
    rejoining: false,
    wanted: "",
    screen: /** @type {const} */ ("chat"),
    membersButton: true,
    passwordShown: false,
    status: { text: `Connected as ${line.alias}`, warn: false },
  };
  const welcomed = show(inRoom, welcome);
  const next = state.roomsOn ? rejoinRooms(welcomed, state.wanted) : askWho(
    updateRoom(welcomed, "", () => ({ online: line.online })),
    "",
    at.now,
  );
  return effect(next, { focus: "message" });
}

/**
 * Joins the rooms the page was in (the one shown last, so that it is
 * shown again), then the one the URL asked for.
 * @param {State} state @param {string} wanted
 */
function rejoinRooms(state, wanted) {
  const names = [...state.rooms.keys()].filter((name) =>
    name !== "" && name !== state.current
  );
  if (state.current !== "") names.push(state.current);
  if (wanted !== "" && !names.includes(wanted)) names.push(wanted);
  return names.reduce(
    (asked, name) => send(asked, joinCommand(name, asked.keys.get(name) ?? "")),
    /** @type {State} */ ({ ...state, joining: names }),
  );
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
