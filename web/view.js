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

/** @typedef {import("./state.js").State} State */
/** @typedef {import("./entries.js").Entry} Entry */

/** The log keeps this many entries (a long-open tab stays small). */
const MAX_ENTRIES = 2000;

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
    room: get("room"),
    topic: get("topic"),
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

/**
 * Shows `next` (only what differs from what is shown), then its effects.
 * @param {Elements} ui @param {State} next
 * @param {State | null} shown what the page shows now (null: the page as
 *   loaded)
 */
export function render(ui, next, shown) {
  const doc = ui.room.ownerDocument;
  setText(ui.room, next.roomName);
  if (doc.title !== next.title) doc.title = next.title;
  setText(ui.topic, next.topic);
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
  const online = next.online === null ? "" : `(${next.online})`;
  setText(ui.online, online);
  setText(ui.onlineCount, online);
  if (next.members !== shown?.members) renderMembers(ui, next.members);
  applyEffects(ui, next.effects);
}

/**
 * The member list, sorted by lower-case alias, operators marked.
 * @param {Elements} ui @param {State["members"]} members
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

/** @param {Elements} ui @param {State["effects"]} effects */
function applyEffects(ui, effects) {
  if (effects.clearLog) ui.messages.replaceChildren();
  for (const entry of effects.entries) add(ui.messages, entry);
  if (effects.clearPassword) ui.password.value = "";
  if (effects.clearMessage) ui.message.value = "";
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

/** Local `HH:MM`. @param {Date} date */
function hhmm(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** What is shown before an entry. @param {Entry} entry */
function timeText(entry) {
  const { when } = entry;
  if (when === null || typeof when === "string") return when ?? "";
  return entry.dated
    ? `${when.toLocaleDateString()} ${hhmm(when)}`
    : hhmm(when);
}

/**
 * Adds an entry to the log, keeping it scrolled to the end when it was
 * there.
 * @param {HTMLElement} list @param {Entry} entry
 */
function add(list, entry) {
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const item = document.createElement("li");
  item.className = entry.className;
  const time = timeText(entry);
  if (time) item.append(el("time", "time", time));
  item.append(
    ...entry.parts.map((part) =>
      part.kind === "alias"
        ? el("span", `alias ${colorClass(part.text)}`, part.text)
        : el("span", part.kind === "label" ? "label" : "", part.text)
    ),
  );
  list.append(item);
  while (list.childElementCount > MAX_ENTRIES) list.firstElementChild?.remove();
  if (atEnd) list.scrollTop = list.scrollHeight;
}
