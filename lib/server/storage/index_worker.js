// @ts-check
/// <reference lib="deno.worker" />
/**
 * The search index's worker: its program, run from a blob by
 * `search_index.ts` (a file of its own would be missing from `deno bundle`'s
 * one file), so it imports nothing but `node:sqlite` and `index_chat.js`
 * (from a blob too, its URL in the `open` message). It owns the index's
 * database, `search.db` beside `chat.db` (an SQLite FTS5 table, `unicode61`
 * with diacritics folded, one row per message or action, its rowid the
 * log's number), so that writing the index never takes `chat.db`'s write
 * lock nor the server's thread. The file records the log's epoch and the
 * last number it holds; a file of another epoch, of another format, or that
 * fails its check is made again, empty. On opening (one server), it follows
 * `chat.db` (`index_chat.js`): what retention deleted after the last
 * tombstone it was told of (state `deleted`), then what was stored after
 * its last line (at most the newest `catchUpLimit`); in a cluster, that it
 * lacks what followed its last line (from 1 for a file made anew: the
 * server posts what the stream still holds, `search_catch_up.ts`). It runs in the background (nice 19): a busy
 * server's index lags, a find waits for it.
 *
 * Messages are handled one at a time, in the order posted: `open` first
 * (answered `opened`), then `add`, `find`, `delete`, `trim`, `clear`,
 * `behind`, `fill`, `caughtUp` and `close`, each answered by one `done` (a
 * find's with its `lines`, a fill's with whether it `filled`), so that a
 * find answers after every line posted before it is written. An error writing is
 * thrown: the worker ends, and the server starts another that is posted
 * again what it had not answered.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
/** @typedef {import("node:sqlite").StatementSync} StatementSync */
import { setPriority } from "node:os";

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

/**
 * Lowers this thread to nice 19, the lowest priority, so that indexing
 * never takes the core from members' lines: on Linux only (elsewhere the
 * whole process would be lowered), when the process may (asked first, so
 * that nothing prompts). The nice value it runs at.
 */
function runInBackground() {
  const may = Deno.build.os === "linux" &&
    Deno.permissions.querySync({ name: "sys", kind: "setPriority" })
        .state === "granted";
  try {
    if (may) setPriority(0, 19); // 0: this thread (Linux)
    return may ? 19 : 0;
  } catch {
    return 0;
  }
}

/** Rows one trimming step deletes at most (the steps go on until done). */
const TRIM_STEP_ROWS = 2_000;

/** @typedef {import("./index_chat.js").Line} Line */

/** Rooms' scope tokens, made once each (forgotten past a thousand). */
const scopes = new Map();

/**
 * The scope token of a room (as `scopeToken` in search_query.ts).
 * @param {string} room @returns {string}
 */
function scope(room) {
  if (scopes.size >= 1_000) scopes.clear();
  return scopes.get(room) ??
    scopes.set(room, `r${new TextEncoder().encode(room).toHex()}`).get(room);
}

/** The index's file, open. */
class IndexFile {
  /** @type {DatabaseSync} */ #db;
  /** @type {StatementSync} */ #insert;
  /** @type {StatementSync} */ #replace;
  /** The highest number it holds. */
  last = 0;
  /** It was made again as it opened (new, damaged, of another epoch). */
  rebuilt = false;

