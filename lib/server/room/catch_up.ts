/**
 * Catch-up: what a member that gave a position (`/resume`) missed in a
 * room, sent instead of history when it enters the room. The log reads
 * the room's events after its number (`RoomLog.since`, perhaps later);
 * meanwhile what the member is sent is held behind a slot
 * (`Member.reserve`), so that no line is both caught up and live and none
 * falls between: the read stops below the first event the member gets
 * live. Each event goes as its live line with its tags, the newest that
 * fit in `--resume-lines` and what its replay budget has left (half its
 * queue, shared by what it is sent in one go: `replay.ts`), then
 * `RESUMED LAST MISSING TEXT`: MISSING counts the room's lines not sent,
 * those the log no longer holds too, or is `?` when the log cannot say.
 * The log reads no more than its member's address group may still be
 * caught up with (`--resume-rate`, `catch_up_quota.ts`), spent as it
 * reads, and what it does not read is not sent (MISSING). A position of another epoch gets the
 * ordinary history, then `RESUMED - ?`. Nothing from before the room's
 * current incarnation is caught up (a room made again after it vanished
 * is a new room: `CatchUpRoom.since`).
 *
 * @module
 */

import { seqTags } from "../../resume.ts";
import { formatServerLine, type ServerLine } from "../../server_lines.ts";
import { formFor, type Member } from "./member.ts";
import type { ReplayBudget } from "./replay.ts";
import type { CatchUpQuota } from "./catch_up_quota.ts";
import {
  type LogRange,
  type RoomEvent,
  type RoomLog,
  roomsOnly,
} from "./room_log.ts";

const encoder = new TextEncoder();

/**
 * Where a member with `resume` starts in a room it gave no position for
 * (an account's read marker): the number, in the log's current epoch, or
 * undefined for none. Asked synchronously as it enters the room (load
 * what is needed at login).
 */
export interface StartingPoints<M extends Member = Member> {
  start(member: M, room: string): number | undefined;
  /**
   * Called right after the member's history or catch-up of `room` is
   * queued: what is sent then comes after it.
   */
  entered?(member: M, room: string): void;
}

/** The `RESUMED` text when the epoch differs: history was sent instead. */
export const NEW_EPOCH_TEXT =
  "The server's log numbers lines anew: this is its history; an unknown number of lines are missing";

/** Where a catch-up reads and how much it sends. */
export interface CatchUpOptions {
  readonly log: RoomLog;
  /** `--resume-lines`. */
  readonly resumeLines: number;
  /** Bytes sent at most, taken from it (shared by what is sent in one go). */
  readonly budget: ReplayBudget;
  /**
   * Lines each address group may still be read (`--resume-rate`): no more
   * than it has left are read, those read are spent. @default {no bound}
   */
  readonly quota?: CatchUpQuota;
}

/** The room a member catches up with. */
export interface CatchUpRoom {
  readonly name: string;
  /** The server's default room (events that name no room are its). */
  readonly defaultRoom: boolean;
  /** Its `#room ` prefix for the member (undefined: without `rooms`). */
  readonly prefix?: string;
  /** The first event number the member gets live. */
  readonly before: number;
  /**
   * The last number before the room's current incarnation
   * (`RoomState.since`): nothing up to it is caught up. @default {0}
   */
  readonly since?: number;
}

/** The `RESUMED` line, with its text. */
export function resumedLine(last: string, missing: string, count: number) {
  const said = `${count} line${count === 1 ? "" : "s"} you missed`;
  const lost = missing === "0"
    ? ""
    : missing === "?"
    ? "; an unknown number of lines are no longer kept"
    : `; ${missing} more are not sent (no longer kept or too many)`;
  return {
    type: "RESUMED",
    last,
    missing,
    text: `Resumed: ${said}${lost}`,
  } as const satisfies ServerLine<"RESUMED">;
}

/** An encoded line, with the room's prefix when it has one. */
function encoded(text: string, prefix?: string): Uint8Array {
  return encoder.encode(
    prefix === undefined ? `${text}\n` : `${prefix} ${text}\n`,
  );
}

/**
 * The lines of a catch-up: each event as its live line with tags (the
 * newest that fit in what `budget` has left, taken from it), then
 * `RESUMED`. `lineOf`: an event's line (made once when the log sized it).
 */
