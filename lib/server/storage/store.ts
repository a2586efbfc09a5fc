/**
 * The server's data directory and its one SQLite database (`node:sqlite`,
 * WAL mode): accounts (and the addresses they log in from), bans and mutes,
 * room settings such as the topic, the room's history, registered
 * rooms with the rooms each account is in, and accounts' read markers. It creates the
 * directory with mode 0700, migrates the schema forward by `user_version`,
 * and turns an unusable database (damaged, locked, from a newer tlschat)
 * into one clear error instead of silent loss.
 * A server holds the directory's lock file for as long as it runs, so a
 * second server on the same directory is refused; the `users` and `history`
 * tools share the database with a running server. Everything else reads and
 * writes through the stores built on it (`accounts.ts`, `moderation.ts`,
 * `sqlite_log.ts`, `room_table.ts`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { aliasSkeleton } from "../../text.ts";
import { lineSign } from "../room/room_log.ts";
import { DEDUPE_MAX_LINES } from "../room/recent_ids.ts";
import { Checkpoints } from "./checkpoints.ts";
import { dateTopics } from "./dated_topics.ts";
import { transaction } from "./events_table.ts";
import {
  addAccountRoomStarts,
  addRoomStarts,
  ROOM_TABLES,
} from "./room_table.ts";
import { MARKERS_TABLE } from "./markers_table.ts";
import {
  TOMBSTONES_IN_ORDER,
  TOMBSTONES_ROOM_INDEX,
  TOMBSTONES_TABLE,
  untoldThrough,
} from "./tombstones_table.ts";
import { deletedThrough } from "./retention.ts";
import {
  Journal,
  JOURNAL_FILE,
  type JournalRecovery,
  openJournal,
} from "./journal.ts";

/** Name of the database file in the data directory. */
export const DATABASE_FILE = "chat.db";

/** Name of the lock file a running server holds in the data directory. */
export const LOCK_FILE = "server.lock";

/**
 * How long a write waits for another program's write (the `users` tool)
 * before it fails. Short: the server's thread waits with it.
 */
const BUSY_TIMEOUT_MS = 500;

/**
 * Schema migrations, in order; `user_version` counts those applied. Each is
 * SQL, or a function for what SQL cannot compute.
 */
