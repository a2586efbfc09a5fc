/**
 * Benchmark load generator: one process holding many chat members over TLS.
 * Started by `bench/bench.ts`, it reads a JSON job from its arguments, joins
 * every member, prints `{"joined":...}`, waits for a `go` line on stdin, runs
 * the senders, and prints one JSON result line. It never shares a process
 * with the server.
 *
 * Each message carries `#SENDER:SEQ:MICROS` so that any receiver can count
 * it, check per-sender order and measure latency on this process's clock.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { Member, type MemberJob, nowMicros } from "./member.ts";
import { LatencyHistogram } from "./stats.ts";

/** What one load process does. */
export interface LoadJob extends MemberJob {
  readonly members: number;
  readonly senders: number;
  /** Own messages in flight per sender (closed loop); 0 with `rate`. */
  readonly inflight: number;
  /** Messages per second per sender (open loop); 0 with `inflight`. */
  readonly rate: number;
  readonly durationMs: number;
  /** Connections opened at once while joining. */
  readonly joinConcurrency: number;
  /** Send one message from member 0 after joining, instead of a run. */
  readonly liveness: boolean;
  /** Extra members that join and then never read (slow consumers). */
  readonly silent: number;
  /** Bytes member 0 sends without a line feed after `go`, instead of a run. */
  readonly junkBytes: number;
  readonly drainMs: number;
}

/** What one load process reports. */
export interface LoadResult {
  readonly sent: number;
  readonly expected: number;
  readonly received: number;
  readonly orderViolations: number;
  readonly disconnected: number;
  readonly latency: ReturnType<LatencyHistogram["summary"]>;
  /**
   * Latency of the deliveries that move a sender's window only: each
   * sender's own lines echoed back to it (the next member's copy with
   * ncat). `latency` counts every delivery, a line's hundredth reader too.
   */
  readonly echo: ReturnType<LatencyHistogram["summary"]>;
  /**
   * `latency` of the lines sent after the run's first fifth (1 s of 5):
   * both processes past their warm-up (V8 compiling the hot paths, on the
   * one core each process is pinned to). `latency` counts the whole run.
   */
  readonly steady: ReturnType<LatencyHistogram["summary"]>;
  /** `latency` of the deliveries to IRC members only, and to the others. */
  readonly ircLatency: ReturnType<LatencyHistogram["summary"]>;
  readonly nativeLatency: ReturnType<LatencyHistogram["summary"]>;
  readonly runMs: number;
  /** Silent members the server disconnected (as too slow). */
  readonly silentDropped: number;
  /** Junk bytes written before the server stopped reading them. */
  readonly junkSent: number;
  /**
   * How long one join took (connect, handshake, welcome, history): while
   * members joined a hundred at a time, and one at a time afterwards.
   */
  readonly join: ReturnType<LatencyHistogram["summary"]>;
  readonly joinAlone: ReturnType<LatencyHistogram["summary"]>;
}

/** Joins timed one at a time into the full room. */
const PROBE_JOINS = 20;

/**
 * Joins members `from` to `to` (not included), adding each join's time to
 * `joins`; resolves to the time taken.
 */
async function joinRange(
  members: Member[],
  from: number,
  to: number,
  job: LoadJob,
  joins: LatencyHistogram,
): Promise<number> {
  const start = performance.now();
  let next = from;
  const joining = Promise.all(
    Array.from(
      { length: Math.min(job.joinConcurrency, to - from) },
      async () => {
        while (next < to) joins.add(await members[next++]!.connect(job));
      },
    ),
  );
  // A server that stops accepting must not hang the benchmark.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`Not all ${to - from} members joined within 60 s`)),
      60_000,
    );
  });
  await Promise.race([joining, timeout]);
  clearTimeout(timer);
  return performance.now() - start;
}

