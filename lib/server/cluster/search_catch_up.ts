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
 * there at its next start. A server counted lost reads on after the
 * rooms' snapshot, skipping what it had not read: recorded in the index
 * at once, that range is taken back the same way, after any before it. What the stream no longer holds (trimmed to
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

/** What a {@linkcode StreamCatchUp} reads with. */
export interface CatchUpStream {
  readonly link: RedisLink;
  readonly redisReadCount: number;
  /** The log closed: catching up stops. */
  readonly closed: () => boolean;
  readonly log: Logger;
}

/** A range of numbers the index lacks, of one epoch, and why. */
interface Lacking {
  readonly from: number;
  readonly through: number;
  readonly epoch: string;
  /** `start`: down at start; `lost`: skipped, this server counted lost. */
  readonly after: "start" | "lost";
}

/**
 * The index's catch-ups from the stream, one at a time, in the
 * background: what it lacks at start ({@linkcode start}), and what the
 * reader skipped when this server, counted lost, went on after the rooms'
 * snapshot ({@linkcode skipped}). While one runs, the progress it records
 * never passes the first number of one waiting (a kill keeps both for the
 * next start); one that fails stops the rest (what they lack stays
 * recorded). Logs what each did (`search-caught-up`), what the stream no
 * longer held (`search-missed`).
 */
export class StreamCatchUp {
  #index: SearchCatchUp;
  #stream: CatchUpStream;
  #waiting: Lacking[] = [];
  #running = false;

  /** Catch-ups of `index` from `stream`. */
  constructor(index: SearchCatchUp, stream: CatchUpStream) {
    this.#index = index;
    this.#stream = stream;
  }

  /**
   * Once the index opened and said what it lacks, takes that back up to
   * `through` (reading live began after it).
   */
  start(through: number): void {
    const epoch = this.#stream.link.epoch;
    this.#index.lacking().then((from) => {
      if (from !== null) this.#add({ from, through, epoch, after: "start" });
    }, (error) => this.#failed(error, epoch));
  }

  /**
   * The reader went on after `through`, from `from` (this server was
   * counted lost): recorded in the index at once, then taken back.
   */
  skipped(from: number, through: number): void {
    if (from > through) return;
    this.#index.behind(from);
    const epoch = this.#stream.link.epoch;
    this.#add({ from, through, epoch, after: "lost" });
  }

  #add(lacking: Lacking): void {
    this.#waiting.push(lacking);
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (this.#waiting.length > 0) {
      const lacking = this.#waiting.shift()!;
      try {
        await this.#one(lacking);
      } catch (error) {
        this.#waiting = [];
        this.#failed(error, lacking.epoch);
      }
    }
    this.#running = false;
  }

  /** Takes back one range (see {@linkcode catchUpIndex}). */
  async #one({ from, through, epoch, after }: Lacking): Promise<void> {
    const { link, redisReadCount: count, closed, log } = this.#stream;
    const stopped = () => closed() || link.epoch !== epoch;
    if (stopped()) return;
    // Its progress stops short of what waits (of this epoch).
    const caughtUp = (rest: number | null) => {
      const next = this.#waiting.filter((w) => w.epoch === epoch)
        .map((w) => w.from);
      const lowest = Math.min(rest ?? Infinity, ...next);
      return this.#index.caughtUp(lowest === Infinity ? null : lowest);
    };
    if (from > through) return void await caughtUp(null); // none missed
    const read = async (from: number, upTo: number, count: number) =>
      await link.command([
        "XRANGE",
        link.keys.events,
        `${from}`,
        `${upTo}`,
        "COUNT",
        String(count),
      ]) as StreamEntry[];
    const index = {
      add: (e: readonly RoomEvent[]) => this.#index.add(e),
      caughtUp,
    };
    const did = await catchUpIndex(index, {
      from,
      through,
      count,
      read,
      stopped,
    });
    const fields = { from, through, after, ...did };
    if (did.missed > 0) {
      log.warn("search-missed", {
        ...fields,
        hint: "the stream no longer held them: /search here cannot find them",
      });
    }
    if (did.done) log.info("search-caught-up", fields);
  }

  #failed(error: unknown, epoch: string): void {
    const { link, closed, log } = this.#stream;
    if (closed() || link.epoch !== epoch) return;
    log.warn("search-catch-up-failed", {
      error: describeError(error),
      hint: "the next start takes it up",
    });
  }
}