export function catchUpLines(
  member: Member,
  range: LogRange,
  after: number,
  room: CatchUpRoom,
  budget: ReplayBudget,
  lineOf = (event: RoomEvent) => taggedLine(member, event, room.prefix),
): Uint8Array[] {
  const events = range.events.filter((event) => shown(member, event));
  const lines: Uint8Array[] = [];
  let used = 0;
  // Newest first, then turned around: one pass, whatever the count.
  for (let i = events.length - 1; i >= 0; i--) {
    const tagged = lineOf(events[i]!);
    if (used + tagged.length > budget.left) break;
    used += tagged.length;
    lines.push(tagged);
  }
  lines.reverse();
  const sent = lines.length;
  const over = member.roomsOn ? range.over : range.over - range.overRoomsOnly;
  const left = events.length - sent + over + lostFor(member, range);
  const missing = range.gap ? "?" : String(left);
  const last = String(sent > 0 ? events.at(-1)!.seq : after);
  const resumed = resumedLine(last, missing, sent);
  lines.push(encoded(formatServerLine(resumed), room.prefix));
  budget.left -= used;
  return lines;
}

/** An event as a catch-up sends it: its live line with its tags. */
function taggedLine(
  member: Member,
  event: RoomEvent,
  prefix?: string,
): Uint8Array {
  const tags = encoder.encode(seqTags(event.seq, event.time));
  const line = encoded(formatServerLine(formFor(member, event.line)), prefix);
  const tagged = new Uint8Array(tags.length + line.length);
  tagged.set(tags);
  tagged.set(line, tags.length);
  return tagged;
}

/** Whether the member is shown an event of its room (as the fan-out decides). */
function shown(member: Member, event: RoomEvent): boolean {
  return member.roomsOn || !roomsOnly(event.line);
}

/** How many of the lines the log no longer holds the member would have seen. */
function lostFor(member: Member, range: LogRange): number {
  const { lines, roomsOnly } = range.lost;
  return member.roomsOn ? lines : lines - roomsOnly;
}

/**
 * What a catch-up may read of its address group's lines (`quota`), at
 * most `most`: `limit`. The log sizes each event it reads (`fits.size`):
 * each is counted `read` then, and `spend` spends those counted so far.
 */
function groupLines(
  quota: CatchUpQuota | undefined,
  host: string | undefined,
  most: number,
) {
  const limit = Math.min(most, quota?.left(host) ?? Infinity);
  let read = 0;
  let spent = 0;
  return {
    limit,
    read: () => void read++,
    spend: () => {
      quota?.spend(host, read - spent);
      spent = read;
    },
  };
}

/**
 * Catches `member` up with `room` from number `after`: reads the log,
 * then sends the lines (held behind a slot meanwhile). `dropSlow` drops a
 * member that could not take them.
 */
export function catchUp(
  member: Member,
  after: number,
  room: CatchUpRoom,
  options: CatchUpOptions,
  dropSlow: (member: Member) => void,
): void {
  const put = member.reserve?.() ?? ((lines: readonly Uint8Array[]) => {
    for (const line of lines) {
      if (!member.deliver(line)) return dropSlow(member);
    }
  });
  // A room made again is a new room: its past incarnations are not read.
  const from = Math.max(after, room.since ?? 0);
  // Each line is made once: the log sizes it, the catch-up sends it.
  const made = new Map<RoomEvent, Uint8Array>();
  const lineOf = (event: RoomEvent) => {
    let line = made.get(event);
    if (line === undefined) {
      made.set(event, line = taggedLine(member, event, room.prefix));
    }
    return line;
  };
  // What the group may not read is not read: the log reads `limit` at most.
  const lines = groupLines(options.quota, member.host, options.resumeLines);
  const reading = options.log.since(room.name, from, {
    before: room.before,
    limit: lines.limit,
    defaultRoom: room.defaultRoom,
    // What the budget cannot take is not read (it only ever shrinks).
    fits: {
      bytes: options.budget.left,
      size: (event) => {
        lines.read();
        return shown(member, event) ? lineOf(event).length : 0;
      },
    },
  });
  // A log that reads at once (SQLite, memory) has: spent before another asks.
  lines.spend();
  reading.then(
    (range) => {
      lines.spend();
      put(catchUpLines(member, range, from, room, options.budget, lineOf));
    },
    () => {
      lines.spend();
      put([
        encoded(
          formatServerLine(resumedLine(String(from), "?", 0)),
          room.prefix,
        ),
      ]);
    },
  );
}
