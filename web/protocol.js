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
});

/** @typedef {keyof typeof SERVER_LINE_FIELDS} LineType */
/** @typedef {(typeof SERVER_LINE_FIELDS)[LineType][number]} Field */

/**
 * A server line as fields, every field present (empty when the type has
 * no such field). A line of a type this page does not know has type `?`
 * and the whole line as its text.
 * @typedef {{ readonly type: LineType | "?" } & Readonly<Record<Field, string>>} Line
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

/**
 * Splits a server line into its fields; the last field takes the rest.
 * @param {string} text
 * @returns {Line}
 */
export function parseLine(text) {
  const space = text.indexOf(" ");
  const type = space === -1 ? text : text.slice(0, space);
  const fields = fieldsOf(type);
  if (fields === undefined) return { ...NO_FIELDS, type: "?", text };
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
  return { ...values, type: /** @type {LineType} */ (type) };
}

/**
 * A line as it came on the wire (trailing empty fields left out); a line
 * of an unknown type is its text.
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
