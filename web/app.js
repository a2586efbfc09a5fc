// @ts-check
/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * tlschat in a browser: the same room as the terminal client, over a
 * WebSocket to this page's own server (one protocol line per message, see
 * docs/protocol.md). Plain JavaScript checked by `deno check` (no build
 * step): what the server sends is only ever shown as text (`textContent`),
 * never as HTML.
 *
 * @module
 */

/** Fields of the server lines the page shows, in wire order (protocol.md). */
const FIELDS = /** @type {const} */ ({
  HELLO: ["protocol", "server", "params", "text"],
  PASSWORD: ["kind", "text"],
  WELCOME: ["alias", "online", "text"],
  MSG: ["alias", "text"],
  ME: ["alias", "text"],
  PRIV: ["alias", "text"],
  SENT: ["alias", "text"],
  JOIN: ["alias", "online"],
  LEAVE: ["alias", "online", "reason", "text"],
  NICK: ["alias", "newAlias", "online"],
  PRESENCE: ["joined", "left", "online"],
  WHO: ["online", "aliases"],
  TOPIC: ["alias", "text"],
  HIST: ["seq", "time", "kind", "alias", "text"],
  HISTEND: ["count", "text"],
  MOD: ["action", "alias", "by", "text"],
  BAN: ["kind", "target", "until", "by", "text"],
  INFO: ["text"],
  ERR: ["code", "text"],
  PING: ["token"],
  BYE: ["reason", "text"],
});

/** Every field a server line may have (absent ones are empty). */
const NO_FIELDS = {
  protocol: "",
  server: "",
  params: "",
  text: "",
  kind: "",
  alias: "",
  online: "",
  newAlias: "",
  reason: "",
  joined: "",
  left: "",
  aliases: "",
  seq: "",
  time: "",
  count: "",
  action: "",
  by: "",
  target: "",
  until: "",
  code: "",
  token: "",
};

/** @typedef {typeof NO_FIELDS & { type: string }} Line */

/**
 * Splits a server line into its fields; the last field takes the rest.
 * @param {string} text
 * @returns {Line}
 */
function parseLine(text) {
  const space = text.indexOf(" ");
  const type = space === -1 ? text : text.slice(0, space);
  /** @type {Line} */
  const line = { ...NO_FIELDS, type };
  const fields = /** @type {Record<string, readonly string[]>} */ (FIELDS)[
    type
  ];
  if (fields === undefined) return { ...NO_FIELDS, type: "?", text };
  const values = /** @type {Record<string, string>} */ (line);
  let rest = space === -1 ? "" : text.slice(space + 1);
  fields.forEach((field, i) => {
    if (i === fields.length - 1) {
      values[field] = rest;
      return;
    }
    const end = rest.indexOf(" ");
    values[field] = end === -1 ? rest : rest.slice(0, end);
    rest = end === -1 ? "" : rest.slice(end + 1);
  });
  return line;
}

/** Why someone left, as people say it. */
const LEFT = /** @type {Record<string, string>} */ ({
  quit: "left",
  disconnect: "disconnected",
  timeout: "timed out",
  flood: "was disconnected for flooding",
  slow: "was disconnected (too slow)",
  "line-too-long": "was disconnected (line too long)",
  kicked: "was kicked",
  banned: "was banned",
  replaced: "logged in elsewhere",
  "server-lost": "was lost with their server",
});

/** Operator actions, as people say them. */
const DONE = /** @type {Record<string, string>} */ ({
  kick: "kicked",
  ban: "banned",
  unban: "unbanned",
  mute: "muted",
  unmute: "unmuted",
});

/** Goodbyes after which coming back on our own would be wrong. */
const FINAL = new Set(["quit", "kicked", "banned", "auth-failed", "replaced"]);

/**
 * The colour class of an alias: FNV-1a of its lower case, as the terminal.
 * @param {string} alias
 */
function colorClass(alias) {
  let hash = 0x811c9dc5;
  for (const char of alias.toLowerCase()) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  }
  return `c${(hash >>> 0) % 12}`;
}

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function byId(id) {
  return /** @type {T} */ (document.getElementById(id));
}

