/**
 * The server's data directory and its one SQLite database (`node:sqlite`,
 * WAL mode): accounts, bans and mutes, room settings such as the topic. It
 * creates the directory with mode 0700, migrates the schema forward by
 * `user_version`, and turns an unusable database into one clear error
 * instead of silent loss. Everything else reads and writes through the
 * stores built on it (`accounts.ts`, `moderation.ts`).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";

/** Name of the database file in the data directory. */
export const DATABASE_FILE = "chat.db";

/** Schema migrations, in order; `user_version` counts those applied. */
const MIGRATIONS: readonly string[] = [
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
];

/** An open data directory: the database, and where it lives. */
export interface Store extends Disposable {
  readonly db: DatabaseSync;
  /** The data directory, or null for a database in memory (tests). */
  readonly dir: string | null;
  close(): void;
}

/**
 * Opens (creating it if needed) the data directory and its database, and
 * brings the schema up to date. `dir` null opens a private database in
 * memory. Throws an error whose message says what to do when the directory
 * or the database cannot be used.
 */
export function openStore(dir: string | null): Store {
  let db: DatabaseSync;
  if (dir === null) {
    db = new DatabaseSync(":memory:");
  } else {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Only the server's user reads accounts and bans, however it was made.
    Deno.chmodSync(dir, 0o700);
    const path = join(dir, DATABASE_FILE);
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 2000;");
    } catch (e) {
      throw new Error(
        `Cannot open the database "${path}": ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  try {
    migrate(db);
  } catch (e) {
    db.close();
    throw new Error(
      `Cannot use the database${
        dir === null ? "" : ` "${join(dir, DATABASE_FILE)}"`
      }: ${
        (e as Error).message
      }. It may be damaged or from a newer tlschat; nothing was changed`,
      { cause: e },
    );
  }
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    db.close();
  };
  return { db, dir, close, [Symbol.dispose]: close };
}

function migrate(db: DatabaseSync): void {
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  if (version > MIGRATIONS.length) {
    throw new Error(
      `its schema version ${version} is newer than this server's ${MIGRATIONS.length}`,
    );
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.exec("BEGIN");
    try {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }
}
