// @ts-check
/**
 * What the search index's worker (`index_worker.js`) reads of `chat.db`
 * when it opens on one server, on a read-only connection of its own: it
 * deletes what retention deleted and the index was never told of (the
 * deletions posted to a worker that did not live to write them), then takes
 * what `chat.db` stored after the index's last line; later, it takes again
 * the lines the server dropped while the index lagged. Imported by the worker
 * from a blob of its own (`search_index.ts`), so it imports nothing but
 * `node:sqlite`.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

/** Rows of `chat.db` (or of the index) taken in one step. */
const STEP_ROWS = 5_000;

/**
 * @typedef {{ seq: number, time: number, room: string, kind: "MSG" | "ME",
 *   alias: string, text: string }} Line
 */

/**
 * The index, as this reads and changes it (`IndexFile`).
 * @typedef {{
 *   readonly last: number,
 *   readonly rebuilt: boolean,
 *   readonly told: number,
 *   readonly lagsFrom: number,
 *   caughtUp(rest?: number | null): void,
 *   add(lines: readonly Line[]): void,
 *   delete(seqs: readonly number[], through: number): void,
 *   held(after: number, through: number, limit: number): number[],
 *   cut(newest: number): void,
 * }} Index
 */

/** @param {Record<string, unknown>} row */
const seqOf = (row) => Number(row.seq);

/** @param {unknown} value */
const oneLine = (value) => typeof value === "string" && !/[\r\n]/.test(value);

/**
 * Brings `index` up to `chat.db` at `path`: what retention deleted, then
 * what was stored after its last line, at most the newest `limit` rows.
 * `restarted`: a worker started while the server runs (another ended),
 * when `chat.db` may not hold yet the journal's newest lines.
 * @param {Index} index @param {string} path @param {number} limit
 * @param {boolean} restarted
 */
export function followChat(index, path, limit, restarted) {
  const chat = new DatabaseSync(path, { readOnly: true });
  try {
    forget(index, chat);
    catchUp(index, chat, limit, restarted);
  } finally {
    chat.close();
  }
}

/**
 * Deletes what retention deleted after the last tombstone `index` was told
 * of (`told`, an id in the order tombstones are written): those
 * tombstones' numbers when they are all still there; else (trimmed,
 * `chat.db` restored from a backup, an index from before it was told)
 * every line through the newest number retention deleted that `chat.db`
 * no longer holds. A new index holds none.
 * @param {Index} index @param {DatabaseSync} chat
 */
function forget(index, chat) {
  const top = Number(
    chat.prepare(`SELECT IFNULL((SELECT seq FROM sqlite_sequence
      WHERE name = 'tombstones'), 0) AS top`).get()?.top,
  );
  const { told } = index;
  if (index.rebuilt || told === top) return index.delete([], top);
  // Through `top` only: retention may write more meanwhile (told later).
  const seqs = chat.prepare(
    "SELECT seq FROM tombstones WHERE id > ? AND id <= ?",
  )
    .all(told, top).map(seqOf);
  if (told >= 0 && seqs.length === top - told) return index.delete(seqs, top);
  const through = Number(
    chat.prepare(`SELECT IFNULL(MAX(CAST(value AS INTEGER)), 0) AS seq
      FROM settings WHERE key IN ('history.deleted_seq', 'history.last_seq')`)
      .get()?.seq,
  );
  const held = chat.prepare("SELECT seq FROM events WHERE seq BETWEEN ? AND ?");
  for (let after = 0;;) {
    const rows = index.held(after, through, STEP_ROWS);
    const [first] = rows;
    if (first === undefined) return index.delete([], top);
    after = rows[rows.length - 1] ?? first;
    const kept = new Set(held.all(first, after).map(seqOf));
    index.delete(rows.filter((seq) => !kept.has(seq)), told);
  }
}

/**
 * Adds what `chat` stored after the index's last line (or the first it
 * was not given), at most the newest `limit` rows. Rows that are not a one-line message or action are left
 * out, as the log's reader leaves them out. As the server starts (not
 * `restarted`), an index ahead of the last number `chat` ever gave
 * (`chat.db` restored from a backup, or its unsynced tail lost) drops what
 * is past it: those numbers will be given again, to other lines. (While
 * the server runs, those are lines the database has not taken from the
 * journal yet.)
 * @param {Index} index @param {DatabaseSync} chat @param {number} limit
 * @param {boolean} restarted
 */
function catchUp(index, chat, limit, restarted) {
  const newest = newestIn(chat);
  if (newest < index.last && !restarted) index.cut(newest);
  // From the first line it was not given (dropped: too many waiting).
  const after = Math.max(
    Math.min(index.last, index.lagsFrom - 1),
    newest - limit,
  );
  addAfter(index, chat, after, Number.MAX_SAFE_INTEGER);
  // Restarted, lines it was not given may not be in chat.db yet: from
  // past what it holds, the next start takes them up.
  const { lagsFrom } = index;
  const rest = restarted && lagsFrom !== Infinity
    ? Math.max(lagsFrom, newest + 1)
    : null;
  index.caughtUp(rest);
}

/**
 * Takes again from `chat.db` at `path` the messages and actions numbered
 * `from` through `through` that the index does not hold, left out while
 * the server ran (too many were waiting for the index), once `chat.db`
 * holds them all (the database takes the journal's lines a moment after
 * they are handed on). `rest`: the first number of the gap left for later
 * (null: none), where the next start would take it up. Whether it did:
 * false, asked again later.
 * @param {Index} index @param {string} path @param {number} from
 * @param {number} through @param {number | null} rest
 */
export function fillGap(index, path, from, through, rest) {
  const chat = new DatabaseSync(path, { readOnly: true });
  try {
    if (newestIn(chat) < through) return false;
    addAfter(index, chat, from - 1, through);
    // The gap recorded is this one's (not an older one, nor a later one).
    const { lagsFrom } = index;
    if (from <= lagsFrom && lagsFrom <= through + 1) index.caughtUp(rest);
    return true;
  } finally {
    chat.close();
  }
}

/**
 * The highest number `chat` ever gave a line.
 * @param {DatabaseSync} chat
 */
function newestIn(chat) {
  return Number(
    chat.prepare(`SELECT MAX(IFNULL((SELECT MAX(seq) FROM events), 0),
      IFNULL((SELECT CAST(value AS INTEGER) FROM settings
        WHERE key = 'history.last_seq'), 0)) AS seq`).get()?.seq,
  );
}

/**
 * Adds to `index` the messages and actions `chat` holds numbered above
 * `after` through `through`, a step at a time.
 * @param {Index} index @param {DatabaseSync} chat
 * @param {number} after @param {number} through
 */
function addAfter(index, chat, after, through) {
  const read = chat.prepare(
    `SELECT seq, time, type, line FROM events
     WHERE seq > ? AND seq <= ? AND type IN ('MSG', 'ME') ORDER BY seq LIMIT ?`,
  );
  for (;;) {
    const rows = read.all(after, through, STEP_ROWS);
    if (rows.length === 0) return;
    const first = after;
    after = Number(rows.at(-1)?.seq);
    // What it holds already (posted while it lagged) is not written again.
    const held = new Set(index.held(first, after, STEP_ROWS));
    index.add(
      rows.filter((row) => !held.has(seqOf(row))).map(readLine)
        .filter((line) => line !== null),
    );
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
