/**
 * How the terminal client shows server lines: pure functions from a parsed
 * line to one display string. Every kind of line starts differently, in
 * every output mode, so that nobody can pass off a message as something
 * else: `<alias> text` for messages, `* alias text` for actions, `-!- ` for
 * what the server itself says, `! ` for errors, and history (what was said
 * before one joined) with its date, dimmed. Aliases get stable colours,
 * every field is sanitised again so a hostile server cannot drive the
 * user's terminal, and isolated (bidi) so that right-to-left text cannot
 * move what is around it. Colour and timestamps are options, so pipes get plain
 * text.
 *
 * @module
 */

import { styleText } from "node:util";
import { LEAVE_REASONS, MOD_ACTIONS, ROOM_SETTINGS } from "./display_words.ts";
import { aliasKey } from "../protocol.ts";
import { type ServerLine, type ServerLineType } from "../server_lines.ts";
import { FSI, isolateBidi, PDI, sanitizeText } from "../text.ts";
import { formatDateTime, formatTime, localUntil } from "./local_time.ts";

/**
 * A field of a server line as a display line embeds it: sanitised again,
 * and isolated (FSI…PDI) unless it is plain ASCII, so that right-to-left
 * text in an alias, a topic, a reason or a room name cannot reorder the
 * words and punctuation around it.
 */
const clean = (text: string) => isolateBidi(sanitizeText(text));

/** What starts every line the server itself says (joins, notices, ...). */
export const SYSTEM_PREFIX = "-!- ";

