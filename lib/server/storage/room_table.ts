/**
 * The SQLite {@linkcode RoomStore} of a data directory: registered rooms in
 * the table `rooms` (one row each, its lists as JSON: each is bounded by
 * `--max-room-entries`; with where its current incarnation begins) and
 * accounts' rooms in `account_rooms` (one row per room, in the order
 * joined, with the incarnation joined; deleting an account deletes them).
 * Every change is one transaction. A row that is not a room record
 * (written by hand) fails {@linkcode SqliteRoomStore.load} with one clear
 * error: a room's bans silently dropped would let the banned back in.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { aliasKey } from "../../protocol.ts";
import {
  isRoomName,
  readRoomTopic,
  readSanctions,
  type RoomRecord,
  type RoomStoreLimits,
} from "../room/room_record.ts";
import {
  type AccountRoom,
  checkAccountRooms,
  checkRecord,
  type RoomStore,
} from "../room/room_store.ts";
import { lastExpiries, transaction } from "./events_table.ts";
import { lastSeq } from "./retention.ts";

/** The migration that makes the tables (`store.ts` runs it once). */
export const ROOM_TABLES = `CREATE TABLE IF NOT EXISTS rooms (
     name TEXT PRIMARY KEY,         -- #name, case-folded
     registered_by TEXT NOT NULL,   -- account, as written
     key_hash TEXT,                 -- sha256$salt$digest, or NULL: no key
     invite_only INTEGER NOT NULL,
     operators TEXT NOT NULL,       -- JSON: account names, lower case
     invites TEXT NOT NULL,         -- JSON: account names or aliases
     bans TEXT NOT NULL,            -- JSON: sanctions, as moderation.ts
     mutes TEXT NOT NULL,           -- JSON: sanctions
     topic TEXT                     -- JSON {text, by}, or NULL
   ) WITHOUT ROWID;
   CREATE TABLE IF NOT EXISTS account_rooms (
     account TEXT NOT NULL,         -- alias, lower case
     position INTEGER NOT NULL,     -- 0, 1, ... in the order joined
     room TEXT NOT NULL,
     PRIMARY KEY (account, position)
   ) WITHOUT ROWID;
   CREATE TRIGGER IF NOT EXISTS accounts_deleted_rooms AFTER DELETE ON accounts
   BEGIN
     DELETE FROM account_rooms WHERE account = old.key;
   END;`;

/**
 * The migration that gives each account's room the incarnation it joined
 * (`since`): NULL for the rows stored before, not known (`rejoinable` in
 * `room_keeper.ts` says what that allows). Nothing when the column is
 * there (a database made since, set back).
 */
export function addAccountRoomStarts(db: DatabaseSync): void {
  if (hasColumn(db, "account_rooms", "since")) return;
  db.exec("ALTER TABLE account_rooms ADD COLUMN since INTEGER");
}

/**
 * The migration that gives each registered room its start (`since`: the
 * number of the last event before its current incarnation, as
 * `RoomState.since`): for the rooms registered before, the last
 * `MOD expire` of their name stored (none: NULL, looked for again at start).
 * Nothing when the column is there (a database made since, set back).
 */
export function addRoomStarts(db: DatabaseSync): void {
  if (hasColumn(db, "rooms", "since")) return;
  db.exec("ALTER TABLE rooms ADD COLUMN since INTEGER");
  const set = db.prepare("UPDATE rooms SET since = ? WHERE name = ?");
  for (const [room, seq] of lastExpiries(db)) set.run(seq, room);
}

/** Whether `table` (a name of ours, not a client's) has `column`. */
function hasColumn(db: DatabaseSync, table: string, column: string): boolean {
  const columns = db.prepare(`PRAGMA table_info(${table})`).all() as {
    name: string;
  }[];
  return columns.some(({ name }) => name === column);
}

/**
 * The last number this database gave an event, if any: kept by retention
 * when it deleted the newest rows (their rooms' tombstones are still there).
 */
function lastLine(db: DatabaseSync): number | null {
  return lastSeq(db) || null;
}

interface RoomRow {
  name: string;
  registeredBy: string | null;
  keyHash: string | null;
  inviteOnly: number;
  operators: string;
  invites: string;
  bans: string;
  mutes: string;
  topic: string | null;
}

/** Options of {@linkcode SqliteRoomStore}. */
export interface SqliteRoomStoreOptions extends RoomStoreLimits {
  /**
   * Whether rooms' starts are stored: only when the room log is this
   * database's (its numbers), not a log in memory or a cluster's.
   * @default {true}
   */
  readonly starts?: boolean;
}

/** Registered rooms and accounts' rooms in a data directory's database. */
export class SqliteRoomStore implements RoomStore {
  #db: DatabaseSync;
  #limits: RoomStoreLimits;
  #starts: boolean;

  /** The store in `db` (migrated by `openStore`), within the limits. */
  constructor(db: DatabaseSync, options: SqliteRoomStoreOptions) {
    this.#db = db;
    this.#limits = options;
    this.#starts = options.starts ?? true;
  }

