/**
 * The full-text index of what was said in the rooms: a table of its own in
 * the data directory's database (SQLite FTS5, `unicode61` with diacritics
 * folded), one row per message or action, numbered as the log numbers it.
 * Private messages never reach it (they are not room events). It answers
 * `/search` newest first, at most a given number of lines, in the rooms
 * asked only (each room an indexed token: a rare room costs no scan of a
 * busy one); it deletes what retention deletes from the log, and bounds
 * itself as retention would when the log is elsewhere (a cluster's stream).
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { transaction } from "./events_table.ts";
import { scopeToken, searchMatch } from "./search_query.ts";

/** The index's table (a migration of `store.ts`). */
export const SEARCH_TABLE = `CREATE VIRTUAL TABLE IF NOT EXISTS search USING
  fts5(
    text,                  -- what was said
    scope,                 -- the room as one token (search_query.ts)
    room UNINDEXED,        -- as the event names it ('': the default room)
    time UNINDEXED,        -- ms since the epoch
    kind UNINDEXED,        -- MSG or ME
    alias UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
  );`;

/** A message or action, as the index keeps it (rowid: its number). */
export interface IndexedLine {
  readonly seq: number;
  readonly time: number;
  /** As the event names it; `""`: the default room. */
  readonly room: string;
  readonly kind: "MSG" | "ME";
  readonly alias: string;
  readonly text: string;
}

/** Rows one trimming step deletes at most. */
const TRIM_STEP_ROWS = 2_000;

const DAY_MS = 86_400_000;

/** The index over a database that has its table (see the module). */
export class SearchIndex {
  #db: DatabaseSync;
  #insert: StatementSync;
  #delete: StatementSync;
  #find: StatementSync;

  /** The index in `db` (migrated by `openStore`). */
  constructor(db: DatabaseSync) {
    this.#db = db;
    // OR REPLACE: a log whose numbering started again (see clear()).
    this.#insert = db.prepare(
      `INSERT OR REPLACE INTO search
         (rowid, text, scope, room, time, kind, alias)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#delete = db.prepare("DELETE FROM search WHERE rowid = ?");
    this.#find = db.prepare(
      `SELECT rowid AS seq, room, time, kind, alias, text FROM search
       WHERE search MATCH ? ORDER BY rowid DESC LIMIT ?`,
    );
  }

  /** Adds `lines` in one transaction. */
  add(lines: readonly IndexedLine[]): void {
    if (lines.length === 0) return;
    transaction(this.#db, () => {
      for (const line of lines) {
        this.#insert.run(
          line.seq,
          line.text,
          scopeToken(line.room),
          line.room,
          line.time,
          line.kind,
          line.alias,
        );
      }
    });
  }

  /**
   * The newest `limit` lines holding every one of `words`, in `rooms`
   * (stored names, `""` for the default room), newest first.
   */
  find(
    words: readonly string[],
    rooms: readonly string[],
    limit: number,
  ): IndexedLine[] {
    const match = searchMatch(words, rooms);
    if (match === null || limit <= 0) return [];
    return this.#find.all(match, limit).map((row) => ({
      seq: Number(row.seq),
      time: Number(row.time),
      room: String(row.room),
      kind: row.kind === "ME" ? "ME" : "MSG",
      alias: String(row.alias),
      text: String(row.text),
    }));
  }

  /**
   * Deletes the lines numbered `seqs` (retention deleted them from the
   * log; inside its transaction, or one of its own).
   */
  delete(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const work = () => {
      for (const seq of seqs) this.#delete.run(seq);
    };
    if (this.#db.isTransaction) work();
    else transaction(this.#db, work);
  }

  /** The highest number indexed, 0 when none. */
  lastSeq(): number {
    const row = this.#db.prepare("SELECT MAX(rowid) AS seq FROM search")
      .get() as { seq: number | null };
    return Number(row.seq ?? 0);
  }

  /** Deletes every line (the log's numbering started again). */
  clear(): void {
    this.#db.exec("DELETE FROM search");
  }

  /**
   * One step of the bounds retention keeps the log to, on the index
   * itself (for a log kept elsewhere): the newest `keepRows` (0: all), none
   * older than `keepDays` (0: any age), at most a step's worth of rows
   * deleted. Returns how many were.
   */
  trim(
    { keepRows, keepDays, now }: {
      readonly keepRows: number;
      readonly keepDays: number;
      readonly now: number;
    },
  ): number {
    const db = this.#db;
    return transaction(db, () => {
      let deleted = 0;
      if (keepRows > 0) {
        const { n } = db.prepare("SELECT COUNT(*) AS n FROM search").get() as {
          n: number;
        };
        const over = Math.min(Number(n) - keepRows, TRIM_STEP_ROWS);
        if (over > 0) {
          deleted += Number(
            db.prepare(
              `DELETE FROM search WHERE rowid IN
                 (SELECT rowid FROM search ORDER BY rowid LIMIT ?)`,
            ).run(over).changes,
          );
        }
      }
      if (keepDays > 0) {
        deleted += Number(
          db.prepare(
            `DELETE FROM search WHERE rowid IN
               (SELECT rowid FROM search ORDER BY rowid LIMIT ?) AND time < ?`,
          ).run(TRIM_STEP_ROWS, now - keepDays * DAY_MS).changes,
        );
      }
      return deleted;
    });
  }
}
