/**
 * What feeds the search index: the room's messages and actions as the log
 * hands them on (on every server of a cluster, what it reads from the
 * stream), kept in a bounded list and posted to the index's worker in
 * batches a timer later, never in the step that hands them on, so that
 * committing and echoing a line costs no more than taking a reference. A
 * log whose numbering started again in a new epoch (a cluster's Redis that
 * lost its state) empties the index first: numbers of another epoch never
 * mix; a line handed on again in its epoch is taken once.
 * {@linkcode IndexSearch} is the `Search` of a server with history: a
 * search posts what waits first, and its worker answers once that is
 * written, so a line that was echoed is found; what it finds leaves with
 * its text made as a log's (`storedText`: what an older release stored is
 * capped as today's lines are, per line found, the index unchanged).
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { ProtocolError } from "../../protocol.ts";
import type { RoomEvent } from "../room/room_log.ts";
import { storedText } from "../../text.ts";
import type {
  FoundLine,
  RoomBounds,
  Search,
  SearchBacklog,
  SearchCatchUp,
} from "../room/search.ts";
import {
  type IndexedLine,
  lineBytes,
  SearchIndex,
  type SearchIndexOptions,
  type TrimBounds,
} from "./search_index.ts";
import { searchMatch } from "./search_query.ts";

/** A message or action as the index keeps it; null, another event. */
function indexedLine(event: RoomEvent): IndexedLine | null {
  const { line, seq, time, room = "" } = event;
  if (line.type !== "MSG" && line.type !== "ME") return null;
  return {
    seq,
    time,
    room,
    kind: line.type,
    alias: line.alias,
    text: line.text,
  };
}

/** Options of {@linkcode Indexer}. */
export interface IndexerOptions {
  readonly clock: Clock;
  /** The log's epoch now (the index records it when emptied). */
  readonly epoch: () => string;
  /** Longest a line waits before it is posted. @default {250} */
  readonly flushMs?: number;
  /** Lines posted (and written) together at most. @default {512} */
  readonly batchLines?: number;
  /**
   * Numbers of a gap (lines dropped) the index takes again from `chat.db`
   * in one step. @default {10_000}
   */
  readonly fillLines?: number;
  /**
   * Lines waiting or not written yet at most (an index that keeps
   * failing): later ones are dropped (see {@linkcode Indexer}).
   * @default {100_000}
   */
  readonly maxPending?: number;
  /**
   * Their size at most (`lineBytes`), whatever their number: later ones
   * are dropped likewise. @default {64 MiB}
   */
  readonly searchPendingBytes?: number;
}

/**
 * Feeds the index handed-on events in batches (see the module). Past its
 * bounds (lines, bytes) a line is dropped, and the index told the first
 * one dropped (`SearchIndex.behind`); on one server, once the index wrote
 * everything it was posted (the server no longer too busy for it) it takes
 * the dropped lines again from `chat.db` (`SearchIndex.fill`), or its next
 * worker does if the server stops first: the index lags, and loses
 * nothing.
 */
export class Indexer {
  #index: SearchIndex;
  #options: IndexerOptions;
  #pending: IndexedLine[] = [];
  #pendingBytes = 0;
  /** The first line dropped since the index was last told. */
  #behind: number | undefined;
  /** The lines dropped since the index last took them again. */
  #gap: { from: number; through: number } | undefined;
  /** A gap is being taken again (posted, not answered). */
  #filling = false;
  /** Times the index was emptied (a gap of before is of another epoch). */
  #clears = 0;
  #last = 0;
  /** The log's epoch when the last line was taken. */
  #epoch: string | undefined;
  #timer: number | undefined;
  #closed = false;
  /** Lines dropped because too many were waiting. */
  dropped = 0;
  /**
   * The first line dropped since the index opened, in this numbering: the
   * index lacks it until the next start (a cluster's, where no `chat.db`
   * fills it), whatever a catch-up says it holds.
   */
  firstDropped: number | null = null;

  /** Feeds `index`. */
  constructor(index: SearchIndex, options: IndexerOptions) {
    this.#index = index;
    this.#options = options;
  }

