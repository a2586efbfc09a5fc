// @ts-check
/// <reference lib="deno.worker" />
/**
 * The search index's worker: its whole program, run from a blob by
 * `search_index.ts` (a file of its own would be missing from `deno bundle`'s
 * one file), so it imports nothing but `node:sqlite`. It owns the index's
 * database, `search.db` beside `chat.db` (an SQLite FTS5 table, `unicode61`
 * with diacritics folded, one row per message or action, its rowid the
 * log's number), so that writing the index never takes `chat.db`'s write
 * lock nor the server's thread. The file records the log's epoch and the
 * last number it holds; a file of another epoch, of another format, or that
 * fails its check is made again, empty. On opening, it takes what `chat.db`
 * stored after its last line (one server; at most the newest
 * `catchUpLimit`), read on a read-only connection of its own.
 *
 * Messages are handled one at a time, in the order posted: `open` first
 * (answered `opened`), then `add`, `find`, `delete`, `trim`, `clear` and
 * `close`, each answered by one `done` (a find's with its `lines`), so that
 * a find answers after every line posted before it is written. An error
 * writing is thrown: the worker ends, and the server starts another that
 * is posted again what it had not answered.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

/** The index's format (`user_version`): another one is made again. */
const FORMAT = 1;

const SCHEMA = `CREATE VIRTUAL TABLE search USING fts5(
    text,                  -- what was said
    scope,                 -- the room as one token (search_query.ts)
    room UNINDEXED,        -- as the event names it ('': the default room)
    time UNINDEXED,        -- ms since the epoch
    kind UNINDEXED,        -- MSG or ME
    alias UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  PRAGMA user_version = ${FORMAT};`;

/** Rows one trimming step deletes at most (the steps go on until done). */
const TRIM_STEP_ROWS = 2_000;

/** Rows of `chat.db` taken in one transaction when catching up. */
const CATCH_UP_ROWS = 5_000;

const DAY_MS = 86_400_000;

/**
 * @typedef {{ seq: number, time: number, room: string, kind: "MSG" | "ME",
 *   alias: string, text: string }} Line
 */

/** @param {unknown} value */
const oneLine = (value) => typeof value === "string" && !/[\r\n]/.test(value);

/**
 * The scope token of a room (as `scopeToken` in search_query.ts).
 * @param {string} room
 */
const scope = (room) => `r${new TextEncoder().encode(room).toHex()}`;

/** The index's file, open. */
class IndexFile {
  /** @type {DatabaseSync} */
  #db;
  /** @type {import("node:sqlite").StatementSync} */
  #insert;
  /** The highest number it holds. */
  last = 0;
  /** It was made again as it opened (new, damaged, of another epoch). */
  rebuilt = false;

