/**
 * What feeds the search index: the room's messages and actions as the log
 * hands them on (on every server of a cluster, what it reads from the
 * stream), kept in a bounded list and indexed in batches a timer later,
 * never in the step that hands them on, so that committing and echoing a
 * line costs no more than taking a reference. A log whose numbering
 * started again (a cluster's Redis that lost its state) empties the index
 * first: numbers of another epoch never mix.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { clearImmediate, setImmediate } from "node:timers";
import type { Clock } from "../../clock.ts";
import type { RoomEvent } from "../room/room_log.ts";
import type { FoundLine, Search } from "../room/search.ts";
import { type IndexedLine, SearchIndex } from "./search_index.ts";

/** Options of {@linkcode Indexer}. */
export interface IndexerOptions {
  readonly clock: Clock;
  /** Longest a line waits before it is indexed. @default {250} */
  readonly flushMs?: number;
  /** Lines indexed in one transaction (one turn) at most. @default {512} */
  readonly batchLines?: number;
  /**
   * Lines waiting at most (an index that keeps failing): later ones are
   * not indexed. @default {100_000}
   */
  readonly maxPending?: number;
  /** Told when indexing failed (the lines are tried again later). */
  readonly onError?: (error: unknown) => void;
}

/** Indexes handed-on events in batches (see the module). */
export class Indexer {
  #index: SearchIndex;
  #options: IndexerOptions;
  #pending: IndexedLine[] = [];
  #last: number;
  #clear = false;
  #timer: number | undefined;
  #step: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  /** Lines dropped because too many were waiting. */
  dropped = 0;

  /** Feeds `index`, which holds lines up to its last number already. */
  constructor(index: SearchIndex, options: IndexerOptions) {
    this.#index = index;
    this.#options = options;
    this.#last = index.lastSeq();
  }

  /** Takes a handed-on event: a message or an action waits to be indexed. */
  take(event: RoomEvent): void {
    const { line } = event;
    if (this.#closed || (line.type !== "MSG" && line.type !== "ME")) return;
    if (event.seq <= this.#last) {
      // The numbering started again: what was indexed is of another epoch.
      this.#pending = [];
      this.#clear = true;
    }
    this.#last = event.seq;
    if (this.#pending.length >= (this.#options.maxPending ?? 100_000)) {
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
      this.#flushSome,
      this.#options.flushMs ?? 250,
    );
  }

  /** Lines taken and not indexed yet. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Indexes everything waiting now (before a search, at shutdown). */
  flush(): void {
    while (this.#pending.length > 0 || this.#clear) {
      if (!this.#batch()) return;
    }
  }

  /** Indexes what waits, then takes nothing more. */
  close(): void {
    this.#stopTimers();
    try {
      this.flush();
    } catch (error) {
      this.#options.onError?.(error);
    }
    this.#closed = true;
  }

  #flushSome = (): void => {
    this.#stopTimers();
    if (this.#closed) return;
    const ok = this.#batch();
    if (this.#pending.length === 0) return;
    // More waits: the next batch after a turn of the room (or, after a
    // failure, after the usual wait).
    if (ok) this.#step = setImmediate(this.#flushSome);
    else {
      this.#timer = this.#options.clock.setTimeout(
        this.#flushSome,
        this.#options.flushMs ?? 250,
      );
    }
  };

  /** Indexes one batch; false when it failed (it stays waiting). */
  #batch(): boolean {
    const size = this.#options.batchLines ?? 512;
    const batch = this.#pending.slice(0, size);
    try {
      if (this.#clear) this.#index.clear();
      this.#clear = false;
      this.#index.add(batch);
    } catch (error) {
      this.#options.onError?.(error);
      return false;
    }
    this.#pending.splice(0, batch.length);
    return true;
  }

  #stopTimers(): void {
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#step);
    this.#step = undefined;
  }
}

/**
 * Search over the index in the data directory's database, fed by an
 * {@linkcode Indexer}: what `/search` finds on a server that keeps history.
 * A search indexes what waits first, so a line that was echoed is found.
 */
export class IndexSearch implements Search {
  /** The index itself (retention deletes from it). */
  readonly index: SearchIndex;
  /** What feeds it. */
  readonly indexer: Indexer;

  /** The index in `db`, fed as `options` say. */
  constructor(db: DatabaseSync, options: IndexerOptions) {
    this.index = new SearchIndex(db);
    this.indexer = new Indexer(this.index, options);
  }

  find(
    words: readonly string[],
    rooms: readonly string[],
    limit: number,
  ): readonly FoundLine[] {
    // What was echoed is found: the lines still waiting go in first.
    this.indexer.flush();
    return this.index.find(words, rooms, limit);
  }

  heard(event: RoomEvent): void {
    this.indexer.take(event);
  }

  /**
   * Takes, before any event is handed on, what the log stored after the
   * index's last line (a server killed before its index was written, a
   * data directory from before search): at most the newest `limit`.
   */
  catchUp(
    stored: (afterSeq: number) => Iterable<RoomEvent>,
    lastStored: number,
    limit = 100_000,
  ): void {
    const after = Math.max(this.index.lastSeq(), lastStored - limit);
    for (const event of stored(after)) this.indexer.take(event);
  }

  close(): void {
    this.indexer.close();
  }
}
