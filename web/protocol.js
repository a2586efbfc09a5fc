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
  RESUMED: ["last", "missing", "text"],
  READ: ["seq"],
});

/** @typedef {keyof typeof SERVER_LINE_FIELDS} LineType */
/** @typedef {(typeof SERVER_LINE_FIELDS)[LineType][number]} Field */

/**
 * A server line as fields, every field present (empty when the type has
 * no such field), with the room it is about (`inRoom`: its `#room `
 * prefix, empty when it has none) and its id (`@id=ID `, empty when none).
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

/** `@id=ID ` then `#room `, each optional, before the line's type. */
const PREFIXES = /^(?:@id=([A-Za-z0-9_-]+) )?(?:(#[^ ]+) )?/;

/**
 * Splits a server line into its prefixes and fields; the last field takes
 * the rest.
 * @param {string} wire
 * @returns {Line}
 */
export function parseLine(wire) {
  const prefixes = /** @type {RegExpExecArray} */ (PREFIXES.exec(wire));
  const [skipped, id = "", inRoom = ""] = prefixes;
  const text = wire.slice(skipped.length);
  const space = text.indexOf(" ");
  const type = space === -1 ? text : text.slice(0, space);
  const fields = fieldsOf(type);
  if (fields === undefined) {
    return { ...NO_FIELDS, type: "?", text, inRoom, id };
  }
  /** @type {Record<Field, string>} */
  const values = { ...NO_FIELDS };
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

/** Asks who is here. */
export const WHO_COMMAND = "/who";

/** Gives a password the server asked for. @param {string} password */
export function passCommand(password) {
  return `/pass ${password}`;
}

/** Answers a `PING`. @param {string} token */
export function pongCommand(token) {
  return `/pong ${token}`;
}

/** Whether a typed line leaves the room. @param {string} text */
export function isQuitCommand(text) {
  return /^\/quit\b/i.test(text);
}

/** The capabilities the page asks for, when the server offers them. */
const WANTED_CAPS = ["ids", "rooms"];

/**
 * The `/cap` line asking for what the page uses of what the greeting's
 * PARAMS (`caps=ids+rooms`) offers, or null when it offers none of it.
 * @param {string} params
 * @returns {string | null}
 */
export function capCommand(params) {
  const caps = params.split(",").find((pair) => pair.startsWith("caps="));
  const offered = (caps ?? "").slice("caps=".length).split("+");
  const asked = WANTED_CAPS.filter((name) => offered.includes(name));
  return asked.length === 0 ? null : `/cap ${asked.join(" ")}`;
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
