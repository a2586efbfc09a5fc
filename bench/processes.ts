/**
 * The benchmark's processes: the server (ours on either engine, or ncat),
 * its Redis, spawned pinned to a CPU when `taskset` is there, their output
 * read line by line, stopped at the end.
 *
 * @module
 */

import type { Scenario, Target } from "./scenarios.ts";

/** The repository's root, the processes' working directory. */
export const ROOT = new URL("../", import.meta.url).pathname;

/**
 * The V8 flags `deno task server` gives the server (`--v8-flags=` in
 * deno.json): the bench measures the server as it is launched.
 */
export function taskV8Flags(): string {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)) as {
    tasks: Record<string, string>;
  };
  return /--v8-flags=(\S+)/.exec(config.tasks.server ?? "")?.[1] ?? "";
}

/** Whether `taskset` can pin processes to CPUs here. */
export function canPin(): Promise<boolean> {
  return new Deno.Command("taskset", { args: ["-c", "0", "true"] })
    .output()
    .then((o) => o.success, () => false);
}

/** Spawns a command, pinned to a CPU when taskset is available. */
export function spawn(
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
export function lines(child: Deno.ChildProcess) {
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

/** A port nothing listens on now, on 127.0.0.1. */
function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** Resolves once something accepts connections on `port` (2 s at most). */
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
export interface RunOptions {
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
export async function startRedis(dir: string) {
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
export async function startServer(
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
    return { child, port, webPort: 0, ircPort: 0 };
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
    "--allow-sys=setPriority",
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
    ...(scenario.irc > 0 ? ["--irc-host", "127.0.0.1", "--irc-port", "0"] : []),
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
    ircPort: Number(/ irc=\S*:(\d+)/.exec(listening)?.[1] ?? 0),
  };
}

/** Stops a child: SIGTERM, then SIGKILL after 6 s. */
export async function stop(child: Deno.ChildProcess): Promise<void> {
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
