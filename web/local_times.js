// @ts-check
/**
 * Times as the page shows them: local, as the log's dates are (never the
 * UTC the server writes: a ban's or a mute's end in a text, a line's
 * `time` tag). Pure.
 *
 * @module
 */

/** @typedef {import("./protocol.js").Line} Line */

/** The end of a ban or mute in a server's text (`until` and a UTC time). */
const UNTIL_UTC = /\buntil (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/;

/**
 * A server's text about a ban or mute (`ERR muted`, `BYE banned`: "Banned by
 * amy until 2026-12-08T18:17:30.779Z: spam") with its end in local time, as
 * the log's dates are shown. Only the first end is: the sanction's own,
 * which comes before any reason someone wrote.
 * @param {string} said
 */
export function localEnd(said) {
  const until = UNTIL_UTC.exec(said);
  const when = new Date(until?.[1] ?? "");
  if (until === null || Number.isNaN(when.getTime())) return said;
  return said.slice(0, until.index) + `until ${dateTimeText(when)}` +
    said.slice(until.index + until[0].length);
}

/**
 * An `ERR` or `BYE` line with the end of a ban or mute in its text in local
 * time ({@linkcode localEnd}); any other line as it is.
 * @param {Line} line
 * @returns {Line}
 */
export function localEnds(line) {
  return line.type === "ERR" || line.type === "BYE"
    ? { ...line, text: localEnd(line.text) }
    : line;
}

/**
 * A local date and time as the log shows a dated entry's.
 * @param {Date} date
 */
export function dateTimeText(date) {
  return `${date.toLocaleDateString()} ${timeText(date)}`;
}

/**
 * ` on DATE` (local) when a line without `seq` (a topic, a ban) says by its
 * `time` tag when what it shows was set; else nothing.
 * @param {Line} line
 */
export function setText(line) {
  const when = new Date(line.time);
  return line.seq === "" && !Number.isNaN(when.getTime())
    ? ` on ${dateTimeText(when)}`
    : "";
}

/** A local `HH:MM` as the log shows a live entry's. @param {Date} date */
export function timeText(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