const ui = {
  room: byId("room"),
  topic: byId("topic"),
  status: byId("status"),
  join: byId("join"),
  joinForm: /** @type {HTMLFormElement} */ (byId("join-form")),
  alias: /** @type {HTMLInputElement} */ (byId("alias")),
  passwordRow: byId("password-row"),
  password: /** @type {HTMLInputElement} */ (byId("password")),
  joinButton: /** @type {HTMLButtonElement} */ (byId("join-button")),
  joinError: byId("join-error"),
  chat: byId("chat"),
  messages: byId("messages"),
  memberList: byId("member-list"),
  online: byId("online"),
  onlineCount: byId("online-count"),
  membersToggle: /** @type {HTMLButtonElement} */ (byId("members-toggle")),
  sendForm: /** @type {HTMLFormElement} */ (byId("send-form")),
  message: /** @type {HTMLInputElement} */ (byId("message")),
};

const state = {
  /** @type {WebSocket | null} */
  socket: null,
  /** @type {"connecting" | "alias" | "password" | "joined" | "closed"} */
  phase: "connecting",
  /** The alias we are in the room as (or asked for). */
  alias: "",
  /** Kept in memory only, to rejoin after a reconnect. */
  password: "",
  /** Whether we were in the room before this connection. */
  rejoining: false,
  /** Whether the history that comes next replaces what is shown. */
  clearOnHistory: false,
  attempts: 0,
  /** Set by /quit, kicks and bans: no reconnecting then. */
  stay: false,
  unread: 0,
  roomName: "tlschat",
  /** @type {Map<string, HTMLLIElement>} by lower-case alias */
  members: new Map(),
  whoAskedAt: 0,
};

/** @param {string} text @param {boolean} [warn] */
function setStatus(text, warn = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("warn", warn);
}

