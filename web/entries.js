// @ts-check
/**
 * What the page's message log shows for each server line: plain data (a
 * class, parts of text, a time), never HTML; view.js turns an entry into
 * elements whose text is set as text. What someone chose (an alias, a
 * topic, a reason, a room name, a message) is a part of its own, which
 * view.js isolates (`<bdi>`), so that right-to-left text cannot reorder
 * the words and punctuation around it. Pure: the time of a live line comes
 * in with it.
 *
 * @module
 */

import { formatLine } from "./protocol.js";
import { dateTimeText, setText } from "./local_times.js";

/** @typedef {import("./protocol.js").Line} Line */

/**
 * One piece of an entry: the page's own text, an alias (shown in its
 * colour), a label (a room's name, "private from"), or what someone said
 * or chose (`said`). All but `text` are shown isolated.
 * @typedef {{ readonly kind: "text" | "alias" | "label" | "said", readonly text: string }} Part
 */

/**
 * One entry of the log. `when` is shown before it: a time (with its date
 * when `dated`), a text as it came, or nothing (null or empty).
 * @typedef {object} Entry
 * @property {string} className
 * @property {readonly Part[]} parts
 * @property {Date | string | null} when
 * @property {boolean} dated
 * @property {number} [seq] the log number of the line it shows, if known
 * @property {string} [pendingId] the id of the user's line it shows,
 *   sent and not answered yet (`outbox.js`)
 * @property {boolean} [presence] someone came, went or was renamed: kept
 *   within a cap of its own, so these never push the conversation out
 */

/** Why someone left, as people say it. */
const LEFT = new Map([
  ["quit", "left"],
  ["part", "left"],
  ["disconnect", "disconnected"],
  ["timeout", "timed out"],
  ["flood", "was disconnected for flooding"],
  ["slow", "was disconnected (too slow)"],
  ["line-too-long", "was disconnected (line too long)"],
  ["kicked", "was kicked"],
  ["banned", "was banned"],
  ["replaced", "logged in elsewhere"],
  ["server-lost", "was lost with their server"],
]);

/** Operator actions, as people say them. */
const DONE = new Map([
  ["kick", "kicked"],
  ["ban", "banned"],
  ["unban", "unbanned"],
  ["mute", "muted"],
  ["unmute", "unmuted"],
  ["op", "made a room operator"],
  ["deop", "removed as a room operator"],
  ["invite", "invited"],
]);

/** Operator actions on the room itself (`MOD ACTION - BY TEXT`). */
const DONE_TO_ROOM = new Map([
  ["key", "set the room key"],
  ["invite-only", "made the room invite-only"],
  ["register", "registered the room"],
]);

/** What a `MOD` line says happened. @param {Line} line */
function modText(line) {
  if (line.alias !== "-") {
    const done = DONE.get(line.action);
    return done === undefined
      ? told`${line.alias} was ${line.action} by ${line.by}${modDetail(line)}`
      : told`${line.alias} was ${ours(done)} by ${line.by}${modDetail(line)}`;
  }
  if (line.text === "off") {
    return line.action === "key"
      ? told`${line.by} removed the room key`
      : told`${line.by} turned ${line.action} off`;
  }
  const done = DONE_TO_ROOM.get(line.action);
  return done === undefined
    ? told`${line.by} set ${line.action}`
    : told`${line.by} ${ours(done)}`;
}

/** @param {string} text @returns {Part} */
const text = (text) => ({ kind: "text", text });
/** @param {string} said @returns {Part} */
const someones = (said) => ({ kind: "said", text: said });
/** The page's own words, in a {@linkcode told} template. @param {string} own */
const ours = (own) => [text(own)];

/**
 * The parts of a template: its literal text the page's own, each value
 * what someone chose (a part of its own, isolated when shown), except a
 * list of parts, which goes in as it is. Empty pieces are left out.
 * @param {TemplateStringsArray} strings
 * @param {...(string | readonly Part[])} values
 * @returns {Part[]}
 */
export function told(strings, ...values) {
  /** @type {Part[]} */
  const parts = [];
  for (const [i, literal] of strings.entries()) {
    if (literal !== "") parts.push(text(literal));
    const value = values[i];
    if (typeof value === "string") parts.push(someones(value));
    else if (value !== undefined) parts.push(...value);
  }
  return parts;
}
/** @param {string} alias @returns {Part} */
const alias = (alias) => ({ kind: "alias", text: alias });
/** @param {string} label @returns {Part} */
const label = (label) => ({ kind: "label", text: label });