/** Runs a job; resolves to its result. */
export async function runLoad(
  job: LoadJob,
  waitForGo: () => Promise<void>,
  report: (data: unknown) => void,
): Promise<LoadResult> {
  const members = Array.from(
    { length: job.members },
    (_, i) => new Member(i, job.senders),
  );
  // Members join in two halves, so that the orchestrator can measure the
  // server's memory in between: the second half's cost is per member, free
  // of one-time growth.
  if (job.history > 0) {
    const speaker = new Member(job.members + job.silent, job.senders);
    await speaker.connect({ ...job, history: 0, irc: 0 });
    await speaker.say(job.history);
    speaker.close();
  }
  const half = Math.floor(job.members / 2);
  const joins = new LatencyHistogram();
  let joinMs = await joinRange(members, 0, half, job, joins);
  report({ half });
  await waitForGo();
  joinMs += await joinRange(members, half, job.members, job, joins);
  // Silent members join last and never read again: the server must drop
  // them without holding more than --queue-bytes for each.
  // Then a few joins one at a time, into the full room: how long one
  // person waits to be in (history included), without a crowd at the door.
  // Probes and silent members come through the chat port: the IRC door
  // never sends an IRC client its own JOIN in a room over --announce-limit.
  const alone = new LatencyHistogram();
  const native = { ...job, irc: 0 };
  for (let i = 0; i < PROBE_JOINS; i++) {
    const probe = new Member(job.members + job.silent + 1 + i, job.senders);
    alone.add(await probe.connect(native));
    probe.close();
  }
  const silent = Array.from(
    { length: job.silent },
    (_, i) => new Member(job.members + i, job.senders),
  );
  for (const member of silent) await member.connect(native);
  report({ joined: members.length, joinMs });
  await waitForGo();
  if (job.junkBytes > 0) {
    const junkSent = await sendJunk(members[0]!, job.junkBytes);
    for (const member of members) member.close();
    report({ ran: true });
    return {
      sent: 0,
      expected: 0,
      received: 0,
      orderViolations: 0,
      disconnected: 0,
      latency: new LatencyHistogram().summary(),
      echo: new LatencyHistogram().summary(),
      steady: new LatencyHistogram().summary(),
      ircLatency: new LatencyHistogram().summary(),
      nativeLatency: new LatencyHistogram().summary(),
      runMs: 0,
      silentDropped: 0,
      junkSent,
      join: joins.summary(),
      joinAlone: alone.summary(),
    };
  }

  const histogram = new LatencyHistogram();
  const echoes = new LatencyHistogram();
  const steady = new LatencyHistogram();
  const ircLatency = new LatencyHistogram();
  const nativeLatency = new LatencyHistogram();
  // With rooms, a message reaches its room only (members spread evenly).
  const perMessage = job.rooms > 0
    ? job.members / job.rooms
    : job.mode === "tlschat"
    ? job.members
    : job.members - 1;
  const sentBy = new Int32Array(job.senders);
  let received = 0;
  let orderViolations = 0;
  let disconnected = 0;
  let sending = true;
  let closing = false;
  const allDelivered = Promise.withResolvers<void>();
  const expected = () => {
    let sent = 0;
    for (const count of sentBy) sent += count;
    return sent * perMessage;
  };
  const send = (sender: number) => {
    const seq = sentBy[sender]!++;
    members[sender]!.write(`#${sender}:${seq}:${nowMicros()}\n`).catch(
      () => {},
    );
  };
  // The member whose receipt moves a sender's window: itself (echo), or the
  // next member where the server does not echo (ncat).
  const acker = (sender: number) =>
    job.mode === "tlschat" ? sender : (sender + 1) % job.members;

  const runStart = performance.now();
  const steadyFrom = nowMicros() + job.durationMs * 200; // a fifth, in µs
  const receiving = members.map((member) =>
    member.receive((sender, seq, sent, now) => {
      received++;
      histogram.add(now - sent);
      if (sent >= steadyFrom) steady.add(now - sent);
      (member.irc ? ircLatency : nativeLatency).add(now - sent);
      const expectedSeq = member.nextSeq[sender]!;
      if (seq !== expectedSeq) orderViolations++;
      member.nextSeq[sender] = seq + 1;
      if (member.index === acker(sender)) {
        echoes.add(now - sent);
        if (sending && job.inflight > 0) send(sender);
      }
      if (!sending && received >= expected()) allDelivered.resolve();
    }).then(
      () => closing || disconnected++,
      () => closing || disconnected++,
    )
  );

  const timers: ReturnType<typeof setTimeout>[] = [];
  if (job.liveness) {
    send(0);
  } else if (job.inflight > 0) {
    for (let s = 0; s < job.senders; s++) {
      for (let k = 0; k < job.inflight; k++) {
        send(s);
      }
    }
  } else {
    const periodMs = 1000 / job.rate;
    for (let s = 0; s < job.senders; s++) {
      // Stagger the senders across the period.
      const offset = (periodMs / job.senders) * s;
      timers.push(setTimeout(() => {
        send(s);
        timers.push(setInterval(() => send(s), periodMs));
      }, offset));
    }
  }
  if (!job.liveness) {
    await new Promise((resolve) => setTimeout(resolve, job.durationMs));
  }
  sending = false;
  for (const timer of timers) clearInterval(timer);
  const runMs = performance.now() - runStart;
  if (received >= expected()) allDelivered.resolve();
  const drainTimer = setTimeout(() => allDelivered.resolve(), job.drainMs);
  await allDelivered.promise;
  clearTimeout(drainTimer);
  closing = true;
  for (const member of members) member.close();
  await Promise.allSettled(receiving);
  report({ ran: true });
  let silentDropped = 0;
  for (const member of silent) {
    if (await member.drainUntilClosed(job.drainMs)) silentDropped++;
    member.conn.close();
  }
  let sent = 0;
  for (const count of sentBy) sent += count;
  return {
    sent,
    expected: expected(),
    received,
    orderViolations,
    disconnected,
    latency: histogram.summary(),
    echo: echoes.summary(),
    steady: steady.summary(),
    ircLatency: ircLatency.summary(),
    nativeLatency: nativeLatency.summary(),
    runMs,
    silentDropped,
    junkSent: 0,
    join: joins.summary(),
    joinAlone: alone.summary(),
  };
}

/** Writes `bytes` with no line feed; returns how many went out. */
async function sendJunk(member: Member, bytes: number): Promise<number> {
  const piece = new TextEncoder().encode("y".repeat(64 * 1024));
  let sent = 0;
  try {
    while (sent < bytes) sent += await member.conn.write(piece);
  } catch {
    // The server ended the connection: it stopped reading the junk.
  }
  return sent;
}

if (import.meta.main) {
  const job = JSON.parse(Deno.args[0]!) as LoadJob;
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
    .values();
  const result = await runLoad(
    job,
    async () => {
      await lines.next();
    },
    (data) => console.log(JSON.stringify(data)),
  );
  console.log(JSON.stringify({ result }));
  // Stay until the orchestrator has read this process's CPU time.
  await lines.next();
  Deno.exit(0);
}
