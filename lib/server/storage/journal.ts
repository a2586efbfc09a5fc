/**
 * The history's journal: an append-only file in the data directory
 * ({@linkcode JOURNAL_FILE}) that makes a turn's lines durable before they
 * are handed on, so that SQLite can take them later, many turns at a time
 * (`sqlite_log.ts`). Each turn's rows are one record, written with one
 * `write` (in the kernel once it returns: they survive the server being
 * killed) and, with `--durability full`, synced with one `fdatasync`. Once
 * SQLite has committed the rows, the journal starts again empty.
 *
 * A record is its payload's length and CRC-32 (4 bytes each, little
 * endian), then the payload: the rows' values as a JSON array, seven a
 * row, as `events` takes them (`EVENT_COLUMNS` in `events_table.ts`). Reading stops at
 * the first record that is cut short, fails its checksum, does not parse
 * or does not go on from the one before (row numbers follow each other):
 * a torn or garbage tail (a kill in mid-write, a power cut, zeros) is
 * dropped, never misread. At start ({@linkcode openJournal}) the rows newer
 * than the database's last are inserted, in one transaction, before the
 * server listens; then the journal is emptied.
 *
 * @module
 */

import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { crc32 } from "node:zlib";
import {
  BatchInsert,
  EVENT_COLUMNS,
  ROW_VALUES,
  transaction,
} from "./events_table.ts";
import { lastSeq } from "./retention.ts";
import type { RoomEvent } from "../room/room_log.ts";
import { toRoomEvent } from "../room/stored_event.ts";

/** Name of the journal in the data directory. */
export const JOURNAL_FILE = "chat.journal";

/** A value of a row: a number (seq, time), text, or null (no id, no effect). */
export type JournalValue = number | string | null;

