/**
 * Levelled, one-line-per-event logging: `TIME LEVEL event key=value ...`,
 * easy to grep and to parse. This module formats and filters; where lines go
 * is the caller's choice (a `write` function), so `lib/` never prints.
 *
 * @module
 */

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Values logged after the event name. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** A logger with one method per level. */
export type Logger = Record<
  LogLevel,
  (event: string, fields?: LogFields) => void
>;

/**
 * Formats one log line. Values containing spaces, quotes, `=` or control
 * characters are quoted as JSON strings (every control escaped); undefined
 * values are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLogLine } from "./log.ts";
 *
 * assert.equal(
 *   formatLogLine(0, "info", "join", { alias: "bob", reason: "a b" }),
 *   '1970-01-01T00:00:00.000Z INFO join alias=bob reason="a b"',
 * );
 * ```
 */
export function formatLogLine(
  timeMs: number,
  level: LogLevel,
  event: string,
  fields: LogFields = {},
): string {
  let line = `${
    new Date(timeMs).toISOString()
  } ${level.toUpperCase()} ${event}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    line += ` ${key}=${BARE.test(text) ? text : quoted(text)}`;
  }
  return line;
}

/** A value that needs no quotes: no space, quote, `=` or control. */
const BARE = /^[^\s"=\p{Cc}]+$/u;

/**
 * A value as a JSON string with every control escaped, C1 and DEL too
 * (`JSON.stringify` leaves them): an HTTP header is read as Latin-1, so a
 * client's `Origin` can hold U+009B (CSI), which some terminals obey.
 */
function quoted(text: string): string {
  return JSON.stringify(text).replace(
    /\p{Cc}/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Creates a logger that writes lines at `level` or above. */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void,
  now: () => number = Date.now,
): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const method = (at: LogLevel) =>
    LOG_LEVELS.indexOf(at) < threshold
      ? () => {}
      : (event: string, fields?: LogFields) =>
        write(formatLogLine(now(), at, event, fields));
  return {
    debug: method("debug"),
    info: method("info"),
    warn: method("warn"),
    error: method("error"),
  };
}

/** One-line description of an error for logs: `Name: message`. */
export function describeError(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

/** A URL (of Redis, say) with its user and password hidden, for logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "***";
    parsed.password = "";
    return parsed.href;
  } catch {
    return "(not a URL)";
  }
}
