// @ts-check
/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * tlschat in a browser: the same rooms as the terminal client, over a
 * WebSocket to this page's own server (one protocol line per message, see
 * docs/protocol.md). Plain JavaScript modules checked by `deno check` (no
 * build step): protocol.js (the wire format), state.js (the state, changed
 * only by its reducer), entries.js (what the log shows), view.js (the
 * DOM). This module wires them: every event of the socket, the forms, the
 * room list, the URL's fragment (the room: `#ops`, only offered when the
 * page is not in it) and the tab goes
 * through `reduce`, then the page shows the new state and the lines it
 * asks for are sent, paced to the server's flood limits (pace.js). Where the page was (session.js) is kept in the tab's
 * `sessionStorage` whenever it changes (a change of only the rooms' last
 * numbers written at most once a second, and when the page hides or goes)
 * and read at start, so that a reload resumes as a reconnect does.
 *
 * @module
 */

import { Pacer } from "./pace.js";
import { fragmentRoom, lineId } from "./protocol.js";
import {
  markOpen,
  POSITIONS_WRITE_MS,
  SESSION_KEY,
  sessionChange,
  SessionWriter,
  takeSession,
} from "./session.js";
import { INITIAL_STATE, reduce } from "./state.js";
import { findElements, render } from "./view.js";

/** @typedef {import("./state.js").State} State */
/** @typedef {import("./state.js").PageEvent} PageEvent */

const ui = findElements(document);
/** @type {State} */
let state = INITIAL_STATE;
/** @type {WebSocket | null} */
let socket = null;
/** What the socket's lines wait in for their turn. */
let pacer = new Pacer(() => {});

/**
 * The tab's storage, or null where the browser refuses it (storage turned
 * off): then a reload starts anew.
 */
function tabStorage() {
  try {
    return globalThis.sessionStorage;
  } catch {
    return null; // reading the property throws when storage is refused
  }
}
const storage = tabStorage();

/**
 * Uses the tab's storage, if it can (full or refused: a reload then starts
 * anew, nothing else). @template T
 * @param {(storage: Storage) => T} use @param {T} otherwise
 * @returns {T}
 */
function withStorage(use, otherwise) {
  try {
    return storage === null ? otherwise : use(storage);
  } catch {
    return otherwise; // storage full or refused: see above
  }
}

/**
 * Keeps the page's session in the tab (`""`: forgets it): at once, or,
 * when only rooms' last numbers changed, a while later or when the page
 * hides or goes.
 */
const sessions = new SessionWriter((text) => {
  withStorage((tab) => {
    if (text === "") tab.removeItem(SESSION_KEY);
    else tab.setItem(SESSION_KEY, text);
  }, undefined);
}, (flush) => setTimeout(flush, POSITIONS_WRITE_MS));

/** @param {PageEvent} event */
function dispatch(event) {
  const shown = state;
  state = reduce(state, event);
  render(ui, state, shown);
  const { send, reconnectInMs, fragment, pace, holdBack } = state.effects;
  if (pace !== null) pacer.paceTo(pace);
  if (holdBack) pacer.holdBack();
  pacer.send(send);
  if (fragment !== null && location.hash !== fragment) {
    // Replaced, not pushed: no hashchange, and Back leaves the page.
    history.replaceState(null, "", fragment || location.pathname);
  }
  if (reconnectInMs !== null) {
    setTimeout(() => connect(true), reconnectInMs);
  }
  const { readInMs, session } = state.effects;
  if (readInMs !== null) setTimeout(() => dispatch({ type: "read" }), readInMs);
  const { rejoinInMs } = state.effects;
  if (rejoinInMs !== null) {
    setTimeout(() => dispatch({ type: "rejoin" }), rejoinInMs);
  }
  if (session !== null) sessions.keep(session, sessionChange(shown, state));
  if (state.effects.hangUp) hangUp();
}

/** The user quit while not connected: no socket, no reconnect. */
function hangUp() {
  const open = socket;
  socket = null; // its close event is no one's now
  pacer.stop();
  open?.close();
}

/** Opens a socket to the room (`retry`: after a reconnect's wait). */
function connect(retry = false) {
  if (state.stay && retry) return; // quit while waiting to reconnect
  dispatch({ type: "connect", retry });
  const opened = new WebSocket(`wss://${location.host}/ws`);
  socket = opened;
  // Lines for the socket before go with it; this one starts unpaced,
  // until its greeting, with the server's bucket full.
  pacer.stop();
  /** Lines that never left for this socket (it was closing). @type {string[]} */
  const unsent = [];
  pacer = new Pacer((line) => {
    if (opened.readyState === WebSocket.OPEN) opened.send(line);
    else unsent.push(line);
  });
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
    unsent.push(...pacer.stop());
    dispatch({ type: "closed", random: Math.random(), unsent });
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
  const id = lineId(crypto.getRandomValues(new Uint8Array(16)));
  dispatch({ type: "say", text: ui.message.value, now: Date.now(), id });
});

ui.searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  dispatch({ type: "search", words: ui.search.value });
});

ui.searchClose.addEventListener("click", () => {
  dispatch({ type: "close-search" });
});

ui.roomForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const { value: room } = ui.roomName;
  dispatch({ type: "room", room, key: ui.roomKey.value, focus: true });
});

ui.roomList.addEventListener("click", (event) => {
  const target = /** @type {HTMLElement} */ (event.target);
  const button = target.closest("button");
  if (button?.dataset.part) {
    dispatch({ type: "part", room: button.dataset.part });
  } else if (button?.dataset.room) {
    dispatch({
      type: "room",
      room: button.dataset.room,
      key: "",
      focus: false,
    });
  }
});

// The room named is the address changed to: by the time this event runs,
// the page may have rewritten the address to a room whose join was
// answered meanwhile (dispatch), and reading that would lose this one.
// Anyone may change it (a link, another window): a room the page is not
// in is only offered (rooms_asked.js).
globalThis.addEventListener("hashchange", (event) => {
  const room = fragmentRoom(/** @type {HashChangeEvent} */ (event).newURL);
  dispatch({ type: "address", room });
});

ui.offerJoin.addEventListener("click", () => {
  dispatch({ type: "room", room: state.offered, key: "", focus: true });
});

ui.offerDecline.addEventListener("click", () => dispatch({ type: "decline" }));

ui.membersToggle.addEventListener("click", () => {
  const open = ui.chat.classList.toggle("show-members");
  ui.membersToggle.setAttribute("aria-expanded", String(open));
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) dispatch({ type: "seen" });
  else sessions.flush(); // the tab may be discarded while hidden
});
globalThis.addEventListener("focus", () => dispatch({ type: "seen" }));

// The next page of this tab (a reload) takes the session once this one has
// gone; this one is open again when it comes back from the back-forward cache.
globalThis.addEventListener("pagehide", () => {
  sessions.flush(); // the next page resumes from the last line seen
  withStorage((tab) => markOpen(tab, false), undefined);
});
globalThis.addEventListener("pageshow", (event) => {
  const { persisted } = /** @type {PageTransitionEvent} */ (event);
  if (persisted) withStorage((tab) => markOpen(tab, true), undefined);
});

const session = withStorage(takeSession, null);
if (session !== null) {
  ui.alias.value = session.alias;
  dispatch({ type: "restore", session });
}
if (location.hash) {
  dispatch({ type: "address", room: fragmentRoom(location.href) });
}
connect();
