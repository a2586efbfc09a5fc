/**
 * What feeds the search index: the room's messages and actions as the log
 * hands them on (on every server of a cluster, what it reads from the
 * stream), kept in a bounded list and posted to the index's worker in
 * batches a timer later, never in the step that hands them on, so that
 * committing and echoing a line costs no more than taking a reference. A
 * log whose numbering started again (a cluster's Redis that lost its
 * state) empties the index first: numbers of another epoch never mix.
 * {@linkcode IndexSearch} is the `Search` of a server with history: a
 * search posts what waits first, and its worker answers once that is
 * written, so a line that was echoed is found.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { ProtocolError } from "../../protocol.ts";
import type { RoomEvent } from "../room/room_log.ts";
import type { FoundLine, Search } from "../room/search.ts";
import {
  type IndexedLine,
  SearchIndex,
  type SearchIndexOptions,
  type TrimBounds,
} from "./search_index.ts";
import { searchMatch } from "./search_query.ts";

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
   * Lines waiting or not written yet at most (an index that keeps
   * failing): later ones are not indexed. @default {100_000}
   */
  readonly maxPending?: number;
}

/** Feeds the index handed-on events in batches (see the module). */
export class Indexer {
  #index: SearchIndex;
  #options: IndexerOptions;
  #pending: IndexedLine[] = [];
  #last = 0;
  #timer: number | undefined;
  #closed = false;
  /** Lines dropped because too many were waiting. */
  dropped = 0;

  /** Feeds `index`. */
  constructor(index: SearchIndex, options: IndexerOptions) {
    this.#index = index;
    this.#options = options;
  }

  /** Takes a handed-on event: a message or an action waits to be posted. */
  take(event: RoomEvent): void {
    const { line } = event;
    if (this.#closed || (line.type !== "MSG" && line.type !== "ME")) return;
    if (event.seq <= this.#last) {
      // The numbering started again: what was indexed is of another epoch.
      this.#pending = [];
      this.#index.clear(this.#options.epoch());
    }
    this.#last = event.seq;
    const max = this.#options.maxPending ?? 100_000;
    if (this.#pending.length + this.#index.unwritten >= max) {
      this.dropped++;
      return;
    }
    this.#pending.push({
      seq: event.seq,
      time: event.time,
      room: event.room ?? "",
      kind: line.type,
      alias: line.alias,
      text: line.text,
    });
    this.#timer ??= this.#options.clock.setTimeout(
      this.flush,
      this.#options.flushMs ?? 250,
    );
  }

  /** Lines taken and not posted yet. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Posts everything waiting now (a timer later, before a search). */
  flush = (): void => {
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const size = this.#options.batchLines ?? 512;
    const pending = this.#pending;
    this.#pending = [];
    for (let at = 0; at < pending.length; at += size) {
      this.#index.add(pending.slice(at, at + size));
    }
  };

  /** Posts what waits, then takes nothing more. */
  close(): void {
    this.flush();
    this.#closed = true;
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
      return await this.index.find(match, limit);
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

  /** Deletes from the index the lines retention deleted. */
  delete(seqs: readonly number[]): void {
    this.indexer.flush();
    this.index.delete(seqs);
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
