/**
 * What resuming after 1,000 missed lines costs (issue 17), on a real server
 * process: its own certificates, port 0, the default durable log (a fresh
 * data directory), flood control off, `--resume-grace 0` (a dropped member
 * leaves at once), `--resume-rate 0` (every catch-up comes from one
 * address, more than the per-address quota allows). Run by
 * `deno task bench` (after search; alone with `deno task bench --only
 * resume`) or by itself:
 *
 * ```sh
 * deno run --allow-run=deno,taskset --allow-read=. --allow-write=bench/.run --allow-net=127.0.0.1 bench/resume_cost.ts
 * deno run --allow-run=deno,taskset --allow-read=. --allow-write=bench/.run --allow-net=127.0.0.1 bench/resume_cost.ts --reps 5 --missed 5000
 * ```
 *
 * A member with `/cap resume` joins, takes the epoch from `HELLO` and the
 * number of a line it sees (`@seq=N;time=T`), and drops. A talker (`/cap
 * seq`, so that it sees every line's number) then, `--reps` times: says
 * `--missed` lines (a hundred at a time, each hundred echoed before the
 * next), waits `--flush-ms` (the journal's flush to the database, 0.2 s by
 * default), and a client connects, sends `/cap resume`, `/resume EPOCH SEQ`
 * (SEQ the last number before those lines: a fresh position each time) and
 * its alias, and is timed from the TCP connect to its `RESUMED` line; then,
 * for the baseline, a client does the same from the newest number (nothing
 * missed). It prints median and max ms and the bytes received of both, the
 * difference (the catch-up's cost), and one JSON line; exits 1 when a
 * catch-up did not hold every missed line.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { parseArgs } from "node:util";
import { writeDevCertificates } from "../lib/certs.ts";
import { splitTags } from "../lib/resume.ts";
import { parseHelloParams } from "../lib/server_lines.ts";
import { canPin, ROOT, startServer, stop, taskV8Flags } from "./processes.ts";
import type { Scenario } from "./scenarios.ts";

/** One chat connection of this benchmark: lines in, bytes counted. */
class Peer {
  /** Bytes received so far. */
  bytes = 0;
  /** The highest `@seq=` number received so far (0: none). */
  lastSeq = 0;
  /** Lines received with a `@seq=` tag. */
  tagged = 0;
  readonly #conn: Deno.TlsConn;
  readonly #chunk = new Uint8Array(64 * 1024);
  readonly #decoder = new TextDecoder();
  #text = "";
  #at = 0;

  private constructor(conn: Deno.TlsConn) {
    this.#conn = conn;
  }

  /** Connects over TLS to the chat port (the handshake done). */
  static async open(port: number, ca: string): Promise<Peer> {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    tcp.setNoDelay(true);
    const conn = await Deno.startTls(tcp, {
      hostname: "localhost",
      caCerts: [ca],
    });
    await conn.handshake();
    return new Peer(conn);
  }

  /** Sends lines (each ending in LF). */
  async send(text: string): Promise<void> {
    let data = new TextEncoder().encode(text);
    while (data.length > 0) data = data.subarray(await this.#conn.write(data));
  }

  /** Reads lines until one satisfies `done`; resolves to it. */
  async until(done: (line: string) => boolean): Promise<string> {
    while (true) {
      let end: number;
      while ((end = this.#text.indexOf("\n", this.#at)) !== -1) {
        const line = this.#text.slice(this.#at, end);
        this.#at = end + 1;
        const { seq } = splitTags(line);
        if (seq !== null) {
          this.tagged++;
          this.lastSeq = Math.max(this.lastSeq, seq);
        }
        if (done(line)) return line;
      }
      const n = await this.#conn.read(this.#chunk);
      if (n === null) {
        throw new Error(`Closed while waiting: ${this.#text.slice(-300)}`);
      }
      this.bytes += n;
      this.#text = this.#text.slice(this.#at) +
        this.#decoder.decode(this.#chunk.subarray(0, n), { stream: true });
      this.#at = 0;
    }
  }

  /** Closes the connection. */
  close(): void {
    this.#conn.close();
  }
}

/** One timed join: how long, how many bytes and lines, and `RESUMED`. */
interface Join {
  readonly ms: number;
  readonly bytes: number;
  readonly lines: number;
  /** `RESUMED LAST MISSING ...`'s MISSING (`0`: none left out). */
  readonly missing: string;
}

/**
 * Connects, sends `/cap resume`, `/resume EPOCH SEQ` and `alias` at once,
 * and times it until `RESUMED`; then drops.
 */
async function timeJoin(
  port: number,
  ca: string,
  resume: string,
  alias: string,
): Promise<Join> {
  const start = performance.now();
  const peer = await Peer.open(port, ca);
  try {
    await peer.send(`/cap resume\n${resume}\n${alias}\n`);
    const resumed = await peer.until((line) => line.startsWith("RESUMED "));
    return {
      ms: performance.now() - start,
      bytes: peer.bytes,
      lines: peer.tagged,
      missing: resumed.split(" ")[2] ?? "",
    };
  } finally {
    peer.close();
  }
}

/** The member that notes the epoch and a line's number, then drops. */
async function firstPosition(
  port: number,
  ca: string,
  talker: Peer,
): Promise<{ epoch: string; seq: number }> {
  const peer = await Peer.open(port, ca);
  try {
    const hello = await peer.until((line) => line.startsWith("HELLO "));
    const epoch = parseHelloParams(hello.split(" ")[3] ?? "").epoch;
    if (!epoch) throw new Error(`No epoch= in ${hello}`);
    await peer.send("/cap resume\nfirst\n");
    await peer.until((line) => line.startsWith("WELCOME "));
    await talker.send("a line to see\n");
    await peer.until((line) => line.endsWith(" MSG talker a line to see"));
    return { epoch, seq: peer.lastSeq };
  } finally {
    peer.close();
    await talker.until((line) => / LEAVE first /.test(line));
  }
}

/** The talker says `count` lines, a hundred at a time, each echoed. */
async function say(talker: Peer, count: number): Promise<void> {
  for (let from = 0; from < count; from += 100) {
    const to = Math.min(count, from + 100);
    let text = "";
    for (let i = from; i < to; i++) text += `missed line ${i}\n`;
    await talker.send(text);
    await talker.until((line) => line.endsWith(` missed line ${to - 1}`));
  }
}

interface Options {
  readonly reps: number;
  readonly missed: number;
  readonly flushMs: number;
}

/** The repetitions: each says the lines, times a resume, then a baseline. */
async function measure(port: number, ca: string, options: Options) {
  const talker = await Peer.open(port, ca);
  try {
    await talker.send("/cap seq\ntalker\n");
    await talker.until((line) => line.startsWith("WELCOME "));
    const { epoch, seq } = await firstPosition(port, ca, talker);
    console.log(`resume: epoch ${epoch}, first member saw @seq=${seq}`);
    const resumed: Join[] = [];
    const baseline: Join[] = [];
    for (let rep = 0; rep < options.reps; rep++) {
      const from = talker.lastSeq;
      await say(talker, options.missed);
      await new Promise((resolve) => setTimeout(resolve, options.flushMs));
      // Each drops and leaves; the next position is after its LEAVE.
      for (
        const [joins, alias, position] of [
          [resumed, `r${rep}`, () => from],
          [baseline, `b${rep}`, () => talker.lastSeq],
        ] as const
      ) {
        const resume = `/resume ${epoch} ${position()}`;
        joins.push(await timeJoin(port, ca, resume, alias));
        await talker.until((line) => line.includes(` LEAVE ${alias} `));
      }
    }
    return { resumed, baseline };
  } finally {
    talker.close();
  }
}

/** Median and max of `values`. */
function spread(values: readonly number[]): { median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)]!,
    max: sorted.at(-1)!,
  };
}

