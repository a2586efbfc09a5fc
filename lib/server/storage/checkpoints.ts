/**
 * Checkpoints of the server's write-ahead log, off the event loop. SQLite
 * copies the pages committed to the log back into the database file every
 * 1,000 pages, inside the commit that reached them, and syncs both files to
 * the disk while it does: the event loop stood still for that (a few
 * milliseconds, every few hundred commits under load). Here a worker with
 * its own connection does it instead, a few times a second, without ever
 * waiting for the server's writes (`PASSIVE`); the server's thread only
 * appends to the log. Should the worker fall behind (writes that never
 * pause: the log starts over only once every page in it was copied) or
 * fail, the server's own connection still checkpoints once the log holds
 * {@linkcode WAL_LIMIT_PAGES} pages.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/**
 * Pages the log may hold before the server's thread checkpoints itself
 * (SQLite's `wal_autocheckpoint`; its default is 1,000).
 */
export const WAL_LIMIT_PAGES = 10_000;

/** Options of {@linkcode Checkpoints}. */
export interface CheckpointsOptions {
  /** How often the worker checkpoints. @default {100} */
  readonly everyMs?: number;
  /**
   * Told, after each checkpoint that copied pages, how many pages of the
   * log have been copied since it last started over (tests).
   */
  readonly onCheckpoint?: (pages: number) => void;
}

// The worker's whole program. A blob, not a file: `deno bundle` and
// `deno compile` take the server as one module graph.
const WORKER = `
import { DatabaseSync } from "node:sqlite";
self.onmessage = ({ data: { path, everyMs, report } }) => {
  const db = new DatabaseSync(path);
  const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
  let last = 0;
  setInterval(() => {
    try {
      const { checkpointed } = checkpoint.get();
      if (report && checkpointed !== last) self.postMessage(checkpointed);
      last = checkpointed;
    } catch {
      // Busy (the users tool checkpoints too) or failing: tried again
      // next time, and the server's own checkpoints bound the log.
    }
  }, everyMs);
};
`;

/** The worker that checkpoints the log of `db` (a file). */
export class Checkpoints implements Disposable {
  #worker: Worker;
  #url: string;

  /** Starts checkpointing the log of `db`, whose file is at `path`. */
  constructor(
    db: DatabaseSync,
    path: string,
    options: CheckpointsOptions = {},
  ) {
    db.exec(`PRAGMA wal_autocheckpoint = ${WAL_LIMIT_PAGES}`);
    // A log that grew under load is cut back when it starts over.
    db.exec(`PRAGMA journal_size_limit = ${4 * 1024 * 1024}`);
    this.#url = URL.createObjectURL(
      new Blob([WORKER], { type: "text/javascript" }),
    );
    this.#worker = new Worker(this.#url, { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<number>) =>
      options.onCheckpoint?.(event.data);
    this.#worker.postMessage({
      path,
      everyMs: options.everyMs ?? 100,
      report: options.onCheckpoint !== undefined,
    });
  }

  /** Stops the worker (a checkpoint under way is abandoned: harmless). */
  close(): void {
    this.#worker.terminate();
    URL.revokeObjectURL(this.#url);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
