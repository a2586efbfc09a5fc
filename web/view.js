// @ts-check
/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The page's DOM: shows a state from state.js and carries out the parts of
 * its effects that touch the page (log entries, focus, emptied boxes).
 * What the server sends is only ever set as text (`textContent`), never as
 * HTML, and only what changed is written (the status line is a live
 * region).
 *
 * @module
 */

import { dateTimeText, timeText } from "./local_times.js";

/** @typedef {import("./state.js").State} State */
/** @typedef {import("./entries.js").Entry} Entry */
/** @typedef {import("./in_room.js").Room} Room */

/**
 * The colour class of an alias: FNV-1a of its lower case, as the terminal.
 * @param {string} alias
 */
export function colorClass(alias) {
  let hash = 0x811c9dc5;
  for (const char of alias.toLowerCase()) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  }
  return `c${(hash >>> 0) % 12}`;
}

/**
 * @template {HTMLElement} T
 * @param {Document} doc @param {string} id
 * @returns {T}
 */
function byId(doc, id) {
  return /** @type {T} */ (doc.getElementById(id));
}

/** The page's elements, by role. @param {Document} doc */
export function findElements(doc) {
  /** @param {string} id */
  const get = (id) => byId(doc, id);
  return {
    // The room shown (or the server's name), isolated as the topic is.
    room: get("room"),
    // Someone's text, isolated as the log's is (partElement): a <bdi>.
    topic: get("topic-text"),
    status: get("status"),
    join: get("join"),
    joinForm: /** @type {HTMLFormElement} */ (get("join-form")),
    alias: /** @type {HTMLInputElement} */ (get("alias")),
    passwordRow: get("password-row"),
    password: /** @type {HTMLInputElement} */ (get("password")),
    joinButton: /** @type {HTMLButtonElement} */ (get("join-button")),
    joinError: get("join-error"),
    chat: get("chat"),
    messages: get("messages"),
    memberList: get("member-list"),
    online: get("online"),
    onlineCount: get("online-count"),
    membersToggle: /** @type {HTMLButtonElement} */ (get("members-toggle")),
    sendForm: /** @type {HTMLFormElement} */ (get("send-form")),
    message: /** @type {HTMLInputElement} */ (get("message")),
    rooms: get("rooms"),
    roomList: get("room-list"),
    roomForm: /** @type {HTMLFormElement} */ (get("room-form")),
    roomName: /** @type {HTMLInputElement} */ (get("room-name")),
    roomKey: /** @type {HTMLInputElement} */ (get("room-key")),
    offer: get("offer"),
    offerJoin: /** @type {HTMLButtonElement} */ (get("offer-join")),
    offerDecline: /** @type {HTMLButtonElement} */ (get("offer-decline")),
    joinTitle: get("join-title"),
    searchForm: /** @type {HTMLFormElement} */ (get("search-form")),
    search: /** @type {HTMLInputElement} */ (get("search")),
    searchResults: get("search-results"),
    searchStatus: get("search-status"),
    searchClose: /** @type {HTMLButtonElement} */ (get("search-close")),
    found: get("found"),
  };
}

/** @typedef {ReturnType<typeof findElements>} Elements */

/** @param {Node} node @param {string} text */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** @param {HTMLElement} node @param {boolean} hidden */
function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

/** The room shown, and what the page shows of it now (null: nothing). */
function shownRooms(/** @type {State} */ next, /** @type {State} */ shown) {
  const room = /** @type {Room} */ (next.rooms.get(next.current));
  const was = shown.current === next.current
    ? shown.rooms.get(shown.current) ?? null
    : null;
  return { room, was };
}

/**
 * Shows `next` (only what differs from what is shown), then its effects.
 * @param {Elements} ui @param {State} next
 * @param {State} shown what the page shows now
 */
