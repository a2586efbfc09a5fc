/**
 * tlschat history: prints the room events stored in the server's data
 * directory, oldest first, for archiving or search.
 *
 * ```sh
 * deno task history export                          # JSON Lines, everything kept
 * deno task history export --since 2026-11-01       # from a date (UTC) or time
 * deno task history export --format text > room.log # as the terminal shows it
 * ```
 *
 * The text format isolates what someone chose (FSI…PDI, so that
 * right-to-left text cannot reorder the line) only when written to a
 * terminal; to a file or a pipe each line holds the text as it was sent.
 *
 * Reads the database and the server's journal (the newest lines, not yet
 * in the database) read-only: permission to read the data directory is
 * enough, and it works while the server runs or after it was killed. Private messages
 * are never stored, so never exported. Exit codes: 0 done, 1 failed, 2 bad
 * usage.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { formatForDisplay } from "./lib/client/display.ts";
import {
  type FlagTable,
  formatFlags,
  missingPermission,
  oneOf,
  parseFlags,
} from "./lib/flags.ts";
import { writeAll } from "./lib/io.ts";
import type { RoomEvent } from "./lib/server/room/room_log.ts";
import { eachEvent } from "./lib/server/storage/events_table.ts";
import { journalEvents } from "./lib/server/storage/journal.ts";
import { openStore } from "./lib/server/storage/store.ts";

const FLAGS = {
  "data-dir": {
    type: "string",
    value: "DIR",
    default: "data",
    help: "The server's data directory",
  },
  since: {
    type: "string",
    value: "DATE",
    help:
      "Only events from DATE on: 2026-11-01 (UTC), 2026-11-01T12:00:00Z, or a time without offset (local)",
  },
  format: {
    type: "string",
    value: "FORMAT",
    default: "jsonl",
    help: "jsonl (one JSON object per line) or text",
  },
  help: { type: "boolean", help: "Show this help" },
} as const satisfies FlagTable;

const USAGE = `Usage: history.ts export [options]

Prints the room history a tlschat server stored, oldest first: messages,
actions, joins, leaves, renames, topics and moderation (never private
messages).

Options:
${formatFlags(FLAGS)}`;

/** Events read, and written to stdout, at a time. */
const PAGE_ROWS = 500;

/** Runs the command; resolves to the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let values, positionals, format, sinceMs;
  try {
    ({ values, positionals } = parseFlags(FLAGS, args));
    format = oneOf("format", values.format, ["jsonl", "text"] as const);
    sinceMs = values.since === undefined ? 0 : parseDate(values.since);
  } catch (e) {
    console.error(`${(e as Error).message}\nRun with --help for usage.`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "export") {
    console.error('Expected the command "export"; run with --help for usage.');
    return 2;
  }
  try {
    // The lines a running (or killed) server has not moved to the
    // database yet; read first (see journalEvents).
    const journal = journalEvents(values["data-dir"]);
    using store = openStore(values["data-dir"], { readOnly: true });
    const encoder = new TextEncoder();
    const isolate = Deno.stdout.isTerminal();
    const show = (event: RoomEvent) =>
      format === "jsonl" ? toJson(event) : toText(event, { isolate });
    // A page at a time, each read short: a slow reader of the output never
    // holds a read transaction open while the server writes.
    let afterSeq = 0;
    while (true) {
      const page = [
        ...eachEvent(store.db, { afterSeq, sinceMs, limit: PAGE_ROWS }),
      ];
      if (page.length === 0) break;
      let chunk = "";
      for (const event of page) {
        chunk += show(event) + "\n";
      }
      await writeAll(Deno.stdout, encoder.encode(chunk));
      afterSeq = page[page.length - 1]!.seq;
    }
    let chunk = "";
    for (const event of journal) {
      if (event.seq <= afterSeq || event.time < sinceMs) continue;
      chunk += show(event) + "\n";
    }
    await writeAll(Deno.stdout, encoder.encode(chunk));
    return 0;
  } catch (e) {
    const flag = permissionHint(e, values["data-dir"]);
    console.error(
      flag === null
        ? (e as Error).message
        : `${(e as Error).message}. Run with ${flag}`,
    );
    return 1;
  }
}

/**
 * The flag to add for a refused permission: for a file of the data
 * directory, the directory (its other files would be refused next).
 */
function permissionHint(e: unknown, dataDir: string): string | null {
  const dir = `--allow-read=${dataDir}`;
  const refused = missingPermission(e);
  return refused?.startsWith(`${dir}/`) ? dir : refused;
}

/** Milliseconds since the epoch of a date (UTC) or date and time. */
function parseDate(text: string): number {
  const ms = /^\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (Number.isNaN(ms)) {
    throw new TypeError(
      `Cannot use --since "${text}": give a date such as 2026-11-01 or 2026-11-01T12:00:00Z`,
    );
  }
  return ms;
}

/**
 * One event as a JSON object: its number, time, room (`room`, or `rooms`
 * for a rename or a leave of the server; neither: the default room), type
 * and fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJson } from "./history.ts";
 *
 * const line = { type: "MSG", alias: "bob", text: "hi" } as const;
 * assert.equal(
 *   toJson({ seq: 7, time: 0, line, origin: "", room: "#ops" }),
 *   '{"seq":7,"time":"1970-01-01T00:00:00.000Z","room":"#ops","type":"MSG","alias":"bob","text":"hi"}',
 * );
 * ```
 */
export function toJson(event: RoomEvent): string {
  return JSON.stringify({
    seq: event.seq,
    time: new Date(event.time).toISOString(),
    room: event.room,
    rooms: event.rooms,
    ...event.line,
  });
}

/** Options of {@linkcode toText}. */
export interface TextOptions {
  /**
   * Isolate what someone chose (FSI…PDI), as the terminal client does:
   * for a terminal, not a file.
   * @default {true}
   */
  readonly isolate?: boolean;
}

/**
 * One event as the terminal client shows it in more than one room (a room
 * other than the default one before the line), after its time and number
 * (`seq=64`: a bare `#64` would read as a room, `#64` being a valid name).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toText } from "./history.ts";
 *
 * const line = { type: "MSG", alias: "bob", text: "hi" } as const;
 * assert.equal(
 *   toText({ seq: 22, time: 0, line, origin: "", room: "#ops" }),
 *   "1970-01-01T00:00:00.000Z seq=22 #ops <bob> hi",
 * );
 * ```
 */
export function toText(event: RoomEvent, options: TextOptions = {}): string {
  const { isolate = true } = options;
  const shown = formatForDisplay(event.line, {
    color: false,
    room: event.room,
    isolate,
  }) ?? "";
  return `${new Date(event.time).toISOString()} seq=${event.seq} ${shown}`;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
