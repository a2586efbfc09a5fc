/**
 * How the terminal client shows server lines: pure functions from a parsed
 * line to one display string. Every kind of line starts differently, in
 * every output mode, so that nobody can pass off a message as something
 * else: `<alias> text` for messages, `* alias text` for actions, `-!- ` for
 * what the server itself says, `! ` for errors, and history (what was said
 * before one joined) with its date, dimmed. Aliases get stable colours,
 * and every field is sanitised again so a hostile server cannot drive the
 * user's terminal. Colour and timestamps are options, so pipes get plain
 * text.
 *
 * @module
 */

import { styleText } from "node:util";
import { aliasKey, type ServerLine } from "../protocol.ts";
import { sanitizeText as clean } from "../text.ts";

/** What starts every line the server itself says (joins, notices, ...). */
export const SYSTEM_PREFIX = "-!- ";

/** Options of {@linkcode formatForDisplay}. */
export interface DisplayOptions {
  /** Use ANSI colours. */
  readonly color: boolean;
  /** Local time to show before the line; none when absent. */
  readonly time?: Date;
}

type Style = Parameters<typeof styleText>[0];

const ALIAS_COLORS = [
  "red",
  "green",
  "yellow",
  "blue",
  "magenta",
  "cyan",
  "redBright",
  "greenBright",
  "yellowBright",
  "blueBright",
  "magentaBright",
  "cyanBright",
] as const;

/** The colour an alias is always shown in (case-insensitive, stable). */
export function aliasColor(alias: string): (typeof ALIAS_COLORS)[number] {
  let hash = 0x811c9dc5; // FNV-1a
  for (const char of aliasKey(alias)) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  }
  return ALIAS_COLORS[(hash >>> 0) % ALIAS_COLORS.length]!;
}

const MOD_ACTIONS: Record<string, string> = {
  kick: "was kicked",
  ban: "was banned",
  unban: "was unbanned",
  mute: "was muted",
  unmute: "was unmuted",
};

const LEAVE_REASONS: Record<string, string> = {
  quit: "quit",
  disconnect: "disconnected",
  timeout: "timed out",
  flood: "kicked for flooding",
  slow: "disconnected, too slow to keep up",
  shutdown: "server shutdown",
  "line-too-long": "disconnected for sending an endless line",
  kicked: "kicked",
  banned: "banned",
  replaced: "logged in elsewhere",
  "server-lost": "their server was lost",
};

/**
 * Formats a server line for the terminal, or returns null for lines that are
 * not shown (`PING`, `CAP`). A string is an unparsed line, shown as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatForDisplay } from "./display.ts";
 *
 * const line = { type: "MSG", alias: "bob", text: "hi" } as const;
 * assert.equal(formatForDisplay(line, { color: false }), "<bob> hi");
 * ```
 */
export function formatForDisplay(
  line: ServerLine | string,
  options: DisplayOptions,
): string | null {
  const paint = (style: Style, text: string) =>
    options.color ? styleText(style, text, { validateStream: false }) : text;
  const who = (alias: string) => paint(aliasColor(alias), clean(alias));
  const system = (text: string) => paint("dim", SYSTEM_PREFIX) + text;
  let body: string;
  if (typeof line === "string") {
    body = clean(line);
  } else {
    switch (line.type) {
      case "HELLO":
        body = system(
          `Connected to ${clean(line.server)} (${clean(line.protocol)})`,
        );
        break;
      case "WELCOME":
        body = system(
          `Welcome, ${who(line.alias)}! ${clean(line.online)} online. ${
            clean(line.text)
          }`,
        );
        break;
      case "MSG":
        body = `<${who(line.alias)}> ${clean(line.text)}`;
        break;
      case "ME":
        body = paint("italic", `* ${who(line.alias)} ${clean(line.text)}`);
        break;
      case "PRIV":
        body = `${paint("bold", "[private]")} <${who(line.alias)}> ${
          clean(line.text)
        }`;
        break;
      case "SENT":
        body = `${paint("bold", "[private]")} to ${who(line.alias)}: ${
          clean(line.text)
        }`;
        break;
      case "JOIN":
        body = system(
          `${who(line.alias)} joined (${clean(line.online)} online)`,
        );
        break;
      case "LEAVE": {
        const why = LEAVE_REASONS[line.reason] ?? clean(line.reason);
        const text = line.text ? `: ${clean(line.text)}` : "";
        body = system(
          `${who(line.alias)} left (${why}${text}, ${
            clean(line.online)
          } online)`,
        );
        break;
      }
      case "NICK":
        body = system(
          `${who(line.alias)} is now known as ${who(line.newAlias)}`,
        );
        break;
      case "PRESENCE":
        body = system(
          `${clean(line.joined)} joined, ${clean(line.left)} left (${
            clean(line.online)
          } online)`,
        );
        break;
      case "WHO": {
        const aliases = line.aliases.split(" ").filter((a) => a !== "");
        const more = Number(line.online) - aliases.length;
        // Operators are marked with @.
        const shown = aliases.map((a) =>
          a.startsWith("@") ? `@${who(a.slice(1))}` : who(a)
        );
        body = system(
          `${clean(line.online)} online: ${shown.join(", ")}` +
            (more > 0 ? ` and ${more} more` : ""),
        );
        break;
      }
      case "PASSWORD":
        body = system(clean(line.text));
        break;
      case "TOPIC":
        body = system(`Topic: ${clean(line.text)} (set by ${who(line.alias)})`);
        break;
      case "MOD": {
        const done = MOD_ACTIONS[line.action] ?? clean(line.action);
        const text = line.text ? ` ${clean(line.text)}` : "";
        body = system(
          `${who(line.alias)} ${done} by ${who(line.by)}${text}`,
        );
        break;
      }
      case "BAN":
        body = system(
          `Ban on ${clean(line.kind)} ${clean(line.target)} by ${
            who(line.by)
          }, ${
            line.until === "-" ? "until lifted" : `until ${clean(line.until)}`
          }${line.text ? `: ${clean(line.text)}` : ""}`,
        );
        break;
      case "INFO":
        body = system(clean(line.text));
        break;
      case "ERR":
        body = paint(["red", "bold"], `! ${clean(line.text)}`);
        break;
      case "BYE":
        body = paint(
          line.reason === "quit" ? "dim" : ["red", "bold"],
          `${SYSTEM_PREFIX}Disconnected: ${clean(line.text)}`,
        );
        break;
      case "HIST": {
        // Dated (the date dimmed) where live lines are not: history cannot pass
        // for something said now.
        const when = new Date(line.time);
        const date = Number.isNaN(when.getTime())
          ? clean(line.time)
          : formatDateTime(when);
        const said = line.kind === "ME"
          ? `* ${who(line.alias)} ${clean(line.text)}`
          : `<${who(line.alias)}> ${clean(line.text)}`;
        return paint("dim", `${date} `) + said;
      }
      case "HISTEND":
        body = system(paint("dim", `---- ${clean(line.text)} ----`));
        break;
      case "PING":
      case "CAP": // the client asked for it; nothing for the user
        return null;
    }
  }
  if (options.time === undefined) return body;
  return paint("dim", formatTime(options.time)) + " " + body;
}

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
