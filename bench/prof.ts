/**
 * Sums a V8 CPU profile (`.cpuprofile`, as written by `deno run --cpu-prof`
 * or `deno task bench --cpu-prof DIR`) into self time per function and per
 * file, over the busy part of the run only: from the first to the last
 * 100 ms step in which the process was busy at least half the time (the
 * load, not start-up or shutdown).
 *
 * ```sh
 * deno run --allow-read bench/prof.ts PROFILE [--per N] [--top 40]
 * ```
 *
 * `--per N` also divides each time by N (the deliveries or messages of the
 * busy stretch, say), in µs. Sampled (every 1 ms by default): compare
 * profiles of runs of the same length.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Nodes that are not JavaScript running: the idle loop and the collector. */
const IDLE = "(idle)";

/** Self time per function and per file over the busy stretch (µs). */
export interface Summary {
  /** µs sampled in the busy stretch, idle included. */
  wallUs: number;
  /** µs of it not idle. */
  busyUs: number;
  byFunction: Map<string, number>;
  byFile: Map<string, number>;
}

/** Sums `profile` over its busy stretch (see the module documentation). */
export function summarize(profile: Profile, stepUs = 100_000): Summary {
  const names = new Map<number, { fn: string; file: string }>();
  for (const { id, callFrame: f } of profile.nodes) {
    const file = f.url.replace(/^.*\/(lib|bench|ext|node)\//, "$1/") ||
      f.functionName;
    names.set(id, {
      fn: `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`,
      file,
    });
  }
  // Sample i lasts until sample i + 1.
  const times: number[] = [];
  let t = 0;
  for (const delta of profile.timeDeltas) times.push(t += delta);
  const steps: { busy: number; all: number }[] = [];
  for (let i = 0; i + 1 < times.length; i++) {
    const step = Math.floor(times[i]! / stepUs);
    const s = steps[step] ??= { busy: 0, all: 0 };
    const us = times[i + 1]! - times[i]!;
    s.all += us;
    if (names.get(profile.samples[i]!)?.fn.startsWith(IDLE) !== true) {
      s.busy += us;
    }
  }
  const busy = steps.flatMap((s, i) => isBusy(s) ? [i] : []);
  const from = (busy[0] ?? 0) * stepUs;
  const to = ((busy.at(-1) ?? -1) + 1) * stepUs;
  const summary: Summary = {
    wallUs: 0,
    busyUs: 0,
    byFunction: new Map(),
    byFile: new Map(),
  };
  for (let i = 0; i + 1 < times.length; i++) {
    if (times[i]! < from || times[i]! >= to) continue;
    const us = times[i + 1]! - times[i]!;
    const name = names.get(profile.samples[i]!)!;
    summary.wallUs += us;
    if (!name.fn.startsWith(IDLE)) summary.busyUs += us;
    add(summary.byFunction, name.fn, us);
    add(summary.byFile, name.file, us);
  }
  return summary;
}

function isBusy(step: { busy: number; all: number } | undefined): boolean {
  return step !== undefined && step.busy >= step.all / 2;
}

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

function print(
  title: string,
  map: Map<string, number>,
  total: number,
  per: number,
  top: number,
): void {
  console.log(`\n${title}`);
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, us] of rows) {
    const share = (us / total * 100).toFixed(1).padStart(5);
    const each = per > 0 ? (us / per).toFixed(3).padStart(8) + " µs" : "";
    console.log(
      `${share}% ${(us / 1000).toFixed(0).padStart(6)} ms${each}  ${name}`,
    );
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      per: { type: "string", default: "0" },
      top: { type: "string", default: "40" },
    },
  });
  const per = Number(values.per);
  const top = Number(values.top);
  for (const path of positionals) {
    const s = summarize(JSON.parse(await Deno.readTextFile(path)));
    console.log(
      `${path}: busy stretch ${(s.wallUs / 1e6).toFixed(2)} s, ` +
        `${(s.busyUs / s.wallUs * 100).toFixed(1)}% not idle` +
        (per > 0 ? `, ${(s.busyUs / per).toFixed(3)} µs busy per unit` : ""),
    );
    print("Self time per file", s.byFile, s.wallUs, per, top);
    print("Self time per function", s.byFunction, s.wallUs, per, top);
  }
}
