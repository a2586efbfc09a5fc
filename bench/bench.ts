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
import { cpuSeconds, memory, readProc } from "./stats.ts";

interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly members: number;
  readonly senders: number;
  readonly inflight: number;
  readonly rate: number;
  readonly durationMs: number;
  readonly liveness: boolean;
  /** Extra members that never read (f). */
  readonly silent: number;
  /** Bytes of one endless line member 0 sends (g). */
  readonly junkBytes: number;
  /** Messages said before the members join: their history (eh, h). */
  readonly history: number;
  /**
   * Extra server flags (cm, dm, hm: history in memory only; a0, c0: no
   * history, nothing stored).
   */
  readonly serverArgs: readonly string[];
  /** Members that join through the web door (w: all, wx: every other one). */
  readonly web: "none" | "half" | "all";
  /** Servers joined through Redis (0: one server, no Redis). */
  readonly cluster: number;
}

type Target = "deno" | "node" | "ncat";

function scenarios(quick: boolean): Scenario[] {
  const run = quick ? 1000 : 5000;
  const base = {
    inflight: 0,
    rate: 0,
    durationMs: run,
    liveness: false,
    silent: 0,
    junkBytes: 0,
    history: 0,
    serverArgs: [],
    web: "none" as const,
    cluster: 0,
  };
  const inMemory = ["--durability", "memory"];
  const noHistory = ["--history", "0"];
  const c = {
    ...base,
    id: "c",
    title: "N=100, 10 senders, 8 in flight",
    members: 100,
    senders: 10,
    inflight: 8,
  };
  const d = {
    ...base,
    id: "d",
    title: `N=${quick ? 200 : 1000}, 10 senders at 10/s`,
    members: quick ? 200 : 1000,
    senders: 10,
    rate: 10,
  };
  const e1 = {
    ...base,
    id: "e1",
    title: `idle N=${quick ? 200 : 1000}`,
    members: quick ? 200 : 1000,
    senders: 1,
    liveness: true,
  };
  const h = {
    ...base,
    id: "h",
    title: `N=10 after ${quick ? "1,000" : "10,000"} stored messages`,
    members: 10,
    senders: 1,
    liveness: true,
    history: quick ? 1000 : 10_000,
  };
  const a = {
    ...base,
    id: "a",
    title: "N=10, all send, 1 in flight",
    members: 10,
    senders: 10,
    inflight: 1,
  };
  return [
    a,
    { ...a, id: "a0", title: `${a.title}, no history`, serverArgs: noHistory },
    {
      ...base,
      id: "b",
      title: "N=10, all send, 8 in flight",
      members: 10,
      senders: 10,
      inflight: 8,
    },
    c,
    { ...c, id: "w", title: "c, every member over WebSocket", web: "all" },
    {
      ...c,
      id: "wx",
      title: "c, 50 TLS + 50 WebSocket members",
      web: "half",
    },
    {
      ...c,
      id: "cm",
      title: `${c.title}, history in memory`,
      serverArgs: inMemory,
    },
    { ...c, id: "c0", title: `${c.title}, no history`, serverArgs: noHistory },
    {
      ...base,
      id: "f",
      title: "c + 1 member that never reads",
      members: 100,
      senders: 10,
      inflight: 8,
      silent: 1,
    },
    {
      ...base,
      id: "g",
      title: "one 16 MiB line without LF",
      members: 2,
      senders: 1,
      junkBytes: 16 * 1024 * 1024,
    },
    d,
    {
      ...d,
      id: "dm",
      title: `${d.title}, history in memory`,
      serverArgs: inMemory,
    },
    e1,
    { ...e1, id: "eh", title: `${e1.title}, 50 lines of history`, history: 50 },
    {
      ...base,
      id: "e2",
      title: `idle N=${quick ? 1000 : 10000}`,
      members: quick ? 1000 : 10000,
      senders: 1,
      liveness: true,
    },
    h,
    { ...h, id: "hm", title: `${h.title}, in memory`, serverArgs: inMemory },
  ];
}

/**
 * The `--cluster N` scenarios: c, and r (100,000 deliveries/s offered), each
 * on one server, on one server through Redis, and on N servers.
 */
function clusterScenarios(quick: boolean, count: number): Scenario[] {
  const [c] = scenarios(quick).filter((s) => s.id === "c");
  const r = {
    ...c!,
    id: "r",
    title: "N=100, 10 senders at 100/s (100,000 deliveries/s offered)",
    inflight: 0,
    rate: 100,
  };
  return [c!, r].flatMap((s) => [
    s,
    {
      ...s,
      id: `${s.id}k1`,
      title: `${s.title}, 1 server on Redis`,
      cluster: 1,
    },
    {
      ...s,
      id: `${s.id}k${count}`,
      title: `${s.title}, ${count} servers on Redis`,
      cluster: count,
    },
  ]);
}

