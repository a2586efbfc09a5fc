// @ts-check
/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * tlschat in a browser: the same room as the terminal client, over a
 * WebSocket to this page's own server (one protocol line per message, see
 * docs/protocol.md). Plain JavaScript modules checked by `deno check` (no
 * build step): protocol.js (the wire format), state.js (the state, changed
 * only by its reducer), entries.js (what the log shows), view.js (the
 * DOM). This module wires them: every event of the socket, the forms and
 * the tab goes through `reduce`, then the page shows the new state and the
 * lines it asks for are sent.
 *
 * @module
 */

import { INITIAL_STATE, reduce } from "./state.js";
import { findElements, render } from "./view.js";

/** @typedef {import("./state.js").State} State */
/** @typedef {import("./state.js").PageEvent} PageEvent */

const ui = findElements(document);
/** @type {State} */
let state = INITIAL_STATE;
/** @type {WebSocket | null} */
let socket = null;

/** @param {PageEvent} event */
function dispatch(event) {
  const shown = state;
  state = reduce(state, event);
  render(ui, state, shown);
  const { send, reconnectInMs } = state.effects;
  for (const line of send) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(line);
  }
  if (reconnectInMs !== null) {
    setTimeout(() => connect(true), reconnectInMs);
  }
}

/** Opens a socket to the room (`retry`: after a reconnect's wait). */
function connect(retry = false) {
  dispatch({ type: "connect", retry });
  const opened = new WebSocket(`wss://${location.host}/ws`);
  socket = opened;
  opened.addEventListener("message", (event) => {
    if (typeof event.data !== "string") return;
    dispatch({
      type: "line",
      text: event.data,
      now: Date.now(),
      hidden: document.hidden,
    });
  });
  opened.addEventListener("close", () => {
    if (socket !== opened) return;
    socket = null;
    dispatch({ type: "closed", random: Math.random() });
  });
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  dispatch({
    type: "join",
    alias: ui.alias.value,
    password: ui.password.value,
  });
});

ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  dispatch({ type: "say", text: ui.message.value });
});

ui.membersToggle.addEventListener("click", () => {
  const open = ui.chat.classList.toggle("show-members");
  ui.membersToggle.setAttribute("aria-expanded", String(open));
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) dispatch({ type: "seen" });
});
globalThis.addEventListener("focus", () => dispatch({ type: "seen" }));

connect();
