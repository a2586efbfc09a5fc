/**
 * What one commit of the durable room log costs, without the server around
 * it: the same database (`openStore`: WAL, the schema and its migrations),
 * the same pragmas (`synchronous` as `--durability` sets it) and the same
 * statements as `SqliteLog`, on a fresh data directory per variant.
 *
 * ```sh
 * deno run --allow-read=bench/.run --allow-write=bench/.run bench/commit_cost.ts
 * deno run --allow-read=bench/.run --allow-write=bench/.run bench/commit_cost.ts --rows 4 --commits 20000
 * taskset -c 0 deno run ... bench/commit_cost.ts --only events --only line_ids
 * ```
 *
 * Each variant runs `--rounds` rounds of `--commits` transactions of `--rows`
 * message rows each, the variants interleaved round by round (so that the
 * machine's noise falls on all of them alike); it prints the median over
 * rounds of the mean µs per commit, and the p99 and max of single commits
 * (checkpoints show there). Times are wall clock on the calling thread: what
 * the event loop would lose.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { openStore } from "../lib/server/storage/store.ts";
import { lineSign } from "../lib/server/room/room_log.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** One way of writing a message row, and what the schema has for it. */
interface Variant {
  readonly name: string;
  readonly sync?: "NORMAL" | "FULL";
  /** SQL run once on the fresh database (an index, a table). */
  readonly setup?: string;
  /** Writes the extra rows for one message (beyond `events`). */
  readonly extra?: (db: DatabaseSync) => (seq: number, id: string) => void;
  /**
   * `line_ids`: a row per message in each commit (before), a batch of 256
   * in the commit that reaches them (after), or none.
   */
  readonly ids: "each" | "batch" | "none";
  /** Leaves out the `events` row (to see what `line_ids` costs alone). */
  readonly noEvents?: boolean;
  /** Rows in a few statements (`VALUES (...), (...)`), not one a row. */
  readonly multi?: boolean;
  /** Checkpoints by the worker, as a server's store makes them. */
  readonly worker?: boolean;
  /**
   * Each message's room (one of 100): inside its JSON line (what rooms
   * store), or in a column of its own with an index (room, seq).
   */
  readonly room?: "line" | "column";
}

/** The write path after this change, and what an index would add to it. */
const AFTER = { ids: "batch", multi: true, worker: true } as const;

const VARIANTS: readonly Variant[] = [
  { name: "empty", ids: "none", noEvents: true },
  { name: "events", ids: "none" },
  { name: "line_ids", ids: "each", noEvents: true },
  { name: "before", ids: "each" },
  { name: "before,full", ids: "each", sync: "FULL" },
  { name: "events,multi", ids: "none", multi: true },
  { name: "multi+ids/256", ids: "batch", multi: true },
  { name: "after", ...AFTER },
  { name: "after,full", ...AFTER, worker: false, sync: "FULL" },
  { name: "after+worker,full", ...AFTER, sync: "FULL" },
  {
    name: "+index(time)",
    ...AFTER,
    setup: "CREATE INDEX events_time ON events (time)",
  },
  {
    name: "+index(id)",
    ...AFTER,
    setup: "CREATE INDEX events_id ON events (id)",
  },
  {
    name: "+room,index(room,seq)",
    ...AFTER,
    setup: `ALTER TABLE events ADD COLUMN room TEXT NOT NULL DEFAULT 'lobby';
            CREATE INDEX events_room ON events (room, seq)`,
  },
  { name: "+room in line", ...AFTER, room: "line" },
  {
    name: "+room col,idx(room,seq)",
    ...AFTER,
    room: "column",
    setup: `ALTER TABLE events ADD COLUMN room TEXT;
            CREATE INDEX events_room_seq ON events (room, seq)`,
  },
  {
    name: "+fts5(text)",
    ...AFTER,
    setup:
      "CREATE VIRTUAL TABLE events_text USING fts5(text, content='', contentless_delete=1)",
    extra: (db) => {
      const insert = db.prepare(
        "INSERT INTO events_text (rowid, text) VALUES (?, ?)",
      );
      return (seq, id) => insert.run(seq, `message ${id} from m3 about things`);
    },
  },
];