/** When a topic or a ban was set, if its line says. @param {Line} line */
const setOn = (line) => setText(line) === "" ? [] : ours(setText(line));

/** `: text` when there is a text. @param {string} said */
const colonText = (said) => said ? told`: ${said}` : [];

/**
 * What follows "bob was muted by amy": a ban's or a mute's text says
 * "by amy until ..." (its first words said already; the end in local
 * time), a kick's reason follows a colon. @param {Line} line
 */
function modDetail({ by, text }) {
  const said = `by ${by} `;
  if (!text.startsWith(said)) return colonText(text);
  const detail = text.slice(said.length);
  const until = /^until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/.exec(
    detail,
  );
  if (until === null) return told` ${detail}`;
  const rest = detail.slice(until[0].length);
  return told` ${untilText(until[1] ?? "")}${rest === "" ? [] : rest}`;
}

/**
 * "until" and the end of a ban or mute as the server writes it (UTC), in
 * local time as the log's dates are shown; as it came if it is no time.
 * @param {string} utc
 * @returns {Part[]}
 */
function untilText(utc) {
  const when = new Date(utc);
  return Number.isNaN(when.getTime())
    ? told`until ${utc}`
    : ours(`until ${dateTimeText(when)}`);
}

/** What a `LEAVE` line says: who left, why. @param {Line} line */
function left(line) {
  const why = LEFT.get(line.reason);
  return why === undefined
    ? told`${line.alias} left (${line.reason})${colonText(line.text)}`
    : told`${line.alias} ${ours(why)}${colonText(line.text)}`;
}

/**
 * @param {string} className @param {readonly Part[]} parts
 * @param {Date | string | null} when @param {boolean} [dated]
 * @returns {Entry}
 */
function entry(className, parts, when, dated = false) {
  return { className, parts, when, dated };
}

/**
 * A line the page itself says (a string), or the server says about the
 * room (parts, what someone chose among them: see {@linkcode told}).
 * @param {string | readonly Part[]} said @param {Date} now
 */
export function notice(said, now) {
  return entry("notice", typeof said === "string" ? [text(said)] : said, now);
}

/** A notice of someone coming, going or renamed. @param {readonly Part[]} said @param {Date} now */
function presence(said, now) {
  return { ...notice(said, now), presence: true };
}

/**
 * An error shown in the log. @param {string | readonly Part[]} said
 * @param {Date} now
 */
export function errorLine(said, now) {
  return entry(
    "error-line",
    typeof said === "string" ? [text(said)] : said,
    now,
  );
}

/**
 * The entry telling that a line the user typed was not sent ("! Not sent:
 * TEXT (WHY)"), or perhaps not (`doubt`: it left, its answer never came):
 * refused, cut off by a closed socket, or kept across a reload. `what` and
 * `why` as a string are someone's (the text typed, the server's reason);
 * as parts, the page's own words ({@linkcode told}).
 * @param {string | readonly Part[]} what @param {string | readonly Part[]} why
 * @param {boolean} doubt
 * @returns {Entry}
 */
export function unsentEntry(what, why, doubt) {
  const said = doubt
    ? told`! Perhaps not sent: ${what} (${why})`
    : told`! Not sent: ${what} (${why})`;
  /** @type {Part[]} */
  const parts = [];
  for (const part of said) {
    const last = parts.at(-1);
    if (part.kind === "text" && last?.kind === "text") {
      parts[parts.length - 1] = text(last.text + part.text); // one piece
    } else parts.push(part);
  }
  return entry("unsent error-line", parts, null);
}

/** What was said: `alias text`, or `* alias text` for an action. */
function said(/** @type {string} */ kind, /** @type {Line} */ line) {
  const words = [alias(line.alias), text(" "), someones(line.text)];
  return kind === "ME" ? [text("* "), ...words] : words;
}

/**
 * What was said earlier (`HIST`, `FOUND`): dated, or its time as it came
 * when that is not a date. @param {string} className @param {Line} line
 */
function earlier(className, line) {
  const when = new Date(line.time);
  const valid = !Number.isNaN(when.getTime());
  const kind = line.kind === "ME" ? "action" : "message";
  return entry(
    `${className} ${kind}`,
    said(line.kind, line),
    valid ? when : line.time,
    valid,
  );
}