/** One scenario's measured outcome. */
interface Row {
  scenario: string;
  title: string;
  /** The engine, with `×N+redis` for a cluster. */
  target: string;
  members: number;
  deliveriesPerS: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  expected: number;
  received: number;
  lost: number;
  orderViolations: number;
  disconnected: number;
  serverCpuPct: number;
  loadCpuPct: number;
  /** Redis's CPU over the run (cluster scenarios), else 0. */
  redisCpuPct: number;
  serverPeakRssMb: number;
  /** Server RSS at the end minus RSS after the joins. */
  rssGrowthMb: number;
  joinsPerS: number;
  /** Server RSS growth over all joins, per member. */
  rssPerMemberKb: number;
  /** Server RSS growth over the second half of the joins, per member. */
  marginalKb: number;
  /**
   * Server RSS growth over the joins, per member, measured again after
   * `--settle` seconds idle (V8 has given the young generation, grown
   * during the joins, back by then); null when not measured.
   */
  settledKb: number | null;
  silentDropped: number;
  junkSentMb: number;
  /**
   * Median time of one join (e, h): while members join a hundred at a
   * time, and one at a time into the full room.
   */
  joinP50Ms: number;
  joinAloneP50Ms: number;
  /**
   * Server RSS growth from its start to the first half of the joins, the
   * history said before them included (h).
   */
  historyRssMb: number;
  ratioVsNcat?: number;
  note?: string;
}

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * The V8 flags `deno task server` gives the server (`--v8-flags=` in
 * deno.json): the bench measures the server as it is launched.
 */
function taskV8Flags(): string {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)) as {
    tasks: Record<string, string>;
  };
  return /--v8-flags=(\S+)/.exec(config.tasks.server ?? "")?.[1] ?? "";
}

