/**
 * What `/search` costs on a large index, without the server around it: the
 * index (`SearchIndex`: its worker and its file, `search.db`) filled with
 * `--messages` messages in batches as the indexer posts them, then
 * searches timed as the server runs them (the newest 50, in the rooms of a
 * member, the last word a prefix; the time includes the round trip to the
 * worker): a common word, a rare word, three words, a common word in a
 * quiet room, the start of many words. Run by `deno task bench` (after the
 * scenarios) or alone:
 *
 * ```sh
 * deno run --allow-read=bench/.run --allow-write=bench/.run bench/search_cost.ts
 * deno run --allow-read=bench/.run --allow-write=bench/.run bench/search_cost.ts --messages 100000
 * ```
 *
 * It prints the time to index them all, the index file's size, and per query
 * the median and max of `--searches` runs, in ms.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { systemClock } from "../lib/clock.ts";
import {
  type IndexedLine,
  SEARCH_FILE,
  SearchIndex,
} from "../lib/server/storage/search_index.ts";
import { searchMatch } from "../lib/server/storage/search_query.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Words of the made-up messages: a few common, most rarer. */
const WORDS = Array.from({ length: 5_000 }, (_, i) => `w${i.toString(36)}`);

/** A message of 8 to 15 words, skewed toward the first ones (Zipf-like). */
function message(random: () => number): string {
  const count = 8 + Math.floor(random() * 8);
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    words.push(WORDS[Math.floor(WORDS.length * random() ** 3)]!);
  }
  return words.join(" ");
}

/** A seeded random number generator (mulberry32): the same data each run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the measurement; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      messages: { type: "string", default: "1000000" },
      searches: { type: "string", default: "20" },
    },
  });
  const total = Number(values.messages);
  const runs = Number(values.searches);
  await Deno.mkdir(`${ROOT}bench/.run`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}bench/.run` });
  const index = new SearchIndex({
    path: `${dir}/${SEARCH_FILE}`,
    epoch: () => "bench",
    chat: null,
    clock: systemClock,
    // Indexing all of it is measured by a find that waits for the lot.
    searchTimeoutMs: 30 * 60_000,
  });
  try {
    const random = seeded(17);
    // 20 rooms; #quiet gets one message in 1,000.
    const rooms = ["", ...Array.from({ length: 18 }, (_, i) => `#r${i}`)];
    const start = performance.now();
    const batch: IndexedLine[] = [];
    for (let seq = 1; seq <= total; seq++) {
      const room = seq % 1000 === 0
        ? "#quiet"
        : rooms[Math.floor(random() * rooms.length)]!;
      const text = seq % 100_000 === 0
        ? `${message(random)} zebracorn`
        : message(random);
      batch.push({ seq, time: seq, room, kind: "MSG", alias: "amy", text });
      if (batch.length === 512 || seq === total) {
        index.add(batch);
        batch.length = 0;
      }
    }
    await index.find(searchMatch(["nowhere"], [""])!, 1); // all written
    const indexS = (performance.now() - start) / 1000;
    const bytes = (await Deno.stat(`${dir}/${SEARCH_FILE}`)).size +
      (await Deno.stat(`${dir}/${SEARCH_FILE}-wal`)).size;
    console.log(
      `search index: ${total} messages indexed in ${indexS.toFixed(1)} s (${
        Math.round(total / indexS)
      }/s), index file ${(bytes / 2 ** 20).toFixed(0)} MiB`,
    );
    const member = ["", "#r0", "#r1", "#quiet"];
    const queries: [string, string[], string[]][] = [
      ["common word", [WORDS[0]!], member],
      ["rare word", ["zebracorn"], member],
      ["three words", [WORDS[1]!, WORDS[5]!, WORDS[40]!], member],
      ["common word, quiet room only", [WORDS[0]!], ["#quiet"]],
      ["absent word", ["nowhere"], member],
      ["start of many words", ["w1"], member],
    ];
    for (const [name, words, scope] of queries) {
      const times: number[] = [];
      let found = 0;
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        found = (await index.find(searchMatch(words, scope)!, 50)).length;
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(
        `search ${name}: median ${
          times[Math.floor(times.length / 2)]!.toFixed(2)
        } ms, max ${times.at(-1)!.toFixed(2)} ms (${found} found)`,
      );
    }
  } finally {
    await index.close();
    await Deno.remove(dir, { recursive: true });
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
