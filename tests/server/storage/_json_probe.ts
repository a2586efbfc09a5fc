/**
 * Counts the stored lines whose JSON the queries of a database look into
 * (its `json_extract` and `json_valid` calls, SQLite's own run through
 * another database in memory), so that a test can say a catch-up reads no
 * other room's lines without timing it.
 */

import {
  DatabaseSync,
  type SQLInputValue,
  type SQLOutputValue,
} from "node:sqlite";

/** A counter of JSON looked into, on the databases it watches. */
export interface JsonProbe extends Disposable {
  /** Calls so far. */
  readonly read: number;
  /** Counts the calls of `db`'s queries prepared from now on. */
  watch(db: DatabaseSync): void;
  close(): void;
}

/** A new probe (close it). */
export function jsonProbe(): JsonProbe {
  const real = new DatabaseSync(":memory:");
  const calls = { read: 0 };
  const call = (sql: string) => {
    const statement = real.prepare(sql);
    return (...args: SQLInputValue[]) => {
      calls.read++;
      return (statement.get(...args) as { v: SQLOutputValue }).v;
    };
  };
  const extract = call("SELECT json_extract(?, ?) AS v");
  const valid = call("SELECT json_valid(?) AS v");
  const options = { deterministic: true, varargs: true };
  return {
    get read() {
      return calls.read;
    },
    watch(db: DatabaseSync) {
      db.function("json_extract", options, extract);
      db.function("json_valid", options, valid);
    },
    close: () => real.close(),
    [Symbol.dispose]: () => real.close(),
  };
}