  /** See {@linkcode RoomStore.load}; throws for a row that is no record. */
  load(): RoomRecord[] {
    const rows = this.#db.prepare(
      `SELECT name, registered_by AS registeredBy, key_hash AS keyHash,
           invite_only AS inviteOnly, operators, invites, bans, mutes, topic
         FROM rooms ORDER BY name`,
    ).all() as unknown as RoomRow[];
    return rows.map(toRecord);
  }

  /**
   * See {@linkcode RoomStore.starts}; a room stored without one (by an
   * older release, or while the log was not this database) begins after
   * the last `MOD expire` of its name the log still holds, if any.
   */
  starts(): Map<string, number> {
    const rows = this.#db.prepare("SELECT name, since FROM rooms ORDER BY name")
      .all() as { name: string; since: number | null }[];
    const expiries = rows.some((row) => row.since === null)
      ? lastExpiries(this.#db)
      : new Map<string, number>();
    return new Map(rows.flatMap(({ name, since }) => {
      const at = since ?? expiries.get(name);
      return at === undefined ? [] : [[name, Number(at)] as const];
    }));
  }

  /**
   * See {@linkcode RoomStore.save}. With starts off, a room first stored
   * begins after the last line this database gave (its numbers are not
   * the log's: a server later alone must show none of an older room of
   * its name), and one stored before keeps what it has.
   */
  save(record: RoomRecord, since?: number): void {
    transaction(this.#db, () => {
      const { n } = this.#db.prepare(
        "SELECT COUNT(*) AS n FROM rooms WHERE name != ?",
      ).get(record.name) as { n: number };
      checkRecord(record, n, this.#limits);
      this.#db.prepare(
        `INSERT INTO rooms (name, registered_by, key_hash, invite_only,
             operators, invites, bans, mutes, topic, since)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET registered_by = excluded.registered_by,
             key_hash = excluded.key_hash, invite_only = excluded.invite_only,
             operators = excluded.operators, invites = excluded.invites,
             bans = excluded.bans, mutes = excluded.mutes, topic = excluded.topic,
             since = IFNULL(since, CASE WHEN ? THEN excluded.since END)`,
      ).run(
        record.name,
        record.registeredBy,
        record.keyHash,
        record.inviteOnly ? 1 : 0,
        JSON.stringify(record.operators),
        JSON.stringify(record.invites),
        JSON.stringify(record.bans),
        JSON.stringify(record.mutes),
        record.topic === null ? null : JSON.stringify(record.topic),
        this.#starts ? since ?? null : lastLine(this.#db),
        this.#starts ? 1 : 0,
      );
    });
  }

  /** See {@linkcode RoomStore.remove}. */
  remove(name: string): void {
    this.#db.prepare("DELETE FROM rooms WHERE name = ?").run(name);
  }

  /** See {@linkcode RoomStore.accountRooms}. */
  accountRooms(account: string): AccountRoom[] {
    return (this.#db.prepare(
      `SELECT room, since FROM account_rooms WHERE account = ?
         ORDER BY position`,
    ).all(aliasKey(account)) as { room: string; since: number | null }[])
      .map(({ room, since }) => ({
        room,
        since: since === null ? null : Number(since),
      }));
  }

  /** See {@linkcode RoomStore.setAccountRooms}. */
  setAccountRooms(account: string, rooms: readonly AccountRoom[]): void {
    const kept = checkAccountRooms(account, rooms, this.#limits);
    const key = aliasKey(account);
    transaction(this.#db, () => {
      this.#db.prepare("DELETE FROM account_rooms WHERE account = ?")
        .run(key);
      const insert = this.#db.prepare(
        `INSERT INTO account_rooms (account, position, room, since)
           VALUES (?, ?, ?, ?)`,
      );
      kept.forEach(({ room, since }, position) =>
        insert.run(key, position, room, since)
      );
    });
  }

  /** See {@linkcode RoomStore.forgetRooms}. */
  forgetRooms(gone: (room: string) => boolean): void {
    const rooms = this.#db.prepare("SELECT DISTINCT room FROM account_rooms")
      .all() as { room: string }[];
    const forget = this.#db.prepare("DELETE FROM account_rooms WHERE room = ?");
    transaction(this.#db, () => {
      for (const { room } of rooms) if (gone(room)) forget.run(room);
    });
  }

  /** See {@linkcode RoomStore.renumberRoom}. */
  renumberRoom(room: string, from: number, to: number): void {
    this.#db.prepare(
      "UPDATE account_rooms SET since = ? WHERE room = ? AND since = ?",
    ).run(to, room, from);
  }
}

/** A row as a record, or an error saying which room is damaged. */
function toRecord(row: RoomRow): RoomRecord {
  try {
    if (!isRoomName(row.name)) throw new TypeError("not a room name");
    if (typeof row.registeredBy !== "string") {
      throw new TypeError("nobody registered it");
    }
    const record: RoomRecord = {
      name: row.name,
      registeredBy: row.registeredBy,
      operators: strings(JSON.parse(row.operators)),
      keyHash: row.keyHash,
      inviteOnly: row.inviteOnly !== 0,
      invites: strings(JSON.parse(row.invites)),
      bans: readSanctions(row.bans, "ban"),
      mutes: readSanctions(row.mutes, "mute"),
      topic: row.topic === null ? null : topic(JSON.parse(row.topic)),
    };
    return record;
  } catch (e) {
    throw new Error(
      `Cannot load room "${row.name}": ${(e as Error).message}`,
      { cause: e },
    );
  }
}

function strings(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new TypeError("a list of names is not a list of strings");
  }
  return value;
}

function topic(value: unknown): RoomRecord["topic"] {
  const read = readRoomTopic(value);
  if (read === null) throw new TypeError("its topic is not a topic");
  return read;
}