/** Options of {@linkcode formatForDisplay}. */
export interface DisplayOptions {
  /** Use ANSI colours. */
  readonly color: boolean;
  /** Local time to show before the line; none when absent. */
  readonly time?: Date;
  /** The room to label the line with (after the time); none when absent. */
  readonly room?: string | null;
  /**
   * When what a `TOPIC` or `BAN` line shows was set (its `@time=` tag),
   * shown as local time after its setter; not shown when absent.
   */
  readonly setAt?: Date;
  /**
   * Keep what someone chose in bidi isolates (FSI…PDI), as a terminal
   * needs; false: the text alone, as sent (a file, where they would be
   * characters nobody typed).
   * @default {true}
   */
  readonly isolate?: boolean;
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

/** The helpers every line's format uses, for one colour setting. */
interface Painter {
  /** Styles text (or leaves it plain without colour). */
  paint(style: Style, text: string): string;
  /** An alias, sanitised, in its colour. */
  who(alias: string): string;
  /** A line the server itself says: the system prefix, then the text. */
  system(text: string): string;
  /** ` on DATE` (local) when what the line shows was set, else nothing. */
  setOn(): string;
}

function painter(color: boolean, setAt?: Date): Painter {
  const paint = (style: Style, text: string) =>
    color ? styleText(style, text, { validateStream: false }) : text;
  return {
    paint,
    who: (alias) => paint(aliasColor(alias), clean(alias)),
    system: (text) => paint("dim", SYSTEM_PREFIX) + text,
    setOn: () => setAt ? ` on ${formatDateTime(setAt)}` : "",
  };
}

/**
 * A `BYE`'s text said as a disconnection once: many of the server's
 * texts begin with "Disconnected:" already.
 */
const disconnected = (text: string) =>
  text.startsWith("Disconnected:")
    ? localUntil(clean(text))
    : `Disconnected: ${localUntil(clean(text))}`;

/** `: text` when there is a text, else nothing. */
const colonText = (text: string) => text ? `: ${clean(text)}` : "";

/**
 * What follows "bob was muted by amy": a ban's or a mute's text says
 * "by amy until ..." (its first words said already), a kick's reason
 * follows a colon.
 */
function modDetail({ by, text }: ServerLine<"MOD">): string {
  const said = `by ${by} `;
  return text.startsWith(said)
    ? ` ${localUntil(clean(text.slice(said.length)))}`
    : colonText(text);
}

/** How each type of line is shown; null: not shown. */
const FORMATS: {
  readonly [T in ServerLineType]: (
    line: ServerLine<T>,
    p: Painter,
  ) => string | null;
} = {
  HELLO: (line, p) =>
    p.system(`Connected to ${clean(line.server)} (${clean(line.protocol)})`),
  WELCOME: (line, p) =>
    p.system(
      `Welcome, ${p.who(line.alias)}! ${clean(line.online)} online. ${
        clean(line.text)
      }`,
    ),
  MSG: (line, p) => `<${p.who(line.alias)}> ${clean(line.text)}`,
  ME: (line, p) =>
    p.paint("italic", `* ${p.who(line.alias)} ${clean(line.text)}`),
  PRIV: (line, p) =>
    `${p.paint("bold", "[private]")} <${p.who(line.alias)}> ${
      clean(line.text)
    }`,
  SENT: (line, p) =>
    `${p.paint("bold", "[private]")} to ${p.who(line.alias)}: ${
      clean(line.text)
    }`,
  // Sent only to a client with `notice`, which this one does not ask for.
  NOTICE: (line, p) => `-${p.who(line.alias)}- ${clean(line.text)}`,
  PRIVNOTICE: (line, p) =>
    `${p.paint("bold", "[private]")} -${p.who(line.alias)}- ${
      clean(line.text)
    }`,
  SENTNOTICE: (line, p) => FORMATS.SENT({ ...line, type: "SENT" }, p),
  JOIN: (line, p) =>
    p.system(`${p.who(line.alias)} joined (${clean(line.online)} online)`),
  LEAVE: (line, p) =>
    p.system(
      `${p.who(line.alias)} left (${
        LEAVE_REASONS.get(line.reason) ?? clean(line.reason)
      }${colonText(line.text)}, ${clean(line.online)} online)`,
    ),
  NICK: (line, p) =>
    p.system(`${p.who(line.alias)} is now known as ${p.who(line.newAlias)}`),
  PRESENCE: (line, p) =>
    p.system(
      `${clean(line.joined)} joined, ${clean(line.left)} left (${
        clean(line.online)
      } online)`,
    ),
  WHO: formatWho,
  // The client asks for it itself (or gives --password-file): not the
  // hint for clients typed by hand, "...: send /pass PASSWORD".
  PASSWORD: (line, p) =>
    p.system(clean(line.text.replace(/: send \/pass PASSWORD$/, ""))),
  TOPIC: (line, p) =>
    p.system(
      `Topic: ${clean(line.text)} (set by ${p.who(line.alias)}${p.setOn()})`,
    ),
  MOD: (line, p) =>
    line.alias === "-" ? formatRoomSetting(line, p) : p.system(
      `${p.who(line.alias)} ${
        MOD_ACTIONS.get(line.action) ?? clean(line.action)
      } by ${p.who(line.by)}${modDetail(line)}`,
    ),
  BAN: (line, p) =>
    p.system(
      `Ban on ${clean(line.kind)} ${clean(line.target)} by ${
        p.who(line.by)
      }${p.setOn()}, ${
        line.until === "-"
          ? "until lifted"
          : localUntil(`until ${clean(line.until)}`)
      }${colonText(line.text)}`,
    ),
  INFO: (line, p) => p.system(clean(line.text)),
  ERR: (line, p) =>
    p.paint(["red", "bold"], `! ${localUntil(clean(line.text))}`),
  BYE: (line, p) =>
    p.paint(
      line.reason === "quit" ? "dim" : ["red", "bold"],
      `${SYSTEM_PREFIX}${disconnected(line.text)}`,
    ),
  HIST: formatHistory,
  HISTEND: (line, p) =>
    p.system(p.paint("dim", `---- ${clean(line.text)} ----`)),
  FOUND: (line, p) =>
    `${clean(line.room)} ${formatHistory({ ...line, type: "HIST" }, p)}`,
  FOUNDEND: (line, p) =>
    p.system(p.paint("dim", `---- ${clean(line.text)} ----`)),
  RESUMED: (line, p) =>
    p.system(p.paint("dim", `---- ${clean(line.text)} ----`)),
  PING: () => null,
  CAP: () => null, // the client asked for it; nothing for the user
  ROOM: formatRoom,
  CURRENT: () => null, // the prompt shows it
  RESUME: () => null, // the client keeps the token to come back with
  INVITE: (line, p) =>
    p.system(
      `${p.who(line.by)} invites you to ${clean(line.room)}: /join ${
        clean(line.room)
      }`,
    ),
  READ: () => null, // another device read up to there; nothing to show
};

/** Lines that carry their own date: no time is put in front of them. */
const DATED: ReadonlySet<ServerLineType> = new Set(["HIST", "FOUND"]);

/** What the FLAGS of a ROOM line stand for. */
const ROOM_FLAGS: ReadonlyMap<string, string> = new Map([
  ["m", "you are in it"],
  ["r", "registered"],
  ["k", "key"],
  ["i", "invite-only"],
]);

/** A room of `/rooms`: its name, members, what its flags say, its topic. */
function formatRoom(line: ServerLine<"ROOM">, p: Painter): string {
  const flags = [...line.flags].map((flag) => ROOM_FLAGS.get(flag))
    .filter((flag) => flag !== undefined);
  const members = line.members === "1" ? "1 member" : `${line.members} members`;
  return p.system(
    `${p.paint("bold", clean(line.room))} (${
      [clean(members), ...flags].join(", ")
    })${colonText(line.topic)}`,
  );
}

/** A MOD line about the room: a setting turned on or off, by whom. */
function formatRoomSetting(line: ServerLine<"MOD">, p: Painter): string {
  const by = `(by ${p.who(line.by)})`;
  const setting = ROOM_SETTINGS.get(line.action);
  if (setting === undefined) {
    return p.system(`${clean(line.action)} ${clean(line.text)} ${by}`);
  }
  return p.system(`${setting[line.text === "off" ? 1 : 0]} ${by}`);
}

/** `/who`: the aliases listed (operators marked with @), and how many more. */
function formatWho(line: ServerLine<"WHO">, p: Painter): string {
  const aliases = line.aliases.split(" ").filter((a) => a !== "");
  const more = Number(line.online) - aliases.length;
  const shown = aliases.map((a) =>
    a.startsWith("@") ? `@${p.who(a.slice(1))}` : p.who(a)
  );
  return p.system(
    `${clean(line.online)} online: ${shown.join(", ")}` +
      (more > 0 ? ` and ${more} more` : ""),
  );
}

/**
 * History: dated (the date dimmed) where live lines are not, so that it
 * cannot pass for something said now.
 */
function formatHistory(line: ServerLine<"HIST">, p: Painter): string {
  const when = new Date(line.time);
  const date = Number.isNaN(when.getTime())
    ? clean(line.time)
    : formatDateTime(when);
  const said = line.kind === "ME"
    ? `* ${p.who(line.alias)} ${clean(line.text)}`
    : `<${p.who(line.alias)}> ${clean(line.text)}`;
  return p.paint("dim", `${date} `) + said;
}

/** Whether a line is history: a `HIST` line or the `HISTEND` after them. */
export function isHistory(line: ServerLine | string): boolean {
  return typeof line !== "string" &&
    (line.type === "HIST" || line.type === "HISTEND");
}

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
  const shown = compose(line, options);
  // Every field was sanitised, which removes any isolate it held: the
  // isolates in `shown` are all our own.
  return options.isolate === false && shown !== null
    ? shown.replaceAll(FSI, "").replaceAll(PDI, "")
    : shown;
}

/** A line as {@linkcode formatForDisplay} shows it, isolates included. */
function compose(
  line: ServerLine | string,
  options: DisplayOptions,
): string | null {
  const p = painter(options.color, options.setAt);
  const { time, room = null } = options;
  if (typeof line === "string") {
    return timed(labelled(clean(line), room, p), time, p);
  }
  const format = FORMATS[line.type] as (
    line: ServerLine,
    p: Painter,
  ) => string | null;
  const body = labelled(format(line, p), room, p);
  return DATED.has(line.type) ? body : timed(body, time, p);
}

/** A body with the local time before it, dimmed, when there is a time. */
function timed(body: string | null, time: Date | undefined, p: Painter) {
  if (body === null || time === undefined) return body;
  return p.paint("dim", formatTime(time)) + " " + body;
}

/** A body with its room before it, in bold, when there is a room. */
function labelled(body: string | null, room: string | null, p: Painter) {
  if (body === null || room === null) return body;
  return p.paint("bold", clean(room)) + " " + body;
}