  /** Opens the index at `path` for `epoch` (made again if it cannot be used). @param {string} path @param {string} epoch */
  constructor(path, epoch) {
    this.#db = IndexFile.#opened(path, epoch) ?? IndexFile.#made(path);
    this.rebuilt = this.#state("epoch") === undefined;
    if (this.rebuilt) {
      this.#setState("epoch", epoch);
      this.#setState("last", 0);
    }
    this.#db.exec("PRAGMA synchronous = NORMAL");
    // A line not above the last may be held (posted again after a worker's
    // end, taken again from chat.db): replaced, at the cost of a lookup.
    const into = `INTO search (rowid, text, scope, room, time, kind, alias)
      VALUES (?, ?, ?, ?, ?, ?, ?)`;
    this.#insert = this.#db.prepare(`INSERT ${into}`);
    this.#replace = this.#db.prepare(`INSERT OR REPLACE ${into}`);
    this.last = Number(this.#state("last") ?? 0);
  }

  /** The file at `path` if of this format, sound, and of `epoch`. @param {string} path @param {string} epoch */
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
    const files = path === ":memory:" ? [] : ["", "-wal", "-shm"];
    for (const suffix of files) {
      try {
        Deno.removeSync(path + suffix);
      } catch { /* not there */ }
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

  /** The first line not indexed (dropped, too many waiting); or Infinity. */
  get lagsFrom() {
    return Number(this.#state("behind") ?? Infinity);
  }

  /** Records that line `seq` was not indexed. @param {number} seq */
  behind(seq) {
    this.#setState("behind", Math.min(seq, this.lagsFrom));
  }

  /**
   * It holds every line it was not given (it caught up from `chat.db`), or
   * every one before `rest`. @param {number | null} [rest]
   */
  caughtUp(rest = null) {
    if (rest !== null) return this.#setState("behind", rest);
    this.#db.exec("DELETE FROM state WHERE key = 'behind'");
  }

  /** The id of the last tombstone of `chat.db` it was told of (-1: never). */
  get told() {
    return Number(this.#state("deleted") ?? -1);
  }

  /** Its lowest `limit` numbers in (`after`, `through`]. @param {number} after @param {number} through @param {number} limit */
  held(after, through, limit) {
    return this.#db.prepare(
      `SELECT rowid AS seq FROM search WHERE rowid > ? AND rowid <= ?
       ORDER BY rowid LIMIT ?`,
    ).all(after, through, limit).map((row) => Number(row.seq));
  }

  /** Deletes every line numbered above `newest`, its last now. @param {number} newest */
  cut(newest) {
    this.transaction(() => {
      this.#db.prepare("DELETE FROM search WHERE rowid > ?").run(newest);
      this.last = newest;
      this.#setState("last", newest);
    });
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
        (line.seq > this.last ? this.#insert : this.#replace).run(
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
            ).run(TRIM_STEP_ROWS, now - keepDays * 86_400_000).changes,
          );
        }
      });
    } while (deleted >= TRIM_STEP_ROWS);
  }

  /**
   * The newest `limit` lines matching `match`, in a room of `since` those
   * above its bound only (each a parameter, never in the SQL).
   * @param {string} match @param {number} limit
   * @param {[string, number][]} since @returns {Line[]}
   */
  find(match, limit, since = []) {
    const when = since.map(() => "WHEN ? THEN ?").join(" ");
    return this.#db.prepare(
      `SELECT rowid AS seq, room, time, kind, alias, text FROM search WHERE
       search MATCH ? ${when && `AND rowid > CASE room ${when} ELSE 0 END`}
       ORDER BY rowid DESC LIMIT ?`,
    ).all(match, ...since.flat(), limit).map((row) => ({
      seq: Number(row.seq),
      time: Number(row.time),
      room: String(row.room),
      kind: row.kind === "ME" ? "ME" : "MSG",
      alias: String(row.alias),
      text: String(row.text),
    }));
  }

  /**
   * Deletes the lines numbered `seqs`, told of the tombstones of `chat.db`
   * through id `through`.
   * @param {readonly number[]} seqs @param {number} through
   */
  delete(seqs, through) {
    this.transaction(() => {
      const remove = this.#db.prepare("DELETE FROM search WHERE rowid = ?");
      for (const seq of seqs) remove.run(seq);
      this.#setState("deleted", through);
    });
  }

  /** Deletes every line: a new epoch. @param {string} epoch */
  clear(epoch) {
    this.transaction(() => {
      this.#db.exec("DELETE FROM search");
      this.caughtUp();
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
 * What the messages after `open` ask of `index`; the answer's fields.
 * `fill` takes a gap again from `chat.db` (whether it could).
 * @param {IndexFile} index @param {any} data
 * @param {(from: number, through: number, rest: number | null) => boolean} fill
 */
function handle(index, data, fill) {
  switch (data.op) {
    case "add":
      return index.add(data.lines);
    case "find":
      try {
        return { lines: index.find(data.match, data.limit, data.since) };
      } catch (e) {
        return { error: String(e) };
      }
    case "delete":
      return index.delete(data.seqs, data.through);
    case "trim":
      return index.trim(data);
    case "clear":
      return index.clear(data.epoch);
    case "behind":
      return index.behind(data.seq);
    case "caughtUp": // what the server posted of the stream is written
      return index.caughtUp(data.rest);
    case "fill":
      try {
        return { filled: fill(data.from, data.through, data.rest) };
      } catch (e) { // reading chat.db, or writing: left to the next start
        return { error: String(e) };
      }
    case "close":
      return index.close();
    default:
      throw new Error(`unknown message ${data.op}`);
  }
}

/**
 * The first message opens the index; the others go to it, in order (those
 * that come while it follows `chat.db` wait).
 */
self.onmessage = async ({ data }) => {
  const { path, epoch, chat, chatModule, catchUpLimit, restarted } = data;
  const nice = runInBackground();
  const index = new IndexFile(path, epoch);
  // Recorded before any line of now is written (a kill leaves it recorded).
  // A file made anew (deleted, damaged, of another epoch) lacks everything
  // from 1: the server takes back what the stream still holds.
  if (chat === null && !restarted) index.behind(index.last + 1);
  const early = /** @type {MessageEvent[]} */ ([]);
  self.onmessage = (event) => early.push(event);
  /** @type {{ error?: string }} */
  const failed = {};
  // A cluster's index has no chat.db: what it left out stays out.
  /** @type {(from: number, through: number, rest: number | null) => boolean} */
  let fill = () => true;
  if (chat !== null) {
    try {
      /** @type {typeof import("./index_chat.js")} */
      const { followChat, fillGap } = await import(chatModule);
      fill = (from, through, rest) => fillGap(index, chat, from, through, rest);
      followChat(index, chat, catchUpLimit, restarted);
    } catch (e) {
      failed.error = String(e);
    }
  }
  const { rebuilt, last, lagsFrom } = index;
  const behind = lagsFrom === Infinity ? null : lagsFrom;
  self.postMessage({ op: "opened", rebuilt, last, behind, nice, ...failed });
  /** @param {MessageEvent} event */
  const answer = ({ data }) =>
    self.postMessage({ op: "done", ...handle(index, data, fill) });
  self.onmessage = answer;
  for (const event of early) answer(event);
};