  /** Takes a handed-on event: a message or an action waits to be posted. */
  take(event: RoomEvent): void {
    const indexed = indexedLine(event);
    if (this.#closed || indexed === null) return;
    const epoch = this.#options.epoch();
    if (event.seq <= this.#last) {
      // Handed on again in its epoch (a cluster's server counted lost
      // reads on after the rooms' snapshot): taken already.
      if (epoch === this.#epoch) return;
      // The numbering started again: what was indexed is of another epoch.
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#behind = undefined;
      this.#gap = undefined;
      this.#clears++;
      this.firstDropped = null;
      this.#index.clear(this.#options.epoch());
    }
    this.#last = event.seq;
    this.#epoch = epoch;
    const bytes = lineBytes(indexed);
    if (this.#over(bytes)) {
      this.dropped++;
      this.firstDropped ??= event.seq;
      this.#behind ??= event.seq;
      this.#gap = { from: this.#gap?.from ?? event.seq, through: event.seq };
      return;
    }
    this.#pending.push(indexed);
    this.#pendingBytes += bytes;
    if (this.#pending.length === (this.#options.batchLines ?? 512)) {
      // A batch is full: posted once this step is done. (Posting a timer's
      // worth at once, 7,500 lines at 30,000 a second, held the event loop
      // 5 ms: each batch's structured clone on its own costs 0.2 ms.)
      this.#options.clock.clearTimeout(this.#timer);
      this.#timer = this.#options.clock.setTimeout(this.flush, 0);
    } else {
      this.#again(this.#options.flushMs ?? 250);
    }
  }

  /** Whether a line of `bytes` more is past the bounds. */
  #over(bytes: number): boolean {
    const { maxPending = 100_000, searchPendingBytes = 64 * 2 ** 20 } =
      this.#options;
    const index = this.#index;
    return this.#pending.length + index.unwritten >= maxPending ||
      this.#pendingBytes + index.unwrittenBytes + bytes > searchPendingBytes;
  }

  /** Lines taken and not posted yet. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Posts everything waiting now (a timer later, before a search). */
  flush = (): void => {
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    // It wrote all it was posted before: it keeps up again.
    const idle = this.#index.unwritten === 0;
    const size = this.#options.batchLines ?? 512;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    for (let at = 0; at < pending.length; at += size) {
      this.#index.add(pending.slice(at, at + size));
    }
    if (this.#behind !== undefined) this.#index.behind(this.#behind);
    this.#behind = undefined;
    if (!this.#closed) this.#fill(idle);
  };

  /**
   * Once the index wrote everything posted to it before (the server no
   * longer too busy for it), has it take the lines it dropped again from
   * `chat.db`, `fillLines` numbers at a time, after what was posted: the
   * next step once one is done (the worker runs them in the background),
   * again a timer later while it is busy or `chat.db` does not hold them.
   */
  #fill(idle: boolean): void {
    const gap = this.#gap;
    if (gap === undefined || this.#filling) return;
    if (!idle) return this.#again(this.#options.flushMs ?? 250);
    const through = Math.min(
      gap.through,
      gap.from + (this.#options.fillLines ?? 10_000) - 1,
    );
    const rest = through < gap.through ? through + 1 : null;
    this.#gap = rest === null
      ? undefined
      : { from: rest, through: gap.through };
    this.#filling = true;
    const clears = this.#clears;
    this.#index.fill(gap.from, through, rest).then((filled) => {
      this.#filling = false;
      if (this.#closed || clears !== this.#clears) return;
      if (filled === null) { // failed: the next start takes it up
        this.#gap = undefined;
        return;
      }
      if (!filled) {
        this.#gap = { from: gap.from, through: this.#gap?.through ?? through };
      }
      if (this.#gap !== undefined) {
        this.#again(filled ? 0 : this.#options.flushMs ?? 250);
      }
    });
  }

  /** A flush `ms` later (if none is due). */
  #again(ms: number): void {
    this.#timer ??= this.#options.clock.setTimeout(this.flush, ms);
  }

  /** Posts what waits, then takes nothing more (and fills no gap). */
  close(): void {
    this.#closed = true;
    this.flush();
  }
}

/** Options of {@linkcode IndexSearch}. */
export interface IndexSearchOptions
  extends IndexerOptions, Omit<SearchIndexOptions, "clock" | "epoch"> {
  /** Finds waiting for the worker at most. @default {32} */
  readonly maxFinds?: number;
}

/**
 * Search over the index in its worker, fed by an {@linkcode Indexer}: what
 * `/search` finds on a server that keeps history. A search posts what
 * waits first, so a line that was echoed is found.
 */
export class IndexSearch implements Search {
  /** The index itself (retention deletes from it). */
  readonly index: SearchIndex;
  /** What feeds it. */
  readonly indexer: Indexer;
  #maxFinds: number;
  #onError: ((error: unknown) => void) | undefined;

  /** The index and its worker, fed as `options` say. */
  constructor(options: IndexSearchOptions) {
    this.index = new SearchIndex(options);
    this.indexer = new Indexer(this.index, options);
    this.#maxFinds = options.maxFinds ?? 32;
    this.#onError = options.onError;
  }

  async find(
    words: readonly string[],
    rooms: readonly string[],
    limit: number,
    since?: RoomBounds,
  ): Promise<readonly FoundLine[]> {
    const match = searchMatch(words, rooms);
    if (match === null || limit <= 0) return [];
    if (this.index.finding >= this.#maxFinds) {
      throw new ProtocolError(
        "search-limit",
        "Too many searches at once: try again in a moment",
      );
    }
    // What was echoed is found: the lines still waiting go first.
    this.indexer.flush();
    try {
      const found = await this.index.find(match, limit, since);
      // Text leaves the index as it leaves the log: an older release's
      // stored uncapped (its worker indexed it from chat.db or the stream).
      return found.map((line) => ({ ...line, text: storedText(line.text) }));
    } catch (error) {
      this.#onError?.(error);
      throw new ProtocolError(
        "search-limit",
        "Search failed: try again in a moment",
      );
    }
  }

  heard(event: RoomEvent): void {
    this.indexer.take(event);
  }

  /** Hands the index what it lacks (a cluster's: `search_catch_up.ts`). */
  readonly catchUp: SearchCatchUp = {
    lacking: () => this.index.opened.then(({ behind }) => behind),
    behind: (seq) => this.index.behind(seq),
    add: (events) =>
      this.index.add(events.map(indexedLine).filter((line) => line !== null)),
    // Done: it still lacks what it dropped live meanwhile (the next start
    // takes that up), not nothing.
    caughtUp: (rest) => this.index.caughtUp(rest ?? this.indexer.firstDropped),
  };

  backlog(): SearchBacklog {
    const { indexer, index } = this;
    return {
      waiting: indexer.pending + index.unwritten,
      dropped: indexer.dropped,
    };
  }

  /** Deletes from the index the lines retention deleted (see the index's). */
  delete(seqs: readonly number[], through: number): void {
    this.indexer.flush();
    this.index.delete(seqs, through);
  }

  /** Keeps the index to `bounds` (a cluster's). */
  trim(bounds: TrimBounds): void {
    this.index.trim(bounds);
  }

  async close(): Promise<void> {
    this.indexer.close();
    await this.index.close();
  }
}