const MIGRATIONS: readonly (string | ((db: DatabaseSync) => void))[] = [
  `CREATE TABLE accounts (
     key TEXT PRIMARY KEY,          -- alias, lower case
     alias TEXT NOT NULL,           -- as registered
     skeleton TEXT NOT NULL,        -- TR39 skeleton, for look-alikes
     hash TEXT NOT NULL,            -- scrypt$N$r$p$salt$key
     operator INTEGER NOT NULL DEFAULT 0,
     fingerprint TEXT,              -- pinned client certificate, or NULL
     created INTEGER NOT NULL
   );
   CREATE INDEX accounts_skeleton ON accounts (skeleton);
   CREATE TABLE sanctions (
     id INTEGER PRIMARY KEY,
     type TEXT NOT NULL,            -- ban | mute
     kind TEXT NOT NULL,            -- account | address
     target TEXT NOT NULL,          -- account alias, or address[/prefix]
     label TEXT NOT NULL,           -- what the operator named (alias or range)
     until INTEGER,                 -- ms since the epoch; NULL: no end
     by TEXT NOT NULL,
     reason TEXT NOT NULL,
     created INTEGER NOT NULL
   );
   CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  // No AUTOINCREMENT and no index on time: each costs about as much again
  // per commit. Retention keeps the last number in `settings` instead, and
  // finds old rows from the oldest end (times grow with numbers).
  `CREATE TABLE events (
     seq INTEGER PRIMARY KEY,       -- 1, 2, 3, ... never reused
     time INTEGER NOT NULL,         -- ms since the epoch
     type TEXT NOT NULL,            -- MSG ME JOIN LEAVE NICK TOPIC MOD
     line TEXT NOT NULL             -- the line's fields, as JSON
   );`,
  // The address groups each account logged in from lately: the per-account
  // login limit does not hold them back (login_limiter.ts).
  `CREATE TABLE logins (
     key TEXT NOT NULL,             -- account: alias, lower case
     address TEXT NOT NULL,         -- IPv4 address, or IPv6 /64
     last INTEGER NOT NULL,         -- ms since the epoch
     PRIMARY KEY (key, address)
   ) WITHOUT ROWID;
   CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts BEGIN
     DELETE FROM logins WHERE key = old.key;
   END;`,
  // Skeletons ignore punctuation now (carol_ looks like carol). A later
  // change to aliasSkeleton() needs a migration like this one.
  (db) => {
    const update = db.prepare("UPDATE accounts SET skeleton = ? WHERE key = ?");
    const rows = db.prepare("SELECT key, alias FROM accounts").all() as {
      key: string;
      alias: string;
    }[];
    for (const { key, alias } of rows) update.run(aliasSkeleton(alias), key);
  },
  // Each message's id (the client's or the server's), so that a line sent
  // again is not stored twice, across restarts too. No index: the server
  // keeps the recent ids in memory, loaded at start (sqlite_log.ts).
  (db) => {
    const columns = db.prepare("PRAGMA table_info(events)").all() as {
      name: string;
    }[];
    if (columns.some((column) => column.name === "id")) return;
    db.exec("ALTER TABLE events ADD COLUMN id TEXT");
  },
  // The ids of lines, each with its line's sign, in a table of their own:
  // retention deletes events, never these ids, so an id cannot be stored
  // twice after its line aged out. Keyed by the line's number (trimmed from
  // the oldest end); retention writes the ids of the lines it deletes while
  // the log still holds them (retention.ts); those of the lines in events
  // are read from there. No index on id: the server keeps the window in
  // memory, loaded from both at start (stored_ids.ts).
  (db) => {
    db.exec(`CREATE TABLE IF NOT EXISTS line_ids (
       seq INTEGER PRIMARY KEY,       -- the line's number in events
       id TEXT NOT NULL,
       sign TEXT NOT NULL,            -- lineSign() of the line
       time INTEGER NOT NULL          -- ms since the epoch
     )`);
    const rows = db.prepare(
      `SELECT seq, time, line, id FROM events WHERE id IS NOT NULL
       ORDER BY seq DESC LIMIT ?`,
    ).all(DEDUPE_MAX_LINES) as {
      seq: number;
      time: number;
      line: string;
      id: string;
    }[];
    const insert = db.prepare(
      "INSERT OR IGNORE INTO line_ids (seq, id, sign, time) VALUES (?, ?, ?, ?)",
    );
    for (const { seq, time, line, id } of rows) {
      try {
        insert.run(seq, id, lineSign(JSON.parse(line)), time);
      } catch {
        // A row that is not a line (written by hand): its id stays free.
      }
    }
  },
  // What an event does beyond its line (room_log.ts, EventEffect): its
  // kind and its value as JSON. Rows of earlier releases have none.
  (db) => {
    const columns = db.prepare("PRAGMA table_info(events)").all() as {
      name: string;
    }[];
    if (columns.some((column) => column.name === "effect")) return;
    db.exec(`ALTER TABLE events ADD COLUMN effect TEXT; -- sanctions topic bye
      ALTER TABLE events ADD COLUMN effect_value TEXT;  -- its value, as JSON`);
  },
  // Registered rooms, and the rooms each account is in (room_table.ts).
  ROOM_TABLES,
  // The full-text index of what was said, for /search: a table here then,
  // made and dropped below (search.db has it now: search_index.ts).
  "SELECT 1",
  // Accounts' read markers (markers_table.ts).
  MARKERS_TABLE,
  // The index moved to its own file, written by its own worker.
  "DROP TABLE IF EXISTS search",
  // The numbers and rooms of the events retention deletes
  // (tombstones_table.ts); what it deleted before is not remembered.
  (db) => {
    db.exec(TOMBSTONES_TABLE);
    untoldThrough(db, deletedThrough(db));
  },
  // A room's tombstones read without a scan of every room's.
  TOMBSTONES_ROOM_INDEX,
  // Tombstones numbered in the order written (the search index's watermark).
  TOMBSTONES_IN_ORDER,
  // Where each registered room's current incarnation begins (room_table.ts).
  addRoomStarts,
  // The incarnation of each room an account joined (room_table.ts).
  addAccountRoomStarts,
  // When each topic kept before was set, from the log (dated_topics.ts).
  dateTopics,
];

/** An open data directory: the database, and where it lives. */
export interface Store extends Disposable {
  readonly db: DatabaseSync;
  /** The data directory, or null for a database in memory (tests). */
  readonly dir: string | null;
  /**
   * A server's history journal (`journal.ts`), opened with the lock held;
   * none otherwise.
   */
  readonly journal: Journal | null;
  /** What the journal held at start, inserted into the database then. */
  readonly recovery: JournalRecovery | null;
  close(): void;
}

/** Options of {@linkcode openStore}. */
export interface StoreOptions {
  /**
   * Hold the directory's lock file (a server): throws if another server
   * holds it, and its history journal (rows a killed server left there
   * are inserted into the database first). Tools that share the database
   * with a server do not. @default {false}
   */
  readonly exclusive?: boolean;
  /** Open the database read-only (the `history` tool). */
  readonly readOnly?: boolean;
  /**
   * A server's log is checkpointed by a worker, off the event loop (see
   * `checkpoints.ts`). @default {false}
   */
  readonly checkpoints?: boolean;
  /** How often the worker checkpoints. @default {100} */
  readonly checkpointEveryMs?: number;
  /** See `CheckpointsOptions.onCheckpoint` (tests). */
  readonly onCheckpoint?: (pages: number) => void;
}

/**
 * Opens (creating it if needed) the data directory and its database, checks
 * it and brings the schema up to date. `dir` null opens a private database
 * in memory. Throws an error whose message says what to do when the
 * directory or the database cannot be used; nothing is changed then.
 */
export function openStore(
  dir: string | null,
  options: StoreOptions = {},
): Store {
  if (dir === null) {
    const db = new DatabaseSync(":memory:");
    migrate(db, false);
    return handle(db, null, () => {}, null, null);
  }
  const path = join(dir, DATABASE_FILE);
  if (!options.readOnly) {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Only the server's user reads accounts, bans and history.
    Deno.chmodSync(dir, 0o700);
  }
  const unlock = options.exclusive ? lockDirectory(dir) : () => {};
  let db: DatabaseSync | undefined;
  let checkpoints: Checkpoints | undefined;
  let opened: ReturnType<typeof openJournal> | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: options.readOnly ?? false });
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!options.readOnly) db.exec("PRAGMA journal_mode = WAL");
    check(db);
    migrate(db, options.readOnly ?? false);
    if (options.exclusive) {
      // Fails now, not at the first message, if another program holds a
      // write lock.
      db.exec("BEGIN IMMEDIATE; COMMIT");
      opened = openJournal(join(dir, JOURNAL_FILE), db);
    }
    if (options.checkpoints) {
      checkpoints = new Checkpoints(db, path, {
        everyMs: options.checkpointEveryMs,
        onCheckpoint: options.onCheckpoint,
      });
    }
  } catch (e) {
    opened?.journal.close();
    checkpoints?.close();
    db?.close();
    unlock();
    throw new Error(`Cannot use the database "${path}": ${explain(e)}`, {
      cause: e,
    });
  }
  const { journal = null, recovery = null } = opened ?? {};
  return handle(db, dir, unlock, journal, recovery, checkpoints);
}

function handle(
  db: DatabaseSync,
  dir: string | null,
  unlock: () => void,
  journal: Journal | null,
  recovery: JournalRecovery | null,
  checkpoints?: Checkpoints,
): Store {
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    journal?.close();
    checkpoints?.close();
    db.close();
    unlock();
  };
  return { db, dir, journal, recovery, close, [Symbol.dispose]: close };
}

/**
 * Takes the data directory's lock file, or throws saying which process
 * holds it. The lock goes with the process, however it ends (SIGKILL too).
 */
function lockDirectory(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  if (!file.tryLockSync(true)) {
    const holder = new TextDecoder().decode(Deno.readFileSync(path)).trim();
    file.close();
    throw new Error(
      `Cannot use the data directory "${dir}": another tlschat server${
        /^\d+$/.test(holder) ? ` (pid ${holder})` : ""
      } is using it. One data directory serves one server: stop the other one, or give this one its own --data-dir`,
    );
  }
  file.truncateSync(0);
  file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
  return () => file.close();
}

/** Reads the whole file, so that damage shows now and not in a week. */
function check(db: DatabaseSync): void {
  const rows = db.prepare("PRAGMA quick_check").all() as {
    quick_check: string;
  }[];
  const problems = rows.map((row) => row.quick_check.replace(/\s+/g, " "))
    .filter((r) => r !== "ok");
  if (problems.length > 0) {
    throw new Error(
      `the integrity check failed: ${problems.slice(0, 3).join("; ")}`,
    );
  }
}

/** The error, and what it probably means. */
function explain(e: unknown): string {
  const message = (e as Error).message;
  if (/locked|busy/i.test(message)) {
    return `${message}. Another program is writing to it: stop it and start again`;
  }
  if (/older tlschat/.test(message)) return message;
  if (/disk is full/i.test(message)) {
    return `${message}. Free some space and start again; nothing was lost or changed`;
  }
  if (/readonly|read-only/i.test(message)) {
    return `${message}. It is not damaged: this user may read the database but not its data directory (SQLite needs to create chat.db-shm there); run as the server's user`;
  }
  if (/unable to open/.test(message)) {
    return `${message}. Does it exist? Check --data-dir`;
  }
  if (/newer than this server/.test(message)) {
    return `${message}. Upgrade tlschat; nothing was changed`;
  }
  return `${message}. It is damaged or not a tlschat database; nothing was changed. Restore it from a backup, or move it away to start with an empty one`;
}
/** Brings the schema up to date; read-only, only checks that it is. */
function migrate(db: DatabaseSync, readOnly: boolean): void {
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  if (version > MIGRATIONS.length) {
    throw new Error(
      `its schema version ${version} is newer than this server's ${MIGRATIONS.length}`,
    );
  }
  if (readOnly && version < MIGRATIONS.length) {
    throw new Error(
      `it is from an older tlschat (schema version ${version}): start the server once to bring it up to date`,
    );
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    transaction(db, () => {
      const migration = MIGRATIONS[v]!;
      if (typeof migration === "string") db.exec(migration);
      else migration(db);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    });
  }
}

/** Bytes of the database's pages in use (free pages not counted). */
export function databaseBytes(db: DatabaseSync): number {
  const pragma = (name: string) =>
    Number(Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0] ?? 0);
  return (pragma("page_count") - pragma("freelist_count")) *
    pragma("page_size");
}