  /**
   * Opens the index at `path` for `epoch`, made again when it cannot be
   * used as it is.
   * @param {string} path @param {string} epoch
   */
  constructor(path, epoch) {
    this.#db = IndexFile.#opened(path, epoch) ?? IndexFile.#made(path);
    this.rebuilt = this.#state("epoch") === undefined;
    if (this.rebuilt) {
      this.#setState("epoch", epoch);
      this.#setState("last", 0);
    }
    this.#db.exec("PRAGMA synchronous = NORMAL");
    // OR REPLACE: a line posted again after a worker's end.
    this.#insert = this.#db.prepare(
      `INSERT OR REPLACE INTO search
         (rowid, text, scope, room, time, kind, alias)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.last = Number(this.#state("last") ?? 0);
  }

  /**
   * The file at `path` if it is of this format, sound, and of `epoch`.
   * @param {string} path @param {string} epoch
   */
  static #opened(path, epoch) {
    /** @type {DatabaseSync | undefined} */
    let db;
    try {
      db = new DatabaseSync(path);
      const version = db.prepare("PRAGMA user_version").get()?.user_version;
      const check = db.prepare("PRAGMA quick_check").get()?.quick_check;
      const row = db.prepare("SELECT value FROM state WHERE key = 'epoch'")
        .get();
      if (version === FORMAT && check === "ok" && row?.value === epoch) {
        return db;
      }
    } catch {
      // Damaged, or not a database: made again.
    }
    db?.close();
    return undefined;
  }

  /** A new, empty file at `path`. @param {string} path */
  static #made(path) {
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        if (path !== ":memory:") Deno.removeSync(path + suffix);
      } catch {
        // Not there.
      }
    }
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(SCHEMA);
    return db;
  }

  /** @param {() => void} work */
  transaction(work) {
    this.#db.exec("BEGIN");
    try {
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** @param {string} key @param {string | number} value */
  #setState(key, value) {
    this.#db.prepare("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)")
      .run(key, String(value));
  }

  /** @param {string} key */
  #state(key) {
    const row = this.#db.prepare("SELECT value FROM state WHERE key = ?")
      .get(key);
    return row === undefined ? undefined : String(row.value);
  }

  /** Adds `lines` in one transaction. @param {readonly Line[]} lines */
  add(lines) {
    this.transaction(() => {
      for (const line of lines) {
        this.#insert.run(
          line.seq,
          line.text,
          scope(line.room),
          line.room,
          line.time,
          line.kind,
          line.alias,
        );
        if (line.seq > this.last) this.last = line.seq;
      }
      this.#setState("last", this.last);
    });
  }

  /**
   * Takes what `chat.db` at `path` stored after the index's last line, at
   * most the newest `limit` rows. Rows that are not a one-line message or
   * action are left out, as the log's reader leaves them out.
   * @param {string} path @param {number} limit
   */
  catchUp(path, limit) {
    const chat = new DatabaseSync(path, { readOnly: true });
    try {
      const newest = Number(
        chat.prepare("SELECT IFNULL(MAX(seq), 0) AS seq FROM events").get()
          ?.seq,
      );
      let after = Math.max(this.last, newest - limit);
      const read = chat.prepare(
        `SELECT seq, time, type, line FROM events
         WHERE seq > ? AND type IN ('MSG', 'ME') ORDER BY seq LIMIT ?`,
      );
      for (;;) {
        const rows = read.all(after, CATCH_UP_ROWS);
        if (rows.length === 0) return;
        after = Number(rows.at(-1)?.seq);
        this.add(rows.map(readLine).filter((line) => line !== null));
      }
    } finally {
      chat.close();
    }
  }

  /**
   * One step after another of the bounds retention keeps the log to: the
   * newest `keepRows` (0: all), none older than `keepDays` (0: any age).
   * @param {{ keepRows: number, keepDays: number, now: number }} bounds
   */
  trim({ keepRows, keepDays, now }) {
    const db = this.#db;
    let deleted = 0;
    do {
      this.transaction(() => {
        deleted = 0;
        if (keepRows > 0) {
          const n = Number(
            db.prepare("SELECT COUNT(*) AS n FROM search").get()?.n,
          );
          const over = Math.min(n - keepRows, TRIM_STEP_ROWS);
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
                 (SELECT rowid FROM search ORDER BY rowid LIMIT ?)
                 AND time < ?`,
            ).run(TRIM_STEP_ROWS, now - keepDays * DAY_MS).changes,
          );
        }
      });
    } while (deleted >= TRIM_STEP_ROWS);
  }

  /**
   * The newest `limit` lines matching `match`.
   * @param {string} match @param {number} limit
   * @returns {Line[]}
   */
  find(match, limit) {
    return this.#db.prepare(
      `SELECT rowid AS seq, room, time, kind, alias, text FROM search
       WHERE search MATCH ? ORDER BY rowid DESC LIMIT ?`,
    ).all(match, limit).map((row) => ({
      seq: Number(row.seq),
      time: Number(row.time),
      room: String(row.room),
      kind: row.kind === "ME" ? "ME" : "MSG",
      alias: String(row.alias),
      text: String(row.text),
    }));
  }

  /** Deletes the lines numbered `seqs`. @param {readonly number[]} seqs */
  delete(seqs) {
    this.transaction(() => {
      const remove = this.#db.prepare("DELETE FROM search WHERE rowid = ?");
      for (const seq of seqs) remove.run(seq);
    });
  }

  /** Deletes every line: a new epoch. @param {string} epoch */
  clear(epoch) {
    this.transaction(() => {
      this.#db.exec("DELETE FROM search");
      this.last = 0;
      this.#setState("last", 0);
      this.#setState("epoch", epoch);
    });
  }

  close() {
    this.#db.close();
  }
}

/**
 * A stored row as a line to index, or null.
 * @param {Record<string, unknown>} row
 * @returns {Line | null}
 */
function readLine(row) {
  try {
    const fields = JSON.parse(String(row.line));
    const room = fields.room ?? "";
    if (!oneLine(fields.alias) || !oneLine(fields.text) || !oneLine(room)) {
      return null;
    }
    return {
      seq: Number(row.seq),
      time: Number(row.time),
      room,
      kind: row.type === "ME" ? "ME" : "MSG",
      alias: fields.alias,
      text: fields.text,
    };
  } catch {
    return null;
  }
}

/**
 * What the messages after `open` ask of `index`; the answer's fields.
 * @param {IndexFile} index @param {any} data
 */
function handle(index, data) {
  switch (data.op) {
    case "add":
      return index.add(data.lines);
    case "find":
      try {
        return { lines: index.find(data.match, data.limit) };
      } catch (e) {
        return { error: String(e) };
      }
    case "delete":
      return index.delete(data.seqs);
    case "trim":
      return index.trim(data);
    case "clear":
      return index.clear(data.epoch);
    case "close":
      return index.close();
    default:
      throw new Error(`unknown message ${data.op}`);
  }
}

/** The first message opens the index; the others go to it. */
self.onmessage = ({ data: { path, epoch, chat, catchUpLimit } }) => {
  const index = new IndexFile(path, epoch);
  /** @type {{ error?: string }} */
  const failed = {};
  if (chat !== null) {
    try {
      index.catchUp(chat, catchUpLimit);
    } catch (e) {
      failed.error = String(e);
    }
  }
  const { rebuilt, last } = index;
  self.postMessage({ op: "opened", rebuilt, last, ...failed });
  self.onmessage = ({ data }) =>
    self.postMessage({ op: "done", ...handle(index, data) });
};
