/**
 * Times as the terminal client shows them: local, to the minute
 * (`HH:MM`, `YYYY-MM-DD HH:MM`), never the UTC the server writes (an ISO
 * 8601 time in a ban's end, a line's `@time=` tag). Pure.
 *
 * @module
 */

const pad = (n: number) => String(n).padStart(2, "0");

/** Local `HH:MM` of a time. */
export function formatTime(time: Date): string {
  return `${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

/** Local `YYYY-MM-DD HH:MM` of a time. */
export function formatDateTime(time: Date): string {
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${
    pad(time.getDate())
  } ${formatTime(time)}`;
}

/** The end of a ban or mute as the server writes it: UTC, to the ms. */
const UNTIL_UTC = /\buntil (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)/g;

/**
 * A server's text with the end of a ban or mute (`until
 * 2026-12-08T18:17:30.779Z`) as local time, as every other time is shown
 * (`until 2026-12-08 19:17`).
 */
export function localUntil(text: string): string {
  return text.replace(
    UNTIL_UTC,
    (_, utc: string) => `until ${formatDateTime(new Date(utc))}`,
  );
}

/**
 * A line's `@time=` tag as a date, or undefined when it has none or it is
 * no time.
 */
export function tagDate(time: string | null): Date | undefined {
  const date = time === null ? undefined : new Date(time);
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}