/** Prints the table and the JSON line; resolves to whether all was sent. */
function report(
  options: Options,
  runs: { resumed: Join[]; baseline: Join[] },
): boolean {
  const row = (joins: Join[]) => {
    const ms = spread(joins.map((j) => j.ms));
    return {
      medianMs: Math.round(ms.median * 100) / 100,
      maxMs: Math.round(ms.max * 100) / 100,
      bytes: spread(joins.map((j) => j.bytes)).median,
      lines: spread(joins.map((j) => j.lines)).median,
    };
  };
  const resumed = row(runs.resumed);
  const baseline = row(runs.baseline);
  console.log(
    ["join", "median ms", "max ms", "bytes", "lines"].map((h, i) =>
      i === 0 ? h.padEnd(24) : h.padStart(12)
    ).join(""),
  );
  for (
    const [name, r] of [
      [`resume, ${options.missed} missed`, resumed],
      ["baseline, none missed", baseline],
    ] as const
  ) {
    console.log(
      name.padEnd(24) +
        [r.medianMs, r.maxMs, r.bytes, r.lines].map((c) =>
          String(c).padStart(12)
        ).join(""),
    );
  }
  const catchUpMs = Math.round((resumed.medianMs - baseline.medianMs) * 100) /
    100;
  console.log(`catch-up: ${catchUpMs} ms (median difference)`);
  const whole =
    runs.resumed.every((j) =>
      j.lines === options.missed && j.missing === "0"
    ) && runs.baseline.every((j) => j.lines === 0 && j.missing === "0");
  console.log(JSON.stringify({
    resume: { ...options, resumed, baseline, catchUpMs, whole },
  }));
  if (!whole) console.log("FAIL resume: a catch-up did not hold every line");
  return whole;
}

/** What `startServer` reads of a scenario: one server, no flags of its. */
const SCENARIO: Scenario = {
  id: "resume",
  title: "resuming after missed lines",
  members: 2,
  senders: 1,
  inflight: 0,
  rate: 0,
  durationMs: 0,
  liveness: false,
  silent: 0,
  junkBytes: 0,
  history: 0,
  // Every catch-up comes from one address: the per-address quota
  // (`--resume-rate`, a minute's worth of lines) would cut them short.
  serverArgs: ["--resume-grace", "0", "--resume-rate", "0"],
  web: "none",
  cluster: 0,
  rooms: 0,
  irc: 0,
};

/** Runs the measurement; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      reps: { type: "string", default: "20" },
      missed: { type: "string", default: "1000" },
      "flush-ms": { type: "string", default: "500" },
      engine: { type: "string", default: "node" },
    },
  });
  const options: Options = {
    reps: Number(values.reps),
    missed: Number(values.missed),
    flushMs: Number(values["flush-ms"]),
  };
  const engine = values.engine === "deno" ? "deno" : "node";
  await Deno.mkdir(`${ROOT}bench/.run`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}bench/.run` });
  try {
    await writeDevCertificates(dir);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    const server = await startServer(engine, {
      dir,
      ca,
      pin: await canPin(),
      serverArgs: [],
      v8Flags: taskV8Flags(),
      settleS: 0,
    }, SCENARIO);
    // A line that never comes: stopping the server ends the wait.
    const watchdog = setTimeout(() => stop(server.child), 300_000);
    try {
      console.log(
        `resume_cost ${
          new Date().toISOString()
        } | ${engine} engine | ${options.reps} reps | deno ${Deno.version.deno}`,
      );
      const runs = await measure(server.port, ca, options);
      return report(options, runs) ? 0 : 1;
    } finally {
      clearTimeout(watchdog);
      await stop(server.child);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