const HEADER_BYTES = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * One record holding `values` (rows of {@linkcode ROW_VALUES} values each,
 * numbered one after the other).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeJournal, encodeRecord } from "./journal.ts";
 *
 * const row = [1, 0, "MSG", '{"type":"MSG","alias":"a","text":"hi"}'];
 * const record = encodeRecord([...row, null, null, null]);
 * assert.deepEqual(decodeJournal(record).values, [...row, null, null, null]);
 * ```
 */
export function encodeRecord(values: readonly JournalValue[]): Uint8Array {
  const payload = encoder.encode(JSON.stringify(values));
  const record = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(record.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  record.set(payload, HEADER_BYTES);
  return record;
}

/** What {@linkcode decodeJournal} read. */
export interface DecodedJournal {
  /** The rows of every whole record, in order, seven values a row. */
  readonly values: JournalValue[];
  /** Bytes of whole records; those after them were dropped. */
  readonly bytes: number;
}

/**
 * The rows of the whole records at the start of `bytes`, up to the first
 * that is torn, damaged, or does not go on from the one before.
 */
export function decodeJournal(bytes: Uint8Array): DecodedJournal {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: JournalValue[] = [];
  let at = 0;
  let next: number | undefined;
  while (bytes.length - at >= HEADER_BYTES) {
    const length = view.getUint32(at, true);
    const start = at + HEADER_BYTES;
    if (length === 0 || length > bytes.length - start) break;
    const payload = bytes.subarray(start, start + length);
    if (crc32(payload) !== view.getUint32(at + 4, true)) break;
    const rows = parseRows(payload, next);
    if (rows === null) break;
    values.push(...rows);
    next = (rows.at(-ROW_VALUES) as number) + 1;
    at = start + length;
  }
  return { values, bytes: at };
}

/** A record's rows, or null unless they are rows numbered from `first`. */
function parseRows(
  payload: Uint8Array,
  first: number | undefined,
): JournalValue[] | null {
  let rows: unknown;
  try {
    rows = JSON.parse(decoder.decode(payload));
  } catch {
    return null;
  }
  if (!Array.isArray(rows) || rows.length % ROW_VALUES !== 0) return null;
  if (rows.length === 0) return null;
  let seq = first ?? rows[0];
  for (let at = 0; at < rows.length; at += ROW_VALUES, seq++) {
    const [s, time, type, line, ...rest] = rows.slice(at, at + ROW_VALUES);
    const ok = Number.isSafeInteger(s) && s === seq && s > 0 &&
      Number.isFinite(time) && typeof type === "string" &&
      typeof line === "string" &&
      rest.every((v) => v === null || typeof v === "string");
    if (!ok) return null;
  }
  return rows;
}

/** What the journal needs of its file (a `Deno.FsFile`; a fake in tests). */
export interface JournalFile {
  writeSync(bytes: Uint8Array): number;
  syncDataSync(): void;
  truncateSync(length?: number): void;
  close(): void;
}

/**
 * The journal's file, open for appending. A write that fails is taken
 * back (the file cut to where it was), so that a record that was refused
 * is never read at start; if even that fails, the journal is `broken`:
 * it refuses records until it is emptied ({@linkcode Journal.clear}).
 */
export class Journal {
  #file: JournalFile;
  #size = 0;
  #broken = false;

  /** The journal in `file`, empty, written from its end. */
  constructor(file: JournalFile) {
    this.#file = file;
  }

  /** Bytes written since it was last emptied. */
  get size(): number {
    return this.#size;
  }

  /** A failed write could not be taken back: it takes no more records. */
  get broken(): boolean {
    return this.#broken;
  }

  /**
   * Appends `record` (synced to the disk with `sync`), or throws with the
   * journal as it was.
   */
  append(record: Uint8Array, sync: boolean): void {
    if (this.#broken) {
      throw new Error("the history journal is damaged by a failed write");
    }
    try {
      let done = 0;
      while (done < record.length) {
        done += this.#file.writeSync(record.subarray(done));
      }
      if (sync) this.#file.syncDataSync();
    } catch (error) {
      try {
        this.#file.truncateSync(this.#size);
      } catch {
        this.#broken = true;
      }
      throw error;
    }
    this.#size += record.length;
  }

  /**
   * Empties it (its rows are in the database); throws if it cannot, and
   * is `broken` then (it would grow without bound).
   */
  clear(): void {
    if (this.#size === 0 && !this.#broken) return;
    try {
      this.#file.truncateSync(0);
    } catch (error) {
      this.#broken = true;
      throw error;
    }
    this.#size = 0;
    this.#broken = false;
  }

  /** Closes the file, leaving what it holds for the next start. */
  close(): void {
    this.#file.close();
  }
}

/** What {@linkcode openJournal} found in the journal at start. */
export interface JournalRecovery {
  /** Rows inserted into the database (newer than its last). */
  readonly rows: number;
  /** Bytes dropped at the end (a torn or damaged tail). */
  readonly droppedBytes: number;
}

/**
 * Opens the journal at `path` (creating it, mode 0600) for a server on
 * `db`: the rows it holds that are newer than the database's last are
 * inserted in one transaction, then it is emptied.
 */
export function openJournal(
  path: string,
  db: DatabaseSync,
): { journal: Journal; recovery: JournalRecovery } {
  const file = Deno.openSync(path, {
    read: true,
    append: true,
    create: true,
    mode: 0o600,
  });
  try {
    const bytes = Deno.readFileSync(path);
    const recovery = recover(db, bytes);
    if (bytes.length > 0) file.truncateSync(0);
    return { journal: new Journal(file), recovery };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Inserts the rows of `bytes` newer than the database's last. */
function recover(db: DatabaseSync, bytes: Uint8Array): JournalRecovery {
  const { values, bytes: read } = decodeJournal(bytes);
  const last = lastSeq(db);
  // Rows are numbered one after the other: those newer are at the end.
  let from = 0;
  while (from < values.length && (values[from] as number) <= last) {
    from += ROW_VALUES;
  }
  const newer = values.slice(from);
  transaction(db, () => new BatchInsert(db, EVENT_COLUMNS).run(newer));
  return { rows: newer.length / ROW_VALUES, droppedBytes: bytes.length - read };
}

/**
 * The events in the journal of the data directory `dir`, oldest first,
 * read without changing it (the `history` tool, while a server runs or
 * after one was killed): those the database may not have yet. Read it
 * before the database, so that rows the server moves in between are in
 * one or the other.
 */
export function journalEvents(dir: string): RoomEvent[] {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(join(dir, JOURNAL_FILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const { values } = decodeJournal(bytes);
  const events: RoomEvent[] = [];
  for (let at = 0; at < values.length; at += ROW_VALUES) {
    const [seq, time, , line, id, effect, effectValue] = values.slice(
      at,
      at + ROW_VALUES,
    ) as [number, number, string, string, ...(string | null)[]];
    const event = toRoomEvent({ seq, time, line, id, effect, effectValue });
    if (event !== null) events.push(event);
  }
  return events;
}
