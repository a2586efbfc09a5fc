// @ts-check
/**
 * The wire format as the page speaks it (docs/protocol.md): server lines
 * parsed into fields and formatted back, and the few commands the page
 * sends by itself. The field table is a copy of `SERVER_LINE_FIELDS` in
 * lib/server_lines.ts (the page has no build step to import it from there);
 * tests/web/protocol_test.ts checks that the two agree.
 *
 * @module
 */

/**
 * Every line the server sends, by type: its fields in wire order. The last
 * field takes the rest of the line; every other field is a single token.
 */
export const SERVER_LINE_FIELDS = /** @type {const} */ ({
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
  CAP: ["caps"],
  ROOM: ["room", "members", "flags", "topic"],
  CURRENT: ["room"],
  INVITE: ["room", "by"],
  FOUND: ["room", "seq", "time", "kind", "alias", "text"],
  FOUNDEND: ["count", "text"],
  RESUMED: ["last", "missing", "text"],
  RESUME: ["token", "seconds", "text"],
  READ: ["seq"],
  NOTICE: ["alias", "text"],
  PRIVNOTICE: ["alias", "text"],
  SENTNOTICE: ["alias", "text"],
});

/** @typedef {keyof typeof SERVER_LINE_FIELDS} LineType */
/** @typedef {(typeof SERVER_LINE_FIELDS)[LineType][number]} Field */

/**
 * A server line as fields, every field present (empty when the type has
 * no such field), with the room it is about (`inRoom`: its `#room `
 * prefix, empty when it has none) and its id (`@id=ID `, empty when none).
 * A log line's tags (`@id=ID;seq=N;time=T `, with the `seq` capability)
 * give its `seq` and `time`, the fields `HIST` has on the wire.
 * A line of a type this page does not know has type `?` and the whole line
 * (after those prefixes) as its text.
 * @typedef {{ readonly type: LineType | "?", readonly inRoom: string, readonly id: string }
 *   & Readonly<Record<Field, string>>} Line
 */

/** Every field empty. */
const NO_FIELDS = /** @type {Record<Field, string>} */ (Object.fromEntries(
  Object.values(SERVER_LINE_FIELDS).flat().map((field) => [field, ""]),
));

/**
 * The fields of a type the page knows, in wire order; undefined for any
 * other word (including names of Object.prototype such as `constructor`).
 * @param {string} type
 * @returns {readonly Field[] | undefined}
 */
function fieldsOf(type) {
  return Object.hasOwn(SERVER_LINE_FIELDS, type)
    ? SERVER_LINE_FIELDS[/** @type {LineType} */ (type)]
    : undefined;
}

