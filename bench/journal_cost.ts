/**
 * What the durable room log costs the event loop per turn, through the
 * real `SqliteLog` on a real data directory (`openStore` as the server
 * opens it: lock, journal, checkpoint worker): each turn appends `--rows`
 * messages with ids (as the server makes them) and waits until they are
 * handed on. Variants: no journal (a commit per turn: the log before the
 * journal), the journal with the database taking `N` lines at a time,
 * `--durability full`, with or without the checkpoint worker, and with an
 * index the next issues would add (a `(room, seq)` key, full-text search).
 *
 * ```sh
 * taskset -c 0 deno run --allow-read=bench/.run --allow-write=bench/.run bench/journal_cost.ts
 * taskset -c 0 deno run ... bench/journal_cost.ts --rows 46 --turns 2000
 * ```
 *
 * Variants are interleaved round by round; it prints, per variant, the
 * median over rounds of the mean µs per turn (wall clock: what the event
 * loop loses, including one turn of it), and the p99 and max of single
 * turns (the turns that flush show there).
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { systemClock } from "../lib/clock.ts";
import { LineIdMaker } from "../lib/server/room/room_log.ts";
import { MemoryLog } from "../lib/server/room/memory_log.ts";
import { SqliteLog } from "../lib/server/storage/sqlite_log.ts";
import { openStore } from "../lib/server/storage/store.ts";

const ROOT = new URL("..", import.meta.url).pathname;

interface Variant {
  readonly name: string;
  /** The log in memory instead (what durability is measured against). */
  readonly memory?: boolean;
  readonly journal: boolean;
  readonly flushLines?: number;
  readonly full?: boolean;
  readonly worker?: boolean;
  /** SQL run once on the fresh database (an index, a table). */
  readonly setup?: string;
}

const ROOM_KEY =
  `ALTER TABLE events ADD COLUMN room TEXT NOT NULL DEFAULT 'main';
  CREATE INDEX events_room ON events (room, seq)`;
const FTS = `CREATE VIRTUAL TABLE events_fts USING fts5(text, content='');
  CREATE TRIGGER events_fts_add AFTER INSERT ON events BEGIN
    INSERT INTO events_fts (rowid, text) VALUES (new.seq, new.line);
  END`;

const VARIANTS: readonly Variant[] = [
  { name: "in memory (MemoryLog)", journal: false, memory: true },
  { name: "commit a turn (before)", journal: false, worker: true },
  { name: "commit a turn, no worker", journal: false },
  { name: "journal, N=64", journal: true, flushLines: 64, worker: true },
  { name: "journal, N=256", journal: true, flushLines: 256, worker: true },
  { name: "journal, N=1024", journal: true, flushLines: 1024, worker: true },
  { name: "journal, N=256, no worker", journal: true, flushLines: 256 },
  { name: "journal, N=256 + (room, seq)", journal: true, setup: ROOM_KEY },
  { name: "journal, N=256 + FTS5", journal: true, setup: FTS },
  { name: "commit a turn + FTS5", journal: false, setup: FTS },
  { name: "commit a turn, full", journal: false, full: true },
  { name: "journal, N=256, full", journal: true, full: true },
];

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "6" },
    turns: { type: "string", default: "5000" },
    rounds: { type: "string", default: "5" },
    only: { type: "string", multiple: true },
  },
});
const rows = Number(values.rows);
const turns = Number(values.turns);
const variants = VARIANTS.filter((v) =>
  !values.only || values.only.some((o) => v.name.includes(o))
);

/** One round of a variant: µs per turn, each turn. */
async function round(variant: Variant, n: number): Promise<number[]> {
  const dir = `${ROOT}bench/.run/journal-cost-${n}`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const store = openStore(dir, {
    exclusive: true,
    checkpoints: variant.worker ?? false,
  });
  if (variant.setup) store.db.exec(variant.setup);
  const log = variant.memory
    ? new MemoryLog(systemClock, 500)
    : new SqliteLog(store.db, {
      clock: systemClock,
      keep: 500,
      durability: variant.full ? "full" : "normal",
      journal: variant.journal ? store.journal : null,
      flushLines: variant.flushLines ?? 256,
      flushMs: 60_000,
    });
  log.subscribe(() => {});
  const times: number[] = [];
  const text = "x".repeat(40);
  const ids = new LineIdMaker(); // as the room makes them
  for (let t = 0; t < turns; t++) {
    const start = performance.now();
    for (let r = 0; r < rows; r++) {
      log.append({ type: "MSG", alias: `m${r}`, text }, "1", {
        id: ids.next(),
      });
    }
    await log.settled();
    times.push((performance.now() - start) * 1000);
  }
  await log.close();
  store.close();
  await Deno.remove(dir, { recursive: true });
  return times;
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[xs.length >> 1]!;
const results = new Map<string, { means: number[]; all: number[] }>();
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [i, variant] of variants.entries()) {
    const times = await round(variant, i);
    const entry = results.get(variant.name) ?? { means: [], all: [] };
    entry.means.push(times.reduce((a, b) => a + b, 0) / times.length);
    entry.all.push(...times);
    results.set(variant.name, entry);
  }
}
console.log(`${rows} rows a turn, ${turns} turns, ${values.rounds} rounds`);
console.log("variant | µs a turn (median of means) | p99 | max");
for (const [name, { means, all }] of results) {
  const sorted = all.toSorted((a, b) => a - b);
  const p99 = sorted[Math.floor(sorted.length * 0.99)]!;
  console.log(
    `${name} | ${median(means).toFixed(1)} | ${p99.toFixed(0)} | ${
      sorted.at(-1)!.toFixed(0)
    }`,
  );
}