export function render(ui, next, shown) {
  const doc = ui.room.ownerDocument;
  const { room, was } = shownRooms(next, shown);
  setText(ui.room, next.heading);
  if (doc.title !== next.title) doc.title = next.title;
  setText(ui.topic, room.topic);
  setText(ui.status, next.status.text);
  ui.status.classList.toggle("warn", next.status.warn);
  setHidden(ui.join, next.screen !== "join");
  setHidden(ui.chat, next.screen !== "chat");
  setHidden(ui.membersToggle, !next.membersButton);
  setHidden(ui.passwordRow, !next.passwordShown);
  if (ui.joinButton.disabled !== !next.canJoin) {
    ui.joinButton.disabled = !next.canJoin;
  }
  setText(ui.joinError, next.joinError);
  // The room a link names is joined with the alias: the form says so.
  setText(ui.joinTitle, next.wanted ? `Join ${next.wanted}` : "Join the room");
  const offered = next.phase === "joined" && next.roomsOn &&
    next.offered !== "" && !next.rooms.has(next.offered);
  setHidden(ui.offer, !offered);
  setText(ui.offerJoin, offered ? `Join ${next.offered}` : "");
  const hint = messageHint(next);
  if (ui.message.placeholder !== hint) ui.message.placeholder = hint;
  const online = room.online === null ? "" : `(${room.online})`;
  setText(ui.online, online);
  setText(ui.onlineCount, online);
  if (room.members !== was?.members) renderMembers(ui, room.members);
  renderLog(ui.messages, room.log, was?.log ?? null);
  setHidden(ui.rooms, !next.roomsOn);
  ui.chat.classList.toggle("with-rooms", next.roomsOn);
  if (roomsSummary(next) !== roomsSummary(shown)) renderRooms(ui, next);
  renderSearch(ui, next.search, shown.search, next.screen);
  applyEffects(ui, next.effects);
}

/**
 * What the empty message box says: the room a line goes to, or why a line
 * is kept in the box instead, or waits to be sent (`rooms_asked.js`'s
 * `say`).
 * @param {State} state
 */
function messageHint(state) {
  if (state.phase !== "joined") {
    const waits = state.idsOn && state.rejoining && !state.stay &&
      state.rooms.get(state.current)?.held !== true;
    return waits
      ? "Reconnecting: messages wait to be sent"
      : "Not connected: lines wait here";
  }
  if (state.rooms.get(state.current)?.held) {
    return `Not in ${state.current}: Send joins it again`;
  }
  return state.current === "" ? "Message" : `Message ${state.current}`;
}

/**
 * The search box (once in) and its results, each set as text.
 * @param {Elements} ui @param {State["search"]} search
 * @param {State["search"]} was @param {State["screen"]} screen
 */
function renderSearch(ui, search, was, screen) {
  setHidden(ui.searchForm, screen !== "chat");
  setHidden(ui.searchResults, !search.open);
  setText(ui.searchStatus, search.status.text);
  ui.searchStatus.classList.toggle("warn", search.status.warn);
  if (search.results !== was.results) {
    ui.found.replaceChildren(...search.results.map(item));
  }
}

/**
 * The member list, sorted by lower-case alias, operators marked.
 * @param {Elements} ui @param {Room["members"]} members
 */
function renderMembers(ui, members) {
  const keys = [...members.keys()].sort();
  ui.memberList.replaceChildren(...keys.map((key) => {
    const member = /** @type {import("./state.js").Member} */ (
      members.get(key)
    );
    const item = el("li", colorClass(member.alias), member.alias);
    if (member.operator) item.classList.add("op");
    return item;
  }));
}

/** What the room list shows: names, unread counts, the room shown. */
function roomsSummary(/** @type {State} */ state) {
  const names = [...state.rooms].filter(([name]) => name !== "")
    .map(([name, room]) => `${name} ${room.unread} ${room.held}`);
  return `${names.join(",")} ${state.current}`;
}

/**
 * The room list: a button per room (the one shown marked current, unread
 * counts after the others), and one to leave it. The button that had the
 * focus has it again (the room shown's, when its room was left).
 * @param {Elements} ui @param {State} state
 */
function renderRooms(ui, state) {
  const doc = ui.roomList.ownerDocument;
  const focused = doc.activeElement instanceof HTMLElement &&
      ui.roomList.contains(doc.activeElement)
    ? doc.activeElement.dataset
    : null;
  const names = [...state.rooms.keys()].filter((name) => name !== "");
  ui.roomList.replaceChildren(...names.map((name) => {
    const room = /** @type {Room} */ (state.rooms.get(name));
    const open = button(name, name, "room");
    if (name === state.current) open.setAttribute("aria-current", "true");
    if (room.unread > 0) {
      open.append(el("span", "unread", String(room.unread)));
      open.setAttribute("aria-label", `${name}, ${room.unread} unread`);
    }
    if (room.held) {
      // Not joined (the room log was unavailable): a click joins again.
      open.classList.add("held");
      open.title = "Not joined: select to join again";
      open.setAttribute("aria-label", `${name}, not joined`);
    }
    const part = button("×", `Leave ${name}`, "part");
    part.dataset.part = name;
    const item = el("li", "", "");
    item.append(open, part);
    return item;
  }));
  if (focused === null) return;
  const buttons = [...ui.roomList.querySelectorAll("button")];
  const again = buttons.find((b) =>
    b.dataset.room === focused.room && b.dataset.part === focused.part
  );
  // A room left: the focus goes to the room shown (or the room box).
  const shown = buttons.find((b) => b.getAttribute("aria-current") === "true");
  (again ?? shown ?? ui.roomName).focus();
}