/** Tags (`@id=ID;seq=N;time=T `) then `#room `, each optional. */
const PREFIXES = /^(?:@([^ ]*) )?(?:(#[^ ]+) )?/;

/** The tags the page reads, each with the form its value must have. */
const TAG_VALUES = /** @type {const} */ ({
  id: /^[A-Za-z0-9_-]+$/,
  seq: /^[1-9][0-9]{0,15}$/,
  time: /^[0-9T:.Z-]{1,40}$/,
});

/**
 * A tag block's id, seq and time (each empty when absent or malformed;
 * other tags are left alone, as IRCv3 clients do).
 * @param {string} block
 */
function parseTags(block) {
  /** @type {Record<keyof typeof TAG_VALUES, string>} */
  const tags = { id: "", seq: "", time: "" };
  for (const tag of block.split(";")) {
    const equals = tag.indexOf("=");
    const key = tag.slice(0, equals);
    const value = tag.slice(equals + 1);
    if (equals > 0 && Object.hasOwn(TAG_VALUES, key)) {
      const name = /** @type {keyof typeof TAG_VALUES} */ (key);
      if (TAG_VALUES[name].test(value)) tags[name] = value;
    }
  }
  return tags;
}

/**
 * Splits a server line into its prefixes and fields; the last field takes
 * the rest.
 * @param {string} wire
 * @returns {Line}
 */
export function parseLine(wire) {
  const prefixes = /** @type {RegExpExecArray} */ (PREFIXES.exec(wire));
  const [skipped, block = "", inRoom = ""] = prefixes;
  const { id, seq, time } = parseTags(block);
  const text = wire.slice(skipped.length);
  const space = text.indexOf(" ");
  const type = space === -1 ? text : text.slice(0, space);
  const fields = fieldsOf(type);
  if (fields === undefined) {
    return { ...NO_FIELDS, type: "?", text, inRoom, id };
  }
  /** @type {Record<Field, string>} */
  const values = { ...NO_FIELDS, seq, time };
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
  return { ...values, type: /** @type {LineType} */ (type), inRoom, id };
}

/**
 * A line as it came on the wire, without its prefixes (trailing empty
 * fields left out); a line of an unknown type is its text.
 * @param {Line} line
 * @returns {string}
 */
export function formatLine(line) {
  if (line.type === "?") return line.text;
  let out = line.type;
  let pending = "";
  for (const field of SERVER_LINE_FIELDS[line.type]) {
    const value = line[field];
    if (value === "") {
      pending += " ";
      continue;
    }
    out += pending + " " + value;
    pending = "";
  }
  return out;
}

/** What starts a line that carries a line id (lib/protocol.ts's). */
export const LINE_ID_PREFIX = "@id=";

/**
 * A line with its id first, as lib/protocol.ts's `tagLine` writes it.
 * @param {string} id @param {string} line
 */
export function tagLine(id, line) {
  return `${LINE_ID_PREFIX}${id} ${line}`;
}

/**
 * A new line id from 16 random bytes (app.js's `crypto`): base64url
 * without padding, 22 characters, as lib/client/pending.ts makes them.
 * @param {Uint8Array} bytes
 */
export function lineId(bytes) {
  const base64 = btoa(String.fromCharCode(...bytes));
  return base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Asks who is here. */
export const WHO_COMMAND = "/who";

/** Asks for the room's history (the server's `--history` last lines). */
export const HISTORY_COMMAND = "/history";

/** Gives a password the server asked for. @param {string} password */
export function passCommand(password) {
  return `/pass ${password}`;
}

/** Answers a `PING`. @param {string} token */
export function pongCommand(token) {
  return `/pong ${token}`;
}

/** Whether a typed line is a password (`/pass PASSWORD`, any case). @param {string} text */
export function isPasswordLine(text) {
  return /^\/pass(\s|$)/i.test(text.trim());
}

/**
 * A whisper as the user typed it (`/msg ALIAS TEXT`, the command in any
 * case, blanks of any kind and number between the words), its target and
 * text; null when the line is none (another line, or no alias or text:
 * the server answers that with its usage).
 * @param {string} typed
 * @returns {{ to: string, text: string } | null}
 */
export function parseWhisper(typed) {
  const match = /^\/msg\s+(\S+)\s+(\S[^]*)$/i.exec(typed.trim());
  return match === null ? null : { to: match[1] ?? "", text: match[2] ?? "" };
}

/** Whether a typed line leaves the room. @param {string} text */
export function isQuitCommand(text) {
  return /^\/quit\b/i.test(text);
}

/** The capabilities the page asks for, when the server offers them. */
const WANTED_CAPS = ["ids", "rooms", "seq", "resume"];

/**
 * The capabilities a greeting's PARAMS (`caps=ids+rooms`) offers.
 * @param {string} params
 * @returns {string[]}
 */
export function offeredCaps(params) {
  const caps = params.split(",").find((pair) => pair.startsWith("caps="));
  return (caps ?? "").slice("caps=".length).split("+");
}

/**
 * The `/cap` line asking for what the page uses of what the greeting's
 * PARAMS offers, or null when it offers none of it.
 * @param {string} params
 * @returns {string | null}
 */
export function capCommand(params) {
  const offered = offeredCaps(params);
  const asked = WANTED_CAPS.filter((name) => offered.includes(name));
  return asked.length === 0 ? null : `/cap ${asked.join(" ")}`;
}

/**
 * The flood limits a greeting's PARAMS states (`rate=5,burst=10`), read
 * as the terminal client reads them (`parseHelloParams`): rate 0 (none)
 * and burst 1 when absent or not a number.
 * @param {string} params
 * @returns {{ rate: number, burst: number }}
 */
export function floodLimits(params) {
  const limits = { rate: 0, burst: 1 };
  for (const pair of params.split(",")) {
    const [key = "", value = ""] = pair.split("=");
    const number = Number(value);
    if ((key === "rate" || key === "burst") && value !== "") {
      if (Number.isFinite(number)) limits[key] = number;
    }
  }
  return limits;
}

/** A room log's epoch as the server writes it (`epoch=`, `/resume`). */
export const EPOCH = /^[A-Za-z0-9_-]{1,32}$/;

/** A `RESUME` token as the server writes it. */
export const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The epoch of the server's room log, from its greeting's PARAMS
 * (`epoch=3fA9x`), or "" when it names none (or a malformed one).
 * @param {string} params
 */
export function epochOf(params) {
  const pair = params.split(",").find((p) => p.startsWith("epoch="));
  const epoch = (pair ?? "").slice("epoch=".length);
  return EPOCH.test(epoch) ? epoch : "";
}

/**
 * Says where the page was, before its alias: the log's epoch, the last
 * number seen in each room (`#lobby=120,#ops=98`; the room `""` of a
 * server without rooms as a bare number; `-`: none) and the token of the
 * last connection, if any.
 * @param {string} epoch
 * @param {readonly (readonly [string, number])[]} positions
 * @param {string} token
 */
export function resumeCommand(epoch, positions, token) {
  const where =
    positions.map(([room, seq]) => room === "" ? String(seq) : `${room}=${seq}`)
      .join(",") || "-";
  return token === ""
    ? `/resume ${epoch} ${where}`
    : `/resume ${epoch} ${where} ${token}`;
}

/**
 * Says the member has read a room up to a line (`""`: the server's only
 * room). @param {string} room @param {number} seq
 */
export function readCommand(room, seq) {
  return room === "" ? `/read ${seq}` : `/read ${room} ${seq}`;
}

/**
 * The words of a search as sent: on one line, single spaces ("" when
 * there are none, and nothing is sent).
 * @param {string} typed
 */
export function searchWords(typed) {
  return typed.split(/[\s\p{Cc}]+/u).filter((w) => w !== "").join(" ");
}

/** Searches the rooms the member is in. @param {string} words */
export function searchCommand(words) {
  return `/search ${words}`;
}

/**
 * A room name as typed (`ops`, `#Ops `) as the server knows it: `#ops`;
 * none ("") for one with a space or a control character inside, so that a
 * link's fragment (`#lobby%0A/op%20mallory`) never sends another line.
 */
export function roomName(/** @type {string} */ typed) {
  const name = typed.trim().toLowerCase();
  if (name === "" || name === "#" || /[\s\p{Cc}]/u.test(name)) return "";
  return name.startsWith("#") ? name : `#${name}`;
}

/**
 * The room an address's fragment names, as typed (`https://host/#ops`:
 * `ops`, for {@linkcode roomName}): "" for none, or a malformed escape.
 * Read from the address a change went to (`hashchange`'s `newURL`), not
 * the one shown later: the page rewrites that when a join is answered.
 * @param {string} address
 */
export function fragmentRoom(address) {
  const at = address.indexOf("#");
  try {
    return at === -1 ? "" : decodeURIComponent(address.slice(at + 1));
  } catch {
    return ""; // a malformed escape names no room
  }
}

/**
 * Joins a room (or switches to it), with its key if it has one.
 * @param {string} room @param {string} key
 */
export function joinCommand(room, key) {
  return key === "" ? `/join ${room}` : `/join ${room} ${key}`;
}

/** Leaves a room. @param {string} room */
export function partCommand(room) {
  return `/part ${room}`;
}