/** Spawns a command, pinned to a CPU when taskset is available. */
function spawn(
  cpu: number | null,
  command: string,
  args: string[],
): Deno.ChildProcess {
  const [cmd, argv] = cpu === null
    ? [command, args]
    : ["taskset", ["-c", String(cpu), command, ...args]];
  return new Deno.Command(cmd, {
    args: argv,
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Line reader over a child's stdout, with the lines kept for errors. */
function lines(child: Deno.ChildProcess) {
  const iterator = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let buffer = "";
  const seen: string[] = [];
  return {
    seen,
    async next(): Promise<string | null> {
      while (!buffer.includes("\n")) {
        const { value, done } = await iterator.next();
        if (done) return null;
        buffer += value;
      }
      const end = buffer.indexOf("\n");
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      seen.push(line);
      return line;
    },
    async until(pattern: RegExp): Promise<string> {
      while (true) {
        const line = await this.next();
        if (line === null) {
          throw new Error(
            `Process ended before ${pattern}:\n${seen.join("\n")}`,
          );
        }
        if (pattern.test(line)) return line;
      }
    },
    /** Keeps reading so the child never blocks on a full pipe. */
    async drain(): Promise<void> {
      while (await this.next() !== null) { /* discard */ }
    },
  };
}

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error(`Nothing listens on port ${port}`);
}

/** What every scenario run shares. */
interface RunOptions {
  /** Directory with the certificates. */
  readonly dir: string;
  /** The CA certificate (PEM) the load trusts. */
  readonly ca: string;
  /** Pin server and load to CPUs 0 and 1. */
  readonly pin: boolean;
  /** Extra flags for our server (experiments, e.g. --announce-limit). */
  readonly serverArgs: readonly string[];
  /** V8 flags for our server (`deno run --v8-flags=`); empty: none. */
  readonly v8Flags: string;
  /** Where our server writes a V8 CPU profile at exit (none: no profile). */
  readonly cpuProf?: string;
  /**
   * Seconds the e scenarios wait, idle, after the joins before measuring
   * the server's memory again (0: not measured).
   */
  readonly settleS: number;
}

/**
 * Starts a `redis-server` on a free port with its data in `dir`, persisting
 * every write; resolves to its process and URL.
 */
async function startRedis(dir: string) {
  const port = freePort();
  const child = spawn(null, "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    await Deno.makeTempDir({ dir, prefix: "redis-" }),
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
  ]);
  child.stdin.close();
  child.stderr.cancel();
  const out = lines(child);
  await out.until(/Ready to accept connections/);
  out.drain();
  return { child, url: `redis://127.0.0.1:${port}/0` };
}

/**
 * Starts server `index` of the scenario (on CPU `index` when pinned), on
 * `redis` when given; resolves to its process and ports.
 */
async function startServer(
  target: Target,
  options: RunOptions,
  scenario: Scenario,
  index = 0,
  redis?: string,
) {
  const { dir, pin } = options;
  if (target === "ncat") {
    const port = freePort();
    const child = spawn(pin ? 0 : null, "ncat", [
      "--ssl",
      "--chat",
      "--keep-open",
      "--listen",
      "--max-conns",
      "20000",
      "--ssl-cert",
      `${dir}/server.pem`,
      "--ssl-key",
      `${dir}/server-key.pem`,
      "127.0.0.1",
      String(port),
    ]);
    child.stdin.close();
    lines(child).drain();
    child.stderr.cancel();
    await waitForPort(port);
    return { child, port, webPort: 0 };
  }
  const webPort = scenario.web === "none" ? 0 : freePort();
  const cpus = navigator.hardwareConcurrency;
  const child = spawn(pin ? index % cpus : null, "deno", [
    "run",
    ...(options.v8Flags ? [`--v8-flags=${options.v8Flags}`] : []),
    ...(options.cpuProf
      ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProf}`]
      : []),
    "--allow-net=127.0.0.1",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    "--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE," +
    "REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
    "server.ts",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--cert",
    `${dir}/server.pem`,
    "--key",
    `${dir}/server-key.pem`,
    "--data-dir",
    await Deno.makeTempDir({ dir, prefix: "data-" }),
    "--flood-rate",
    "0",
    "--max-per-ip",
    "0",
    "--max-clients",
    "20000",
    "--tls-engine",
    target,
    "--web-port",
    String(webPort),
    ...(redis ? ["--redis", redis, "--cluster", `bench-${scenario.id}`] : []),
    ...scenario.serverArgs,
    ...options.serverArgs,
  ]);
  child.stdin.close();
  child.stderr.cancel();
  const out = lines(child);
  const listening = await out.until(/ INFO listening .*port=\d+/);
  out.drain();
  return {
    child,
    port: Number(/port=(\d+)/.exec(listening)![1]),
    webPort,
  };
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Exited already.
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }, 6000);
  await child.status;
  clearTimeout(timer);
}

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

function table(rows: Row[]): string {
  const header = [
    "scn",
    "target",
    "N",
    "deliv/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "expected",
    "received",
    "lost",
    "order",
    "disc",
    "srv CPU",
    "load CPU",
    "peak MB",
    "growth MB",
    "joins/s",
    "KB/member",
    "2nd half",
    "settled",
    "join p50",
    "alone p50",
    "vs ncat",
  ];
  const body = rows.map((r) => [
    r.scenario,
    r.target,
    String(r.members),
    // Idle scenarios send one message: a rate means nothing there.
    /^[egh]/.test(r.scenario) ? "" : r.deliveriesPerS.toLocaleString("en-US"),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.maxMs.toFixed(2),
    String(r.expected),
    String(r.received),
    String(r.lost),
    String(r.orderViolations),
    String(r.disconnected),
    `${r.serverCpuPct}%`,
    `${r.loadCpuPct}%` + (r.redisCpuPct ? ` +${r.redisCpuPct}% redis` : ""),
    String(r.serverPeakRssMb),
    String(r.rssGrowthMb) +
    (r.scenario === "f" ? ` (${r.silentDropped} dropped)` : "") +
    (r.scenario === "g" ? ` (${r.junkSentMb} MB sent)` : "") +
    (r.scenario.startsWith("h") ? ` (${r.historyRssMb} MB at start)` : ""),
    r.scenario.startsWith("e") ? r.joinsPerS.toLocaleString("en-US") : "",
    r.scenario.startsWith("e") ? String(r.rssPerMemberKb) : "",
    r.scenario.startsWith("e") ? String(r.marginalKb) : "",
    r.settledKb === null ? "" : String(r.settledKb),
    /^[eh]/.test(r.scenario) ? r.joinP50Ms.toFixed(2) : "",
    /^[eh]/.test(r.scenario) ? r.joinAloneP50Ms.toFixed(2) : "",
    r.ratioVsNcat === undefined
      ? (r.note ?? "")
      : `${r.ratioVsNcat.toFixed(1)}x`,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((row) => row[i]!.length))
  );
  const format = (row: string[]) =>
    row.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
  return [format(header), ...body.map(format)].join("\n");
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
  const pin = await new Deno.Command("taskset", { args: ["-c", "0", "true"] })
    .output()
    .then((o) => o.success, () => false);
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
        scenario.web === "none" && scenario.cluster === 0;
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
  return bad.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
