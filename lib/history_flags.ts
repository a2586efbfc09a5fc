/**
 * The server's history flags (what the room keeps, for how long, what a
 * resuming client is caught up with, and search): a table of their own,
 * spread into `SERVER_FLAGS` (`lib/server/server_flags.ts`) at their
 * place in `--help`. Here, at the top of `lib/`, because the server's
 * flag table may import only from here.
 *
 * @module
 */

import type { FlagTable } from "./flags.ts";

/** The flags of the room's history, in `--help`'s order. */
export const HISTORY_FLAGS = {
  history: {
    type: "string",
    value: "N",
    default: "50",
    help: "Messages shown on joining (0: no history, nothing stored)",
  },
  durability: {
    type: "string",
    value: "MODE",
    default: "normal",
    help:
      "History store: normal (database; survives a crash), full (also a power cut; slower), memory (lost at restart)",
  },
  "history-keep-days": {
    type: "string",
    value: "N",
    default: "30",
    help: "Days stored room events are kept (0: no age limit)",
  },
  "history-keep-rows": {
    type: "string",
    value: "N",
    default: "100000",
    help:
      "Newest messages kept in the database, and as many other events (0: no limit)",
  },
  "history-tombstones": {
    type: "string",
    value: "N",
    default: "100000",
    help:
      "Deleted events remembered by room, so a resume says how many lines it missed (0: none)",
  },
  "resume-lines": {
    type: "string",
    value: "N",
    default: "10000",
    help:
      "Most lines a resuming client is sent of what it missed in a room (and at most half of --queue-bytes)",
  },
  "resume-rate": {
    type: "string",
    value: "N",
    default: "12000",
    help:
      "Lines of catch-up one address (an IPv6 /64) may be sent a minute, a minute's worth at once; the rest are MISSING (0: no limit)",
  },
  "history-flush": {
    type: "string",
    value: "S",
    default: "0.2",
    help:
      "Longest a message waits in the journal before the database has it (what the history tool sees)",
  },
  "search-results": {
    type: "string",
    value: "N",
    default: "50",
    help: "Lines one /search answers at most, newest first",
  },
  "search-rate": {
    type: "string",
    value: "N",
    default: "10",
    help: "Searches one member may make a minute",
  },
} as const satisfies FlagTable;
