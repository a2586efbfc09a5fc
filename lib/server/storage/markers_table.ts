/**
 * The {@linkcode ReadMarkers} of a server alone, in its data directory's
 * database: the table `read_markers`, one row per account and room (at
 * most `markersPerAccount` per account; deleting an account deletes them).
 * Each change is one statement or one transaction, on the server's thread:
 * two `/read`s cannot interleave.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { aliasKey } from "../../protocol.ts";
import {
  grows,
  isReadMarker,
  markersPerAccount,
  type ReadListener,
  type ReadMark,
  type ReadMarker,
  type ReadMarkers,
} from "../room/read_markers.ts";
import { transaction } from "./events_table.ts";

/** The migration that makes the table (`store.ts` runs it once). */
export const MARKERS_TABLE = `CREATE TABLE IF NOT EXISTS read_markers (
     account TEXT NOT NULL,         -- alias, lower case
     room TEXT NOT NULL,            -- #name, case-folded
     epoch TEXT NOT NULL,           -- the log's epoch of seq
     seq INTEGER NOT NULL,          -- the last number read
     turn INTEGER NOT NULL,         -- 1, 2, ... per account: the oldest goes
     PRIMARY KEY (account, room)
   ) WITHOUT ROWID;
   CREATE TRIGGER IF NOT EXISTS accounts_deleted_markers AFTER DELETE ON accounts
   BEGIN
     DELETE FROM read_markers WHERE account = old.key;
   END;`;

interface MarkerRow {
  room: string;
  epoch: string;
  seq: number;
  turn: number;
}

/** Accounts' read markers in a data directory's database. */
export class SqliteReadMarkers implements ReadMarkers {
  #db: DatabaseSync;
  #most: number;
  #listeners: ReadListener[] = [];

  /** The markers in `db` (migrated by `openStore`), within `limits`. */
  constructor(
    db: DatabaseSync,
    limits: { readonly maxRoomsPerMember: number },
  ) {
    this.#db = db;
    this.#most = markersPerAccount(limits);
  }

  /** See {@linkcode ReadMarkers.get}. */
  get(account: string): Promise<ReadonlyMap<string, ReadMarker>> {
    const markers = new Map<string, ReadMarker>();
    for (const { room, epoch, seq } of this.#rows(aliasKey(account))) {
      if (isReadMarker({ epoch, seq })) markers.set(room, { epoch, seq });
    }
    return Promise.resolve(markers);
  }

  /** See {@linkcode ReadMarkers.set}. */
  set(account: string, mark: ReadMark): Promise<boolean> {
    const key = aliasKey(account);
    const changed = transaction(this.#db, () => {
      const rows = this.#rows(key);
      const old = rows.find((row) => row.room === mark.room);
      if (!grows(old, mark)) return false;
      const turn = Math.max(0, ...rows.map((row) => row.turn)) + 1;
      if (old === undefined && rows.length >= this.#most) {
        const oldest = rows.reduce((a, b) => a.turn <= b.turn ? a : b);
        this.#db.prepare(
          "DELETE FROM read_markers WHERE account = ? AND room = ?",
        ).run(key, oldest.room);
      }
      this.#db.prepare(
        `INSERT OR REPLACE INTO read_markers (account, room, epoch, seq, turn)
           VALUES (?, ?, ?, ?, ?)`,
      ).run(key, mark.room, mark.epoch, mark.seq, turn);
      return true;
    });
    if (changed) {
      for (const listener of this.#listeners) {
        listener(key, mark);
      }
    }
    return Promise.resolve(changed);
  }

  /** See {@linkcode ReadMarkers.watch}: this server's markers only. */
  watch(listener: ReadListener): void {
    this.#listeners.push(listener);
  }

  #rows(key: string): MarkerRow[] {
    return this.#db.prepare(
      "SELECT room, epoch, seq, turn FROM read_markers WHERE account = ?",
    ).all(key) as unknown as MarkerRow[];
  }
}
