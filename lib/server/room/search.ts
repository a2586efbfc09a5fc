/**
 * `/search WORDS`: the {@linkcode Search} seam (what the room's messages
 * are searched with: a full-text index fed from the log, or none, whose
 * answer is `ERR no-history`), and the answer to one member: the rooms it
 * is in now (what was said there before it joined included, but nothing
 * from before the room's current incarnation: a room made again after it
 * vanished is a new room), newest first,
 * as `FOUND` lines and a `FOUNDEND`, within its searches per minute.
 *
 * @module
 */

import { ProtocolError } from "../../protocol.ts";
import { formatServerLine, type ServerLine } from "../../server_lines.ts";
import type { TokenBucket } from "../../flood.ts";
import type { RoomEvent } from "./room_log.ts";

const encoder = new TextEncoder();

/** A message or action found (its room: `""` for the default room). */
export interface FoundLine {
  readonly seq: number;
  readonly time: number;
  readonly room: string;
  readonly kind: "MSG" | "ME";
  readonly alias: string;
  readonly text: string;
}

/**
 * How an index that lacks lines is handed them again (a cluster's, opened
 * again after its server was down: `search_catch_up.ts` reads them back
 * from the stream).
 */
export interface SearchCatchUp {
  /** Once the index opened, the first number it lacks; null: none. */
  lacking(): Promise<number | null>;
  /**
   * Records at once that it lacks every line from `seq` on (kept lower),
   * until told it caught up: lines the log skipped, to take back.
   */
  behind(seq: number): void;
  /** Takes events read back (messages and actions are indexed). */
  add(events: readonly RoomEvent[]): void;
  /**
   * Once what it took is written, records that it holds every line before
   * `rest` (null: every line it lacked); whether it could.
   */
  caughtUp(rest: number | null): Promise<boolean>;
}

/** What the room's messages are searched with. */
export interface Search {
  /** How it is handed lines it lacks; none: it lacks none. */
  readonly catchUp?: SearchCatchUp;
  /**
   * The newest `limit` messages and actions holding every one of `words`,
   * in `rooms` (as events name them: `""` for the default room), newest
   * first, once every line handed on before is searchable; in a room
   * `since` names, only those numbered above its bound. Rejects with
   * `ERR no-history` when the server keeps none.
   */
  find(
    words: readonly string[],
    rooms: readonly string[],
    limit: number,
    since?: RoomBounds,
  ): Promise<readonly FoundLine[]>;
  /** Hears each event the log hands on (an index takes what was said). */
  heard(event: RoomEvent): void;
  /**
   * Lines heard and not yet searchable (the index's worker lags, in the
   * background, while the server is busy), and lines it dropped since
   * start (too many waiting: on one server, taken again from `chat.db`
   * once the index caught up).
   */
  backlog(): SearchBacklog;
  /** Indexes what waits, and stops. */
  close(): Promise<void>;
}

/**
 * Each room's bound, by stored name: the number of the last event before
 * its current incarnation (`RoomState.since`; a room not named: 0).
 */
export type RoomBounds = ReadonlyMap<string, number>;

/** What {@linkcode Search.backlog} says. */
export interface SearchBacklog {
  readonly waiting: number;
  readonly dropped: number;
}

/** No search: the server keeps no history (`--history 0`, in memory). */
export const NO_SEARCH: Search = {
  find() {
    return Promise.reject(
      new ProtocolError("no-history", "This server keeps no history to search"),
    );
  },
  heard() {},
  backlog: () => ({ waiting: 0, dropped: 0 }),
  close: () => Promise.resolve(),
};

/** What {@linkcode searchLines} needs of the member and the server. */
export interface SearchAsk {
  readonly search: Search;
  /** The member's searches (`--search-rate` a minute). */
  readonly bucket: TokenBucket;
  /** The rooms it is in, by name, and the default room's name. */
  readonly rooms: readonly string[];
  readonly defaultRoom: string;
  /**
   * The last number before a room's current incarnation, by its name
   * (`RoomState.since`): what was said in it before is not found.
   */
  readonly since: (room: string) => number;
  /** `--search-results`. */
  readonly limit: number;
  /**
   * Most bytes of `FOUND` lines one answer sends (half of `--queue-bytes`,
   * as a history replay): the newest that fit, so that a search never
   * makes its member too slow.
   */
  readonly bytes: number;
}

/**
 * The answer to `/search WORDS`: `FOUND #room SEQ TIME KIND ALIAS TEXT`
 * lines, newest first, then `FOUNDEND COUNT TEXT`. Rejects with
 * `ERR search-limit` past the member's searches a minute (before it
 * waits for anything), and rejects with what the search rejects with.
 */
export async function searchLines(
  ask: SearchAsk,
  words: readonly string[],
): Promise<ServerLine[]> {
  const wait = ask.bucket.take();
  if (wait > 0) {
    throw new ProtocolError(
      "search-limit",
      `Too many searches: try again in ${Math.ceil(wait / 1000)} s`,
    );
  }
  const stored = ask.rooms.map((name) => name === ask.defaultRoom ? "" : name);
  const since = new Map<string, number>();
  for (const [i, name] of ask.rooms.entries()) {
    const bound = ask.since(name);
    if (bound > 0) since.set(stored[i]!, bound);
  }
  const found = await ask.search.find(words, stored, ask.limit, since);
  const lines: ServerLine[] = [];
  let bytes = 0;
  for (const line of found) {
    const answer: ServerLine<"FOUND"> = {
      type: "FOUND",
      room: line.room === "" ? ask.defaultRoom : line.room,
      seq: String(line.seq),
      time: new Date(line.time).toISOString(),
      kind: line.kind,
      alias: line.alias,
      text: line.text,
    };
    bytes += encoder.encode(formatServerLine(answer)).length + 1;
    if (bytes > ask.bytes) break;
    lines.push(answer);
  }
  const count = lines.length;
  const more = count < found.length
    ? ` (the newest ${count}: those that fit at once)`
    : count === ask.limit
    ? ` (the newest ${count})`
    : "";
  lines.push({
    type: "FOUNDEND",
    count: String(count),
    text: `End of search: ${count} line${count === 1 ? "" : "s"}${more}`,
  });
  return lines;
}