/** The µs each commit of one round took. */
function round(
  db: DatabaseSync,
  write: (first: number, rows: number) => void,
  commits: number,
  rows: number,
  first: number,
): number[] {
  const times = new Array<number>(commits);
  for (let c = 0; c < commits; c++) {
    const start = performance.now();
    db.exec("BEGIN");
    write(first + c * rows + 1, rows);
    db.exec("COMMIT");
    times[c] = (performance.now() - start) * 1000;
  }
  return times;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

interface Open {
  readonly variant: Variant;
  readonly db: DatabaseSync;
  readonly write: (first: number, rows: number) => void;
  readonly close: () => void;
  readonly means: number[];
  readonly all: number[];
}

function open(variant: Variant, dir: string): Open {
  const store = openStore(dir, {
    exclusive: true,
    checkpoints: variant.worker ?? false,
  });
  const db = store.db;
  db.exec(`PRAGMA synchronous = ${variant.sync ?? "NORMAL"}`);
  if (variant.setup) db.exec(variant.setup);
  const extra = variant.extra?.(db);
  // The sign is computed by every log, the one in memory too: not counted.
  const sign = lineSign({ type: "MSG", alias: "m3", text: "message" });
  const insert = statements(
    db,
    variant.room === "column"
      ? "events (seq, time, type, line, id, room)"
      : "events (seq, time, type, line, id)",
  );
  const insertIds = statements(db, "line_ids (seq, id, sign, time)");
  let unflushed: SQLInputValue[] = [];
  const write = (first: number, rows: number) => {
    const events: SQLInputValue[] = [];
    const ids: SQLInputValue[] = [];
    for (let seq = first; seq < first + rows; seq++) {
      const id = `k${seq.toString(36)}x${(seq * 7919).toString(36)}`;
      const line = { type: "MSG", alias: "m3", text: `message ${seq}` };
      const room = `#room-${seq % 100}`;
      const time = Date.now();
      if (!variant.noEvents) {
        const json = JSON.stringify(
          variant.room === "line" ? { ...line, room } : line,
        );
        const row: SQLInputValue[] = [seq, time, line.type, json, id];
        if (variant.room === "column") row.push(room);
        if (variant.multi) events.push(...row);
        else insert(1).run(...row);
      }
      if (variant.ids === "each" && !variant.multi) {
        insertIds(1).run(seq, id, sign, time);
      } else if (variant.ids !== "none") ids.push(seq, id, sign, time);
      extra?.(seq, id);
    }
    if (events.length > 0) insert(rows).run(...events);
    if (variant.ids === "each" && ids.length > 0) insertIds(rows).run(...ids);
    if (variant.ids === "batch") {
      unflushed.push(...ids);
      if (unflushed.length >= 256 * 4) {
        for (let i = 0; i < unflushed.length; i += 32 * 4) {
          const chunk = unflushed.slice(i, i + 32 * 4);
          insertIds(chunk.length / 4).run(...chunk);
        }
        unflushed = [];
      }
    }
  };
  return { variant, db, write, close: store.close, means: [], all: [] };
}

/** Prepared `INSERT`s of n rows into `into`, made on first use. */
function statements(
  db: DatabaseSync,
  into: string,
): (rows: number) => StatementSync {
  const made = new Map<number, StatementSync>();
  const row = `(${into.split(",").map(() => "?").join(", ")})`;
  return (rows) => {
    let statement = made.get(rows);
    if (!statement) {
      statement = db.prepare(
        `INSERT INTO ${into} VALUES ${Array(rows).fill(row)}`,
      );
      made.set(rows, statement);
    }
    return statement;
  };
}

/** Runs the micro-benchmark; resolves to the exit code. */
export function main(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      rows: { type: "string", default: "1" },
      commits: { type: "string", default: "5000" },
      rounds: { type: "string", default: "7" },
      only: { type: "string", multiple: true },
    },
  });
  const rows = Number(values.rows);
  const commits = Number(values.commits);
  const rounds = Number(values.rounds);
  const chosen = VARIANTS.filter((v) =>
    !values.only || values.only.includes(v.name)
  );
  Deno.mkdirSync(`${ROOT}bench/.run`, { recursive: true });
  const base = Deno.makeTempDirSync({ dir: `${ROOT}bench/.run` });
  const opened = chosen.map((v, i) => open(v, `${base}/${i}`));
  try {
    // A warm-up round each, not counted.
    for (const o of opened) round(o.db, o.write, commits, rows, 0);
    for (let r = 1; r <= rounds; r++) {
      for (const o of opened) {
        const times = round(o.db, o.write, commits, rows, r * commits * rows);
        o.means.push(times.reduce((a, b) => a + b, 0) / times.length);
        o.all.push(...times);
      }
    }
    console.log(
      `commit_cost ${
        new Date().toISOString()
      } | ${rows} row(s) per commit, ${commits} commits x ${rounds} rounds | deno ${Deno.version.deno}`,
    );
    console.log(
      "variant".padEnd(24) +
        ["µs/commit", "min..max round", "p50", "p99", "max"].map((h) =>
          h.padStart(16)
        ).join(""),
    );
    for (const o of opened) {
      const sorted = o.all.sort((a, b) => a - b);
      const cells = [
        median(o.means).toFixed(1),
        `${Math.min(...o.means).toFixed(1)}..${
          Math.max(...o.means).toFixed(1)
        }`,
        quantile(sorted, 0.5).toFixed(1),
        quantile(sorted, 0.99).toFixed(1),
        sorted.at(-1)!.toFixed(0),
      ];
      console.log(
        o.variant.name.padEnd(24) +
          cells.map((c) => c.padStart(16)).join(""),
      );
    }
  } finally {
    for (const o of opened) o.close();
    Deno.removeSync(base, { recursive: true });
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(main(Deno.args));
}
