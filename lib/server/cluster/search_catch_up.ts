/**
 * A cluster server's search index catching up at start: a server that was
 * stopped (or killed) reads the stream on from the rooms' snapshot, so its
 * index, fed by what it reads, would lack what was said while it was down.
 * Its worker, opening a file of this epoch, records that it lacks what
 * followed its last line (`behind`, before any line of now is written);
 * this reads those lines back from the stream (`XRANGE`, `redisReadCount`
 * entries at a time, up to where reading live began), hands each batch to
 * the index ({@linkcode SearchCatchUp}), and waits for the worker to write
 * it and record how far it got before reading the next: one batch in
 * memory, nothing on members' path but parsing it, the writing in the
 * worker's background thread. A server stopped meanwhile goes on from
 * there at its next start. What the stream no longer holds (trimmed to
 * `--redis-stream-entries`) cannot be indexed: counted as missed, and
 * logged. A new epoch (Redis lost its data) opens the index empty, with
 * nothing to catch up; one that comes meanwhile stops it.
 *
 * @module
 */

import { describeError, type Logger } from "../../log.ts";
import type { RoomEvent } from "../room/room_log.ts";
import type { SearchCatchUp } from "../room/search.ts";
import type { RedisLink } from "./redis.ts";
import { seqOf, type StreamEntry, streamEvent } from "./stream_entry.ts";

/** Where and how {@linkcode catchUpIndex} reads. */
export interface CatchUpOptions {
  /** The first number the index lacks. */
  readonly from: number;
  /** The last one to take (reading the stream live began after it). */
  readonly through: number;
  /** Entries read at most at a time. */
  readonly count: number;
  /** The stream's entries from `from` through `through`, at most `count`. */
  readonly read: (
    from: number,
    through: number,
    count: number,
  ) => Promise<readonly StreamEntry[]>;
  /** Catching up is to stop (the log closed, or a new epoch). */
  readonly stopped: () => boolean;
}

/** What {@linkcode catchUpIndex} did. */
export interface CatchUpResult {
  /** Messages and actions handed to the index. */
  readonly indexed: number;
  /** Numbers the stream no longer held (trimmed before they were read). */
  readonly missed: number;
  /** It went through to the end (else it stopped: the next start goes on). */
  readonly done: boolean;
}

/**
 * Hands `index` what the stream holds of `from`..`through`, a batch at a
 * time, each written before the next is read (see the module).
 */
export async function catchUpIndex(
  index: Pick<SearchCatchUp, "add" | "caughtUp">,
  { from, through, count, read, stopped }: CatchUpOptions,
): Promise<CatchUpResult> {
  let indexed = 0;
  let missed = 0;
  let at = from;
  while (at <= through) {
    if (stopped()) return { indexed, missed, done: false };
    const entries = await read(at, through, count);
    if (stopped()) return { indexed, missed, done: false };
    const first = entries.length === 0 ? through + 1 : seqOf(entries[0]![0]);
    missed += Math.max(0, Math.min(first, through + 1) - at);
    const said = entries.map(streamEvent).filter(isSaid);
    index.add(said);
    indexed += said.length;
    at = entries.length === 0 ? through + 1 : seqOf(entries.at(-1)![0]) + 1;
    if (!await index.caughtUp(at > through ? null : at)) {
      return { indexed, missed, done: false };
    }
  }
  return { indexed, missed, done: true };
}

/** A message or action (what the index keeps). */
function isSaid(event: RoomEvent | null): event is RoomEvent {
  return event?.line.type === "MSG" || event?.line.type === "ME";
}

/** What {@linkcode startSearchCatchUp} reads with. */
export interface CatchUpStream {
  readonly link: RedisLink;
  /** Reading live began after it: the last number to catch up. */
  readonly through: number;
  readonly redisReadCount: number;
  /** The log closed: catching up stops. */
  readonly closed: () => boolean;
  readonly log: Logger;
}

/**
 * Catches `index` up from the stream once it opened and says what it
 * lacks, in the background; logs what it did (`search-caught-up`), what
 * the stream no longer held (`search-missed`).
 */
export function startSearchCatchUp(
  index: SearchCatchUp,
  { link, through, redisReadCount: count, closed, log }: CatchUpStream,
): void {
  const epoch = link.epoch;
  const stopped = () => closed() || link.epoch !== epoch;
  const read = async (from: number, upTo: number, count: number) =>
    await link.command([
      "XRANGE",
      link.keys.events,
      `${from}`,
      `${upTo}`,
      "COUNT",
      String(count),
    ]) as StreamEntry[];
  index.lacking().then(async (from) => {
    if (from === null || stopped()) return;
    if (from > through) return void index.caughtUp(null); // none missed
    const did = await catchUpIndex(index, {
      from,
      through,
      count,
      read,
      stopped,
    });
    const fields = { from, through, ...did };
    if (did.missed > 0) {
      log.warn("search-missed", {
        ...fields,
        hint: "the stream no longer held them: /search here cannot find them",
      });
    }
    if (did.done) log.info("search-caught-up", fields);
  }).catch((error) => {
    if (stopped()) return;
    log.warn("search-catch-up-failed", {
      error: describeError(error),
      hint: "the next start takes it up",
    });
  });
}