/** Local `HH:MM`. @param {Date} date */
function hhmm(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Local date and time. @param {Date} date */
function dateTime(date) {
  return `${date.toLocaleDateString()} ${hhmm(date)}`;
}

/**
 * A text node or element with a class and text (never HTML).
 * @param {string} tag @param {string} className @param {string} text
 */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

/** @param {string} alias */
function aliasEl(alias) {
  return el("span", `alias ${colorClass(alias)}`, alias);
}

/**
 * Adds an entry to the message list, keeping it scrolled to the end when
 * it was there.
 * @param {string} className
 * @param {(string | Node)[]} parts
 * @param {string} [time] shown before the entry
 */
function add(className, parts, time = hhmm(new Date())) {
  const list = ui.messages;
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const item = document.createElement("li");
  item.className = className;
  if (time) item.append(el("time", "time", time));
  item.append(...parts);
  list.append(item);
  // Bounded: a long-open tab keeps the last 2,000 entries.
  while (list.childElementCount > 2000) list.firstElementChild?.remove();
  if (atEnd) list.scrollTop = list.scrollHeight;
}

/** @param {string} text */
function notice(text) {
  add("notice", [el("span", "", text)]);
}

/** Counts a line the user has not seen yet (tab in the background). */
function unseen() {
  if (!document.hidden) return;
  state.unread++;
  document.title = `(${state.unread}) ${state.roomName}`;
}

function seen() {
  state.unread = 0;
  document.title = state.roomName;
}

/** @param {number | string} online */
function setOnline(online) {
  ui.online.textContent = `(${online})`;
  ui.onlineCount.textContent = `(${online})`;
}

/** @param {string} alias @param {boolean} [operator] */
function addMember(alias, operator = false) {
  const key = alias.toLowerCase();
  if (state.members.has(key)) return;
  const item =
    /** @type {HTMLLIElement} */ (el("li", colorClass(alias), alias));
  if (operator) item.classList.add("op");
  state.members.set(key, item);
  const after = [...state.members.keys()].sort().indexOf(key);
  const next = ui.memberList.children[after] ?? null;
  ui.memberList.insertBefore(item, next);
}

/** @param {string} alias */
function removeMember(alias) {
  const key = alias.toLowerCase();
  state.members.get(key)?.remove();
  state.members.delete(key);
}

/** Asks who is here (large rooms summarise joins), at most every 5 s. */
function askWho() {
  const now = Date.now();
  if (now - state.whoAskedAt < 5000) return;
  state.whoAskedAt = now;
  send("/who");
}

/** @param {string} text */
function send(text) {
  const socket = state.socket;
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
}

/** @param {Line} line */
function handle(line) {
  switch (line.type) {
    case "HELLO":
      state.roomName = line.server || "tlschat";
      ui.room.textContent = state.roomName;
      document.title = state.roomName;
      state.attempts = 0;
      if (state.rejoining && state.alias) {
        setStatus("Rejoining…");
        state.phase = "alias";
        send(state.alias);
      } else {
        ui.passwordRow.hidden = true;
        showJoin();
      }
      return;
    case "PASSWORD":
      if (state.phase === "joined") {
        // A rename to a registered alias: its password is not the one
        // this page was given (if any), so the member types it.
        add("error-line", [
          el("span", "", `! ${line.text}: type /pass and the password`),
        ]);
        return;
      }
      if (state.password && state.phase !== "password") {
        state.phase = "password";
        send(`/pass ${state.password}`);
        return;
      }
      state.phase = "password";
      // A refusal just before (a wrong room password) stays on screen.
      showJoin(ui.joinError.textContent || line.text);
      ui.passwordRow.hidden = false;
      ui.password.value = "";
      ui.password.focus();
      return;
    case "WELCOME":
      joined(line);
      return;
    case "ERR":
      if (state.phase !== "joined") {
        // Refused before joining: the server waits for an alias again (or,
        // after a wrong room password, asks for it again at once). Both
        // boxes stay as they are: Join sends the alias, then the password
        // typed when the server asks for it.
        state.rejoining = false;
        state.password = "";
        state.phase = "alias";
        showJoin(line.text);
        if (!ui.passwordRow.hidden) ui.password.focus();
        return;
      }
      add("error-line", [el("span", "", `! ${line.text}`)]);
      return;
    case "BYE":
      if (FINAL.has(line.reason)) state.stay = true;
      if (state.phase === "joined") {
        add("error-line", [el("span", "", `Disconnected: ${line.text}`)]);
      } else {
        ui.joinError.textContent = line.text;
      }
      return;
    case "PING":
      // An idle reader is still here: the server drops silent members.
      send(`/pong ${line.token}`);
      return;
  }
  if (state.phase !== "joined") {
    if (line.type === "INFO") ui.joinError.textContent = line.text;
    return;
  }
  show(line);
}

/** Shows a line of the room. @param {Line} line */
function show(line) {
  switch (line.type) {
    case "MSG":
      unseen();
      return add("message", [
        aliasEl(line.alias),
        el("span", "", ` ${line.text}`),
      ]);
    case "ME":
      unseen();
      return add("action", [
        el("span", "", "* "),
        aliasEl(line.alias),
        el("span", "", ` ${line.text}`),
      ]);
    case "PRIV":
      unseen();
      return add("private", [
        el("span", "label", "private from"),
        aliasEl(line.alias),
        el("span", "", ` ${line.text}`),
      ]);
    case "SENT":
      return add("private", [
        el("span", "label", "private to"),
        aliasEl(line.alias),
        el("span", "", ` ${line.text}`),
      ]);
    case "HIST": {
      if (state.clearOnHistory) {
        ui.messages.replaceChildren();
        state.clearOnHistory = false;
      }
      const when = new Date(line.time);
      const time = Number.isNaN(when.getTime()) ? line.time : dateTime(when);
      const said = line.kind === "ME"
        ? [
          el("span", "", "* "),
          aliasEl(line.alias),
          el("span", "", ` ${line.text}`),
        ]
        : [aliasEl(line.alias), el("span", "", ` ${line.text}`)];
      return add(
        `history ${line.kind === "ME" ? "action" : "message"}`,
        said,
        time,
      );
    }
    case "HISTEND":
      return add("separator", [el("span", "", line.text)], "");
    case "JOIN":
      addMember(line.alias);
      setOnline(line.online);
      return notice(`${line.alias} joined`);
    case "LEAVE": {
      removeMember(line.alias);
      setOnline(line.online);
      const why = LEFT[line.reason] ?? `left (${line.reason})`;
      return notice(`${line.alias} ${why}${line.text ? `: ${line.text}` : ""}`);
    }
    case "NICK":
      removeMember(line.alias);
      addMember(line.newAlias);
      if (line.alias === state.alias) state.alias = line.newAlias;
      return notice(`${line.alias} is now known as ${line.newAlias}`);
    case "PRESENCE":
      setOnline(line.online);
      askWho();
      return notice(
        `${line.joined} joined, ${line.left} left (${line.online} online)`,
      );
    case "WHO": {
      ui.memberList.replaceChildren();
      state.members.clear();
      const aliases = line.aliases.split(" ").filter((a) => a !== "");
      for (const alias of aliases) {
        if (alias.startsWith("@")) addMember(alias.slice(1), true);
        else addMember(alias);
      }
      setOnline(line.online);
      return;
    }
    case "TOPIC":
      ui.topic.textContent = line.text;
      return notice(`Topic: ${line.text} (set by ${line.alias})`);
    case "MOD":
      return notice(
        `${line.alias} was ${DONE[line.action] ?? line.action} by ${line.by}${
          line.text ? `: ${line.text}` : ""
        }`,
      );
    case "BAN":
      return notice(
        `Ban on ${line.kind} ${line.target} by ${line.by} until ${line.until}${
          line.text ? `: ${line.text}` : ""
        }`,
      );
    case "INFO":
      return notice(line.text);
    default:
      // A newer server's line: shown as it came, as text.
      return notice(line.text ?? "");
  }
}

/** @param {Line} line */
function joined(line) {
  state.phase = "joined";
  state.alias = line.alias;
  state.clearOnHistory = state.rejoining;
  ui.join.hidden = true;
  ui.chat.hidden = false;
  ui.membersToggle.hidden = false;
  ui.passwordRow.hidden = true;
  setStatus(`Connected as ${line.alias}`);
  if (state.rejoining) notice("Reconnected");
  else notice(`Welcome, ${line.alias}! ${line.online} online. ${line.text}`);
  state.rejoining = false;
  setOnline(line.online);
  state.whoAskedAt = 0;
  askWho();
  ui.message.focus();
}

/**
 * Shows the join form, for an alias or (phase "password") a password; the
 * password box stays as it is (shown once a password was asked for).
 * @param {string} [text]
 */
function showJoin(text) {
  state.phase = state.phase === "password" ? "password" : "alias";
  ui.chat.hidden = true;
  ui.join.hidden = false;
  ui.joinButton.disabled = false;
  ui.joinError.textContent = text ?? "";
  setStatus("Connected");
  if (state.phase === "alias") ui.alias.focus();
}

function connect() {
  state.phase = "connecting";
  const socket = new WebSocket(`wss://${location.host}/ws`);
  state.socket = socket;
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") handle(parseLine(event.data));
  });
  socket.addEventListener("close", () => {
    if (state.socket !== socket) return;
    state.socket = null;
    ui.joinButton.disabled = true;
    if (state.phase === "joined") state.rejoining = true;
    state.phase = "closed";
    if (state.stay) {
      setStatus("Disconnected", true);
      return;
    }
    reconnect();
  });
}