/**
 * A button of the room list, for a room.
 * @param {string} text @param {string} label its accessible name
 * @param {string} className
 */
function button(text, label, className) {
  const node = /** @type {HTMLButtonElement} */ (el("button", className, text));
  node.type = "button";
  if (label !== text) node.setAttribute("aria-label", label);
  if (className === "room") node.dataset.room = text;
  return node;
}

/**
 * Shows a room's log: only what changed after the entries still shown in
 * the same order (new ones, and from an entry that left or was replaced:
 * a line sent replaced by its echo, `outbox.js`), the oldest dropped;
 * all of it when another room (or a log started over) was shown.
 * @param {HTMLElement} list
 * @param {readonly Entry[]} log @param {readonly Entry[] | null} was
 */
function renderLog(list, log, was) {
  if (log === was) return;
  const same = alignment(log, was);
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const added = same === null ? log.map(item) : log.slice(same.kept).map(item);
  if (same === null) list.replaceChildren(...added);
  else {
    for (let i = 0; i < same.dropped; i++) list.firstElementChild?.remove();
    while (list.childElementCount > same.kept) list.lastElementChild?.remove();
    list.append(...added);
  }
  // What a reconnect caught up is read from its divider on; otherwise the
  // log follows new lines only when it was at its end.
  const divider = added.find((node) => node.className === "divider");
  if (divider !== undefined && (atEnd || same === null)) {
    list.scrollTop += divider.getBoundingClientRect().top -
      list.getBoundingClientRect().top;
  } else if (atEnd || same === null) list.scrollTop = list.scrollHeight;
}

/**
 * How the entries shown (`was`) sit in a log: `dropped` of them are gone
 * from its start, and the next `kept` are its first entries; null: draw
 * it all (nothing shown, or entries came before those shown: a reloaded
 * page's history).
 * @param {readonly Entry[]} log @param {readonly Entry[] | null} was
 * @returns {{ dropped: number, kept: number } | null}
 */
function alignment(log, was) {
  if (was === null) return null;
  if (was.length === 0) return { dropped: 0, kept: 0 };
  const dropped = log.length === 0
    ? -1
    : was.indexOf(/** @type {Entry} */ (log[0]));
  if (dropped === -1) return null;
  let kept = 0;
  while (kept < log.length && log[kept] === was[dropped + kept]) kept++;
  return { dropped, kept };
}

/** @param {Elements} ui @param {State["effects"]} effects */
function applyEffects(ui, effects) {
  if (effects.clearPassword) ui.password.value = "";
  if (effects.clearMessage) ui.message.value = "";
  if (effects.clearRoom) {
    ui.roomName.value = "";
    ui.roomKey.value = "";
  }
  if (effects.fillRoom !== null) ui.roomName.value = effects.fillRoom;
  if (effects.focus !== null) ui[effects.focus].focus();
}

/**
 * An element with a class and text (never HTML).
 * @param {string} tag @param {string} className @param {string} text
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

/** What is shown before an entry. @param {Entry} entry */
function whenText(entry) {
  const { when } = entry;
  if (when === null || typeof when === "string") return when ?? "";
  return entry.dated ? dateTimeText(when) : timeText(when);
}

/**
 * An entry of the log as an element: what someone chose (an alias, their
 * words, a room's name) each in a `<bdi>`, so that right-to-left text in
 * it cannot reorder the page's words and punctuation around it.
 * @param {Entry} entry
 */
function item(entry) {
  const node = document.createElement("li");
  node.className = entry.className;
  const time = whenText(entry);
  if (time) node.append(el("time", "time", time));
  node.append(...entry.parts.map(partElement));
  return node;
}

/** @param {import("./entries.js").Part} part */
function partElement(part) {
  switch (part.kind) {
    case "alias":
      return el("bdi", `alias ${colorClass(part.text)}`, part.text);
    case "label":
      return el("bdi", "label", part.text);
    case "said":
      return el("bdi", "", part.text);
    default:
      return el("span", "", part.text);
  }
}
