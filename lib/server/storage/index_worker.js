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

/** @type {DatabaseSync} */
let db;
/** @type {import("node:sqlite").StatementSync} */
let insert;
let last = 0;

/** @param {unknown} value */
const oneLine = (value) => typeof value === "string" && !/[\r\n]/.test(value);

/** The scope token of a room (as `scopeToken` in search_query.ts). @param {string} room */
const scope = (room) => `r${new TextEncoder().encode(room).toHex()}`;

/** @param {() => void} work */
function transaction(work) {
  db.exec("BEGIN");
  try {
    work();
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** @param {string} key @param {string | number} value */
function setState(key, value) {
  db.prepare("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)")
    .run(key, String(value));
}

/** @param {string} key */
function getState(key) {
  const row = db.prepare("SELECT value FROM state WHERE key = ?").get(key);
  return row === undefined ? undefined : String(row.value);
}

/**
 * Opens the index at `path` for `epoch`, made again when it cannot be
 * used as it is; returns whether it was.
 * @param {string} path @param {string} epoch
 */
function openIndex(path, epoch) {
  try {
    db = new DatabaseSync(path);
    const version = Number(
      db.prepare("PRAGMA user_version").get()?.user_version,
    );
    const check = db.prepare("PRAGMA quick_check").get()?.quick_check;
    if (version === FORMAT && check === "ok" && getState("epoch") === epoch) {
      prepare();
      return false;
    }
  } catch {
    // Damaged, or not a database: made again below.
  }
  db?.close();
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      if (path !== ":memory:") Deno.removeSync(path + suffix);
    } catch {
      // Not there.
    }
  }
  db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(SCHEMA);
  setState("epoch", epoch);
  setState("last", 0);
  prepare();
  return true;
}

function prepare() {
  db.exec("PRAGMA synchronous = NORMAL");
  // OR REPLACE: a line posted again after a worker's end.
  insert = db.prepare(
    `INSERT OR REPLACE INTO search (rowid, text, scope, room, time, kind, alias)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  last = Number(getState("last") ?? 0);
}

/** Adds `lines` (in the current transaction). @param {readonly Line[]} lines */
function addLines(lines) {
  for (const line of lines) {
    insert.run(
      line.seq,
      line.text,
      scope(line.room),
      line.room,
      line.time,
      line.kind,
      line.alias,
    );
    if (line.seq > last) last = line.seq;
  }
  setState("last", last);
}

/**
 * Takes what `chat.db` at `path` stored after the index's last line, at
 * most the newest `limit` rows. Rows that are not a one-line message or
 * action are left out, as the log's reader leaves them out.
 * @param {string} path @param {number} limit
 */
function catchUp(path, limit) {
  const chat = new DatabaseSync(path, { readOnly: true });
  try {
    const newest = Number(
      chat.prepare("SELECT IFNULL(MAX(seq), 0) AS seq FROM events").get()?.seq,
    );
    let after = Math.max(last, newest - limit);
    const read = chat.prepare(
      `SELECT seq, time, type, line FROM events
       WHERE seq > ? AND type IN ('MSG', 'ME') ORDER BY seq LIMIT ?`,
    );
    for (;;) {
      const rows = read.all(after, CATCH_UP_ROWS);
      if (rows.length === 0) return;
      /** @type {Line[]} */
      const lines = [];
      for (const row of rows) {
        after = Number(row.seq);
        const line = readLine(row);
        if (line !== null) lines.push(line);
      }
      transaction(() => addLines(lines));
    }
  } finally {
    chat.close();
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
 * One step after another of the bounds retention keeps the log to: the
 * newest `keepRows` (0: all), none older than `keepDays` (0: any age).
 * @param {{ keepRows: number, keepDays: number, now: number }} bounds
 */
function trim({ keepRows, keepDays, now }) {
  let deleted = 0;
  do {
    transaction(() => {
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
               (SELECT rowid FROM search ORDER BY rowid LIMIT ?) AND time < ?`,
          ).run(TRIM_STEP_ROWS, now - keepDays * DAY_MS).changes,
        );
      }
    });
  } while (deleted >= TRIM_STEP_ROWS);
}

/** The newest `limit` lines matching `match`. @param {string} match @param {number} limit */
function find(match, limit) {
  return db.prepare(
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

/** @param {MessageEvent} event */
self.onmessage = ({ data }) => {
  switch (data.op) {
    case "open": {
      const rebuilt = openIndex(data.path, data.epoch);
      let error;
      if (data.chat !== null) {
        try {
          catchUp(data.chat, data.catchUpLimit);
        } catch (e) {
          error = String(e);
        }
      }
      return self.postMessage({ op: "opened", rebuilt, last, error });
    }
    case "add":
      transaction(() => addLines(data.lines));
      break;
    case "find":
      try {
        return self.postMessage({
          op: "done",
          lines: find(data.match, data.limit),
        });
      } catch (e) {
        return self.postMessage({ op: "done", error: String(e) });
      }
    case "delete":
      transaction(() => {
        const remove = db.prepare("DELETE FROM search WHERE rowid = ?");
        for (const seq of data.seqs) remove.run(seq);
      });
      break;
    case "trim":
      trim(data);
      break;
    case "clear":
      transaction(() => {
        db.exec("DELETE FROM search");
        last = 0;
        setState("last", 0);
        setState("epoch", data.epoch);
      });
      break;
    case "close":
      db.close();
      break;
    default:
      throw new Error(`unknown message ${data.op}`);
  }
  self.postMessage({ op: "done" });
};
