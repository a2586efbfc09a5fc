/**
 * `deno task bench`: measures the real server over TLS on loopback.
 *
 * ```sh
 * deno task bench                    # every scenario, both TLS engines
 * deno task bench --quick            # small versions, for CI (correctness)
 * deno task bench --compare ncat     # also run each scenario on ncat --chat --ssl
 * deno task bench --engine node --only c
 * deno task bench --only e1 --server-arg=--announce-limit=100000
 * deno task bench --cluster 2        # c and r: one server, then 1 and 2 on Redis
 * deno task bench --only e --settle 45   # also the memory once V8 settled
 * deno task bench --only e1 --v8-flags=   # V8's defaults, not deno task server's
 * deno task bench --only a --cpu-prof bench/.run/prof   # V8 CPU profiles
 * deno task bench --only search           # /search on 1,000,000 messages
 * deno task bench --only resume           # resuming after 1,000 missed lines
 * ```
 *
 * Each scenario starts a fresh server process (its own certificates, port 0,
 * flood control and the per-IP cap off, permissions as narrow as
 * `deno task server` and its V8 flags unless `--v8-flags` says otherwise)
 * and one load process (`bench/load.ts`). On Linux with
 * `taskset`, the server runs on CPU 0 and the load on CPU 1. Prints a table
 * and one JSON line per scenario; exits 1 when any scenario lost, reordered
 * or disconnected anything.
 *
 * With `--cluster N`, the scenarios run on one server alone, then on one
 * and on N servers joined through a Redis of their own (`redis-server` on a
 * free port, AOF with `appendfsync always`, as the README recommends), the
 * members split evenly across the servers; server i runs on CPU i, the load
 * and Redis where the kernel puts them.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { writeDevCertificates } from "../lib/certs.ts";
import type { LoadJob, LoadResult } from "./load.ts";
import {
  canPin,
  lines,
  ROOT,
  type RunOptions,
  spawn,
  startRedis,
  startServer,
  stop,
  taskV8Flags,
} from "./processes.ts";
import { type Row, table } from "./report.ts";
import {
  clusterScenarios,
  type Scenario,
  scenarios,
  type Target,
} from "./scenarios.ts";
import { cpuSeconds, memory, readProc } from "./stats.ts";

async function runScenario(
  scenario: Scenario,
  target: Target,
  options: RunOptions,
): Promise<Row> {
  const { ca, pin } = options;
  const redis = scenario.cluster > 0 ? await startRedis(options.dir) : null;
  const servers: Awaited<ReturnType<typeof startServer>>[] = [];
  try {
    for (let i = 0; i < Math.max(1, scenario.cluster); i++) {
      servers.push(await startServer(target, options, scenario, i, redis?.url));
    }
    const server = servers[0]!;
    // Memory is the first server's; CPU is all servers' together.
    const pid = server.child.pid;
    const serversCpu = () =>
      servers.reduce((sum, s) => sum + cpuSeconds(s.child.pid), 0);
    const baseline = memory(pid).rss;
    const job: LoadJob = {
      host: "127.0.0.1",
      ports: servers.map((s) => s.port),
      ca,
      mode: target === "ncat" ? "ncat" : "tlschat",
      members: scenario.members,
      senders: scenario.senders,
      inflight: scenario.inflight,
      rate: scenario.rate,
      durationMs: scenario.durationMs,
      // ncat accepts and handshakes slowly; many connects at once time out.
      joinConcurrency: target === "ncat" ? 10 : 100,
      liveness: scenario.liveness,
      silent: scenario.silent,
      junkBytes: scenario.junkBytes,
      webPort: server.webPort,
      web: scenario.web,
      drainMs: 10_000,
      history: scenario.history,
      rooms: scenario.rooms,
      ircPort: server.ircPort,
      irc: scenario.irc,
    };
    const load = spawn(pin ? 1 : null, "deno", [
      "run",
      "--allow-net=127.0.0.1",
      "bench/load.ts",
      JSON.stringify(job),
    ]);
    const errors = new Response(load.stderr).text();
    const out = lines(load);
    const writer = load.stdin.getWriter();
    const failed = async (e: Error) => {
      throw new Error(`${e.message}\n${await errors}`);
    };
    const halfLine = await out.until(/^\{"half"/).catch(failed);
    const { half } = JSON.parse(halfLine) as { half: number };
    const atHalf = memory(pid).rss;
    await writer.write(new TextEncoder().encode("next\n"));
    const joinedLine = await out.until(/^\{"joined"/).catch(failed);
    const { joinMs } = JSON.parse(joinedLine) as { joinMs: number };
    const afterJoin = memory(pid).rss;
    let settled: number | null = null;
    if (options.settleS > 0 && scenario.id.startsWith("e")) {
      await new Promise((resolve) =>
        setTimeout(resolve, options.settleS * 1000)
      );
      settled = memory(pid).rss;
    }
    const serverCpu0 = serversCpu();
    const loadCpu0 = cpuSeconds(load.pid);
    const redisCpu0 = redis ? cpuSeconds(redis.child.pid) : 0;
    const wall0 = performance.now();
    await writer.write(new TextEncoder().encode("go\n"));
    // Measured when the run ends, before silent members are drained.
    await out.until(/^\{"ran"/);
    const wall = (performance.now() - wall0) / 1000;
    const serverCpu = serversCpu() - serverCpu0;
    const loadCpu = cpuSeconds(load.pid) - loadCpu0;
    const redisCpu = redis ? cpuSeconds(redis.child.pid) - redisCpu0 : 0;
    const { peak, rss: end } = memory(pid);
    const resultLine = await out.until(/^\{"result"/);
    await writer.close().catch(() => {});
    const status = await load.status;
    if (!status.success) {
      throw new Error(`Load process failed:\n${await errors}`);
    }
    const { result } = JSON.parse(resultLine) as { result: LoadResult };
    const lost = result.expected - result.received;
    return {
      scenario: scenario.id,
      title: scenario.title,
      target: scenario.cluster > 0
        ? `${target}×${scenario.cluster}+redis`
        : target,
      members: scenario.members,
      deliveriesPerS: Math.round(result.received / (result.runMs / 1000)),
      p50Ms: result.latency.p50Ms,
      p99Ms: result.latency.p99Ms,
      echoP99Ms: result.echo.p99Ms,
      steadyP99Ms: result.steady.count > 0 ? result.steady.p99Ms : null,
      ...(scenario.irc > 0
        ? {
          byDoor: {
            native: {
              p50Ms: result.nativeLatency.p50Ms,
              p99Ms: result.nativeLatency.p99Ms,
            },
            irc: {
              p50Ms: result.ircLatency.p50Ms,
              p99Ms: result.ircLatency.p99Ms,
            },
          },
        }
        : {}),
      maxMs: result.latency.maxMs,
      expected: result.expected,
      received: result.received,
      lost,
      orderViolations: result.orderViolations,
      disconnected: result.disconnected,
      serverCpuPct: Math.round(serverCpu / wall * 100),
      loadCpuPct: Math.round(loadCpu / wall * 100),
      redisCpuPct: Math.round(redisCpu / wall * 100),
      serverPeakRssMb: Math.round(peak / 1048576 * 10) / 10,
      rssGrowthMb: Math.round((end - (settled ?? afterJoin)) / 1048576 * 10) /
        10,
      silentDropped: result.silentDropped,
      junkSentMb: Math.round(result.junkSent / 1048576 * 10) / 10,
      joinsPerS: Math.round(scenario.members / (joinMs / 1000)),
      joinP50Ms: result.join.p50Ms,
      joinAloneP50Ms: result.joinAlone.p50Ms,
      historyRssMb: Math.round((atHalf - baseline) / 1048576 * 10) / 10,
      rssPerMemberKb:
        Math.round((afterJoin - baseline) / scenario.members / 1024 * 10) / 10,
      marginalKb: Math.round(
        (afterJoin - atHalf) / (scenario.members - half) / 1024 * 10,
      ) / 10,
      settledKb: settled === null ? null : Math.round(
        (settled - baseline) / scenario.members / 1024 * 10,
      ) / 10,
    };
  } finally {
    for (const server of servers) await stop(server.child);
    if (redis) await stop(redis.child);
  }
}

/** Runs the benchmark; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      compare: { type: "string" },
      engine: { type: "string", multiple: true },
      only: { type: "string", multiple: true },
      "server-arg": { type: "string", multiple: true },
      cluster: { type: "string" },
      settle: { type: "string", default: "0" },
      "v8-flags": { type: "string" },
      "cpu-prof": { type: "string" },
    },
  });
  const settleS = Number(values.settle);
  if (!Number.isFinite(settleS) || settleS < 0 || settleS > 600) {
    console.error(`--settle wants seconds (0 to 600)`);
    return 2;
  }
  const cluster = values.cluster === undefined ? 0 : Number(values.cluster);
  if (!Number.isInteger(cluster) || cluster < 0 || cluster > 16) {
    console.error(`--cluster wants a number of servers (1 to 16)`);
    return 2;
  }
  if (values.compare !== undefined && values.compare !== "ncat") {
    console.error(
      `Cannot compare with "${values.compare}": only ncat is supported`,
    );
    return 2;
  }
  const engines = (values.engine ?? ["deno", "node"]) as Target[];
  const pin = await canPin();
  const cpu =
    /model name\s*:\s*(.*)/.exec(readProc("/proc/cpuinfo")[0]!)?.[1] ??
      "unknown CPU";
  console.log(
    `tlschat bench ${
      new Date().toISOString()
    } | ${navigator.hardwareConcurrency} x ${cpu} | deno ${Deno.version.deno}` +
      ` | ${
        pin
          ? "server pinned to CPU 0, load to CPU 1 (taskset)"
          : "not pinned (no taskset)"
      }` +
      (values.quick ? " | quick" : ""),
  );
  await Deno.mkdir(`${ROOT}bench/.run`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}bench/.run` });
  const rows: Row[] = [];
  let resumeFailed = false;
  try {
    await writeDevCertificates(dir);
    const options: RunOptions = {
      dir,
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
      pin,
      serverArgs: values["server-arg"] ?? [],
      v8Flags: values["v8-flags"] ?? taskV8Flags(),
      cpuProf: values["cpu-prof"],
      settleS,
    };
    const chosen = cluster > 0
      ? clusterScenarios(values.quick, cluster)
      : scenarios(values.quick);
    for (const scenario of chosen) {
      if (
        values.only && !values.only.some((id) => scenario.id.startsWith(id))
      ) continue;
      let ncat: Row | undefined;
      // ncat has no echo, no history and no flags of ours.
      const ncatCan = scenario.silent === 0 && scenario.junkBytes === 0 &&
        scenario.history === 0 && scenario.serverArgs.length === 0 &&
        scenario.web === "none" && scenario.cluster === 0 &&
        scenario.irc === 0;
      if (values.compare === "ncat" && ncatCan) {
        if (scenario.members > 1000) {
          console.log(
            `${scenario.id} ncat: skipped, ncat uses select() and cannot hold ${scenario.members} connections`,
          );
        } else {
          try {
            ncat = await runScenario(scenario, "ncat", options);
            rows.push(ncat);
            console.log(JSON.stringify(ncat));
          } catch (e) {
            console.log(
              `${scenario.id} ncat: failed: ${
                (e as Error).message.split("\n").slice(0, 3).join(" ")
              }`,
            );
          }
        }
      }
      for (const engine of engines) {
        const row = await runScenario(scenario, engine, options);
        if (ncat && ncat.deliveriesPerS > 0) {
          row.ratioVsNcat = row.deliveriesPerS / ncat.deliveriesPerS;
        }
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
    // What /search costs on 1,000,000 messages (bench/search_cost.ts).
    if (!values.only || values.only.some((id) => "search".startsWith(id))) {
      const { main: searchCost } = await import("./search_cost.ts");
      await searchCost(values.quick ? ["--messages", "100000"] : []);
    }
    // Resuming after 1,000 missed lines (bench/resume_cost.ts).
    if (!values.only || values.only.some((id) => "resume".startsWith(id))) {
      const { main: resumeCost } = await import("./resume_cost.ts");
      resumeFailed = await resumeCost([]) !== 0;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(`\n${table(rows)}`);
  const bad = rows.filter((r) =>
    r.lost !== 0 || r.orderViolations !== 0 || r.disconnected !== 0
  );
  for (const row of bad) {
    console.log(
      `FAIL ${row.scenario} ${row.target}: lost ${row.lost}, reordered ${row.orderViolations}, disconnected ${row.disconnected}`,
    );
  }
  return bad.length === 0 && !resumeFailed ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
