/**
 * What opening a cluster's room log costs when its stream holds many
 * entries: `RedisLog.open` files the newest `CATCH_UP_SCAN_EVENTS` of them
 * in its index of each room's numbers (`room_seqs.ts`) before the server
 * listens. On a real `redis-server` (a fresh one, persisting every write,
 * as `deno task bench` starts it), a member appends `--entries` lines the
 * way a server does (`RedisLog.append`: the cluster's script numbers and
 * stores them), half in the default room, half in ten rooms, a rename
 * (`NICK`, reaching the rooms) and a room operator's `MOD` now and then. Then,
 * `--reps` times: a fresh link opens the log, timed, while a 10-ms
 * interval timer measures the longest the event loop was held in one go
 * (its largest lateness); and a whole `server.ts --redis URL` is timed
 * from its spawn to its `listening` line. Run by itself:
 *
 * ```sh
 * deno run --allow-run=deno,redis-server --allow-read=. --allow-write=bench/.run --allow-net=127.0.0.1 --allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS bench/redis_open_cost.ts
 * ```
 *
 * With `--url redis://HOST:PORT/0`, it measures on that Redis's cluster
 * (`open-cost`, as a previous run left it) instead: nothing appended. It
 * prints each rep's figures, their medians, and one JSON line.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { writeDevCertificates } from "../lib/certs.ts";
import { systemClock } from "../lib/clock.ts";
import { createLogger } from "../lib/log.ts";
import { Cluster } from "../lib/server/cluster/cluster.ts";
import { RedisLink } from "../lib/server/cluster/redis.ts";
import { RedisLog } from "../lib/server/cluster/redis_log.ts";
import { parseServerArgs } from "../lib/server/server_args.ts";
import { lines, ROOT, startRedis, stop } from "./processes.ts";

const DEFAULTS = parseServerArgs([]);
const CLUSTER = "open-cost";
const ROOMS = Array.from({ length: 10 }, (_, i) => `#room${i}`);

/** The longest lateness of a 10-ms interval timer, while it runs. */
function loopHold() {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last - 10);
    last = now;
  }, 10);
  return {
    stop(): number {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last - 10);
    },
  };
}

/** A link to the cluster on `url`, as a server opens it. */
function openLink(url: string) {
  const log = createLogger("error", () => {});
  return RedisLink.open({
    ...DEFAULTS,
    url,
    cluster: CLUSTER,
    streamEntries: 2 ** 31,
    log,
  });
}

/** The log of the cluster on `link`, as a server opens it. */
function openLog(link: RedisLink) {
  return RedisLog.open(link, {
    ...DEFAULTS,
    clock: systemClock,
    keep: 100,
    log: createLogger("error", () => {}),
  });
}

/** Appends `entries` lines as member amy, `batch` a turn. */
export async function fill(url: string, entries: number, batch = 1000) {
  const link = await openLink(url);
  const log = createLogger("error", () => {});
  const cluster = new Cluster(link, { ...DEFAULTS, clock: systemClock, log });
  await cluster.start(() => {});
  const amy = {
    id: `${cluster.server}/1`,
    alias: "amy",
    account: null,
    host: "127.0.0.1",
    operator: false,
  };
  await cluster.claim(amy, "amy", null, false);
  const list = JSON.stringify([DEFAULTS.defaultRoom, ...ROOMS]);
  await link.command(["HSET", link.keys.roomMembers, amy.id, list]);
  const roomLog = await openLog(link);
  const text = "x".repeat(60);
  let alias = "amy";
  for (let n = 0; n < entries; n += batch) {
    for (let i = n; i < Math.min(entries, n + batch); i++) {
      const room = i % 2 === 0 ? undefined : ROOMS[(i >> 1) % ROOMS.length];
      if (i % 499 === 0) {
        roomLog.append(
          { type: "MOD", action: "op", alias: "bob", by: alias, text: "" },
          amy.id,
          { room: ROOMS[0] },
        );
      } else {
        roomLog.append({ type: "MSG", alias, text }, amy.id, { room });
      }
    }
    await roomLog.settled();
    if (n % 10_000 === 0) {
      // A rename: the script files it under the rooms it reached.
      const to = alias === "amy" ? "amy2" : "amy";
      await cluster.claim({ ...amy, alias: to }, to, alias, false);
      alias = to;
    }
  }
  await roomLog.close();
  await cluster.stop();
  await link.close();
}

/** Times `RedisLog.open` on a fresh link: ms, and the longest hold. */
async function timeOpen(url: string) {
  const link = await openLink(url);
  const hold = loopHold();
  const start = performance.now();
  const roomLog = await openLog(link);
  const ms = performance.now() - start;
  const heldMs = hold.stop();
  await roomLog.close();
  await link.close();
  return { ms, heldMs };
}

/** Times a whole server start, from spawn to its `listening` line. */
async function timeServer(url: string, dir: string) {
  const data = await Deno.makeTempDir({ dir, prefix: "data-" });
  const start = performance.now();
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
      "server.ts",
      ...["--host", "127.0.0.1", "--port", "0", "--web-port", "0"],
      ...["--cert", `${dir}/server.pem`, "--key", `${dir}/server-key.pem`],
      ...["--data-dir", data, "--redis", url, "--cluster", CLUSTER],
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = lines(child);
  await out.until(/ INFO listening /);
  const ms = performance.now() - start;
  out.drain();
  await stop(child);
  return ms;
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs the benchmark with command-line `args`. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      entries: { type: "string", default: "200000" },
      reps: { type: "string", default: "3" },
      url: { type: "string" },
    },
  });
  const entries = Number(values.entries);
  const reps = Number(values.reps);
  await Deno.mkdir(`${ROOT}bench/.run`, { recursive: true });
  const dir = await Deno.makeTempDir({
    dir: `${ROOT}bench/.run`,
    prefix: "open-",
  });
  await writeDevCertificates(dir);
  const redis = values.url === undefined
    ? await startRedis(dir)
    : { url: values.url, child: null };
  try {
    if (values.url === undefined) {
      const start = performance.now();
      await fill(redis.url, entries);
      const s = ((performance.now() - start) / 1000).toFixed(1);
      console.log(`${entries} entries appended in ${s} s`);
    }
    const opens: { ms: number; heldMs: number }[] = [];
    const servers: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const open = await timeOpen(redis.url);
      const server = await timeServer(redis.url, dir);
      opens.push(open);
      servers.push(server);
      console.log(
        `rep ${rep + 1}: RedisLog.open ${open.ms.toFixed(0)} ms, loop held ${
          open.heldMs.toFixed(0)
        } ms at most; server.ts to listening ${server.toFixed(0)} ms`,
      );
    }
    const result = {
      entries: values.url === undefined ? entries : null,
      openMs: median(opens.map((o) => o.ms)),
      heldMs: median(opens.map((o) => o.heldMs)),
      serverMs: median(servers),
    };
    console.log(
      `median: open ${result.openMs.toFixed(0)} ms, held ${
        result.heldMs.toFixed(0)
      } ms, server ${result.serverMs.toFixed(0)} ms`,
    );
    console.log(JSON.stringify(result));
  } finally {
    if (redis.child !== null) await stop(redis.child);
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main(Deno.args);