/** History. @param {Line} line */
const history = (line) => earlier("history", line);

/**
 * A search result (`FOUND #room SEQ TIME KIND ALIAS TEXT`), labelled with
 * its room. @param {Line} line
 * @returns {Entry}
 */
export function found(line) {
  return inRoom(earlier("found", line), line.room);
}

/**
 * The divider before what a reconnect caught up. @param {number} count
 * @returns {Entry}
 */
export function divider(count) {
  const said = count === 1 ? "1 new message" : `${count} new messages`;
  return entry("divider", [text(said)], null);
}

/**
 * How many of a room's lines a reconnect could not catch up (`RESUMED`'s
 * MISSING: a number, or `?`), or null when none are missing.
 * @param {string} missing @param {Date} now
 * @returns {Entry | null}
 */
export function missed(missing, now) {
  if (missing === "?") {
    return errorLine("An unknown number of lines missed", now);
  }
  const count = Number(missing);
  if (!Number.isSafeInteger(count) || count <= 0) return null;
  return errorLine(
    count === 1 ? "1 line missed" : `${count} lines missed`,
    now,
  );
}

/** @typedef {(line: Line, now: Date) => Entry | null} MakeEntry */

/**
 * How each line of the room is shown; a type not listed (a newer
 * server's, or `CAP`) is shown as it came.
 * @type {ReadonlyMap<string, MakeEntry>}
 */
const ENTRIES = new Map(
  /** @type {[string, MakeEntry][]} */ ([
    ["MSG", (line, now) => entry("message", said("MSG", line), now)],
    ["ME", (line, now) => entry("action", said("ME", line), now)],
    [
      "PRIV",
      (line, now) =>
        entry("private", [label("private from"), ...said("PRIV", line)], now),
    ],
    [
      "SENT",
      (line, now) =>
        entry("private", [label("private to"), ...said("SENT", line)], now),
    ],
    ["HIST", history],
    ["HISTEND", (line) => entry("separator", told`${line.text}`, null)],
    ["JOIN", (line, now) => presence(told`${line.alias} joined`, now)],
    ["LEAVE", (line, now) => presence(left(line), now)],
    [
      "NICK",
      (line, now) =>
        presence(told`${line.alias} is now known as ${line.newAlias}`, now),
    ],
    ["PRESENCE", (line, now) =>
      presence(
        told`${line.joined} joined, ${line.left} left (${line.online} online)`,
        now,
      )],
    ["WHO", () => null],
    [
      "TOPIC",
      (line, now) =>
        notice(
          told`Topic: ${line.text} (set by ${line.alias}${setOn(line)})`,
          now,
        ),
    ],
    ["MOD", (line, now) => notice(modText(line), now)],
    ["BAN", (line, now) =>
      notice(
        told`Ban on ${line.kind} ${line.target} by ${line.by}${setOn(line)} ${
          line.until === "-" ? ours("until lifted") : untilText(line.until)
        }${colonText(line.text)}`,
        now,
      )],
    ["INFO", (line, now) => notice(told`${line.text}`, now)],
    ["ROOM", (line, now) =>
      notice(
        told`${line.room} (${line.members})${
          line.flags.includes("m") ? told` joined` : []
        }${colonText(line.topic)}`,
        now,
      )],
    ["CURRENT", () => null],
    ["RESUMED", () => null],
    ["RESUME", () => null],
    ["READ", () => null],
    ["FOUND", () => null],
    ["FOUNDEND", () => null],
    [
      "INVITE",
      (line, now) => notice(told`${line.by} invites you to ${line.room}`, now),
    ],
  ]),
);

/**
 * An entry shown in another room's log than its own: labelled with its
 * room. @param {Entry} entry @param {string} room
 * @returns {Entry}
 */
export function inRoom(entry, room) {
  return room === ""
    ? entry
    : { ...entry, parts: [label(room), ...entry.parts] };
}

/**
 * The entry a line of the room adds to the log, or null (`WHO` changes
 * only the member list, `CURRENT` the room shown).
 * @param {Line} line @param {Date} now the time shown before a live line
 * @returns {Entry | null}
 */
export function entryFor(line, now) {
  const make = ENTRIES.get(line.type);
  return make ? make(line, now) : notice(told`${formatLine(line)}`, now);
}