/** Tries again after 1, 2, 4 ... up to 30 s (with jitter). */
function reconnect() {
  const delay = Math.min(30_000, 1000 * 2 ** state.attempts) *
    (0.75 + Math.random() / 2);
  state.attempts++;
  setStatus(`Reconnecting in ${Math.ceil(delay / 1000)} s…`, true);
  setTimeout(() => {
    setStatus("Reconnecting…", true);
    connect();
  }, delay);
}

ui.joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const alias = ui.alias.value.trim();
  ui.joinError.textContent = "";
  if (state.phase === "password" && alias === state.alias) {
    state.password = ui.password.value;
    send(`/pass ${ui.password.value}`);
    ui.password.value = "";
    return;
  }
  if (alias === "") return;
  // An alias (again, or another one): a password typed already answers the
  // PASSWORD that may come back, so one click retries both.
  state.phase = "alias";
  state.alias = alias;
  state.password = ui.passwordRow.hidden ? "" : ui.password.value;
  ui.password.value = "";
  send(alias);
});

ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.message.value;
  if (text.trim() === "") return;
  if (/^\/quit\b/i.test(text)) state.stay = true;
  send(text);
  ui.message.value = "";
});

ui.membersToggle.addEventListener("click", () => {
  const open = ui.chat.classList.toggle("show-members");
  ui.membersToggle.setAttribute("aria-expanded", String(open));
});

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) seen();
});
globalThis.addEventListener("focus", seen);

connect();
