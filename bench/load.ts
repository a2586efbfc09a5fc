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

import { LatencyHistogram } from "./stats.ts";

/** What one load process does. */
export interface LoadJob {
  readonly host: string;
  /** Chat ports; member i joins through `ports[i % ports.length]`. */
  readonly ports: readonly number[];
  readonly ca: string;
  /** `tlschat` (alias line, echo to sender) or `ncat` (no alias, no echo). */
  readonly mode: "tlschat" | "ncat";
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
  /** The web door's port, for members that join over WebSocket. */
  readonly webPort: number;
  /** Members that join over WebSocket: none, every other one, or all. */
  readonly web: "none" | "half" | "all";
  /**
   * Messages one member says (and leaves) before the others join, so that
   * each join gets history and is complete only at `HISTEND`.
   */
  readonly history: number;
}

/** What one load process reports. */
export interface LoadResult {
  readonly sent: number;
  readonly expected: number;
  readonly received: number;
  readonly orderViolations: number;
  readonly disconnected: number;
  readonly latency: ReturnType<LatencyHistogram["summary"]>;
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

const HASH = 0x23; // '#'
const COLON = 0x3a;
const LF = 0x0a;
const encoder = new TextEncoder();
const nowMicros = () => Math.round(performance.now() * 1000);

/**
 * One chat member of the load: a TLS connection to the chat port, or (with
 * `web`) a WebSocket to the web door, spoken by hand over TLS so that the
 * load costs the same per line whichever door it measures: one line per
 * unmasked text frame from the server, one masked frame per line to it.
 */
class Member {
  readonly index: number;
  conn!: Deno.TlsConn;
  /** Whether it joins through the web door (WebSocket framing). */
  web = false;
  /** Next expected sequence number per sender. */
  readonly nextSeq: Int32Array;
  #buffer = new Uint8Array(64 * 1024);
  /** Bytes received after the last whole line or frame. */
  #carry: Uint8Array = new Uint8Array(0);

  constructor(index: number, senders: number) {
    this.index = index;
    this.nextSeq = new Int32Array(senders);
  }

  /** Connects and joins; resolves to the microseconds it took. */
  async connect(job: LoadJob): Promise<number> {
    const start = nowMicros();
    this.web = job.web === "all" || job.web === "half" && this.index % 2 === 1;
    const port = this.web
      ? job.webPort
      : job.ports[this.index % job.ports.length]!;
    const tcp = await Deno.connect({ hostname: job.host, port });
    tcp.setNoDelay(true);
    this.conn = await Deno.startTls(tcp, {
      hostname: "localhost",
      caCerts: [job.ca],
    });
    await this.conn.handshake();
    if (this.web) await this.#upgrade(port);
    if (job.mode === "tlschat") {
      await this.write(`m${this.index}\n`);
      const done = job.history > 0 ? "HISTEND " : "WELCOME ";
      await this.#until((line) => line.startsWith(done));
    }
    return nowMicros() - start;
  }

  /** The HTTP upgrade to `/ws`, by hand. */
  async #upgrade(port: number): Promise<void> {
    await this.#writeBytes(encoder.encode(
      `GET /ws HTTP/1.1\r\nhost: localhost:${port}\r\nupgrade: websocket\r\n` +
        "connection: Upgrade\r\nsec-websocket-version: 13\r\n" +
        "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    ));
    // The response head, then maybe the first frames: kept as bytes.
    let got: Uint8Array = new Uint8Array(0);
    let end = -1;
    while (end === -1) {
      const n = await this.conn.read(this.#buffer);
      if (n === null) throw new Error(`member ${this.index}: no upgrade`);
      got = concat([got, this.#buffer.subarray(0, n)]);
      end = headEnd(got);
    }
    const head = new TextDecoder().decode(got.subarray(0, end));
    if (!head.startsWith("HTTP/1.1 101")) {
      throw new Error(`member ${this.index}: ${head.split("\r\n")[0]}`);
    }
    this.#carry = got.slice(end);
  }

  /**
   * Says `count` lines and waits for their echoes (the room's history), a
   * hundred at a time so that its own queue never fills.
   */
  async say(count: number): Promise<void> {
    for (let from = 0; from < count; from += 100) {
      const to = Math.min(count, from + 100);
      let text = "";
      for (let i = from; i < to; i++) text += `earlier message ${i}\n`;
      await this.write(text);
      const last = `MSG m${this.index} earlier message ${to - 1}`;
      await this.#until((line) => line === last);
    }
  }

  /** Sends lines (each ending in LF): as they are, or one frame each. */
  write(text: string): Promise<void> {
    if (!this.web) return this.#writeBytes(encoder.encode(text));
    const frames: Uint8Array[] = [];
    for (const line of text.split("\n")) {
      if (line !== "") frames.push(clientFrame(encoder.encode(line)));
    }
    return this.#writeBytes(concat(frames));
  }

  async #writeBytes(data: Uint8Array): Promise<void> {
    while (data.length > 0) data = data.subarray(await this.conn.write(data));
  }

  /**
   * Reads until closed, calling `onLine(chunk, start, end)` for each line
   * (or frame payload) received, with the time it came.
   */
  async #lines(
    onLine: (
      chunk: Uint8Array,
      start: number,
      end: number,
      now: number,
    ) => boolean | void,
  ): Promise<boolean> {
    while (true) {
      let chunk = this.#carry;
      let start = 0;
      const now = nowMicros();
      while (true) {
        let from: number, to: number, next: number;
        if (this.web) {
          if (chunk.length - start < 2) break;
          const length = chunk[start + 1]! & 0x7f;
          const header = length === 126 ? 4 : length === 127 ? 10 : 2;
          if (chunk.length - start < header) break;
          const size = length === 126
            ? (chunk[start + 2]! << 8) | chunk[start + 3]!
            : length;
          if (length === 127 || chunk.length - start < header + size) break;
          if ((chunk[start]! & 0x0f) === 8) return false; // close frame
          from = start + header;
          to = from + size;
          next = to;
        } else {
          const end = chunk.indexOf(LF, start);
          if (end === -1) break;
          from = start;
          to = end;
          next = end + 1;
        }
        start = next;
        if (onLine(chunk, from, to, now) === true) {
          this.#carry = chunk.slice(start);
          return true;
        }
      }
      this.#carry = start < chunk.length
        ? chunk.slice(start)
        : new Uint8Array(0);
      const n = await this.conn.read(this.#buffer);
      if (n === null) return false;
      const got = this.#buffer.subarray(0, n);
      chunk = this.#carry.length === 0 ? got : concat([this.#carry, got]);
      this.#carry = chunk;
    }
  }

  /** Reads lines until one satisfies `done` (joining only). */
  async #until(done: (line: string) => boolean): Promise<void> {
    const decoder = new TextDecoder();
    const found = await this.#lines((chunk, start, end) =>
      done(decoder.decode(chunk.subarray(start, end)))
    );
    if (!found) throw new Error(`member ${this.index}: closed while joining`);
  }

  /**
   * Reads and drops everything until the server closes the connection;
   * false if it is still open after `timeoutMs`.
   */
  async drainUntilClosed(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const drained = (async () => {
      try {
        while (await this.conn.read(this.#buffer) !== null) { /* drop */ }
      } catch {
        // A reset: closed too.
      }
      return true;
    })();
    const closed = await Promise.race([drained, late]);
    clearTimeout(timer);
    return closed;
  }

  /** Reads until closed, handing each `#S:Q:T` payload to `onMessage`. */
  async receive(
    onMessage: (
      sender: number,
      seq: number,
      sentMicros: number,
      nowMicros: number,
    ) => void,
  ): Promise<void> {
    await this.#lines((chunk, start, end, now) => {
      const hash = chunk.indexOf(HASH, start);
      if (hash === -1 || hash >= end) return;
      let i = hash + 1;
      let sender = 0;
      while (chunk[i] !== COLON) sender = sender * 10 + chunk[i++]! - 48;
      i++;
      let seq = 0;
      while (chunk[i] !== COLON) seq = seq * 10 + chunk[i++]! - 48;
      i++;
      let sent = 0;
      while (i < end) sent = sent * 10 + chunk[i++]! - 48;
      onMessage(sender, seq, sent, now);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.conn.close();
  }
}

/** Where an HTTP head ends (after its blank line) in `bytes`; -1: not yet. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === LF && bytes[i - 1] === 0x0d && bytes[i - 2] === LF &&
      bytes[i - 3] === 0x0d
    ) return i + 1;
  }
  return -1;
}

/** A client's text frame: masked, as RFC 6455 requires (a zero key). */
function clientFrame(payload: Uint8Array): Uint8Array {
  const header = payload.length < 126 ? 6 : 8;
  const frame = new Uint8Array(header + payload.length);
  frame[0] = 0x81;
  if (header === 6) {
    frame[1] = 0x80 | payload.length;
  } else {
    frame[1] = 0x80 | 126;
    frame[2] = payload.length >>> 8;
    frame[3] = payload.length & 0xff;
  }
  frame.set(payload, header); // masking with a zero key changes nothing
  return frame;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

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
    await speaker.connect({ ...job, history: 0 });
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
  const alone = new LatencyHistogram();
  for (let i = 0; i < PROBE_JOINS; i++) {
    const probe = new Member(job.members + job.silent + 1 + i, job.senders);
    alone.add(await probe.connect(job));
    probe.close();
  }
  const silent = Array.from(
    { length: job.silent },
    (_, i) => new Member(job.members + i, job.senders),
  );
  for (const member of silent) await member.connect(job);
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
      runMs: 0,
      silentDropped: 0,
      junkSent,
      join: joins.summary(),
      joinAlone: alone.summary(),
    };
  }

  const histogram = new LatencyHistogram();
  const perMessage = job.mode === "tlschat" ? job.members : job.members - 1;
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
  const receiving = members.map((member) =>
    member.receive((sender, seq, sent, now) => {
      received++;
      histogram.add(now - sent);
      const expectedSeq = member.nextSeq[sender]!;
      if (seq !== expectedSeq) orderViolations++;
      member.nextSeq[sender] = seq + 1;
      if (sending && job.inflight > 0 && member.index === acker(sender)) {
        send(sender);
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
    runMs,
    silentDropped,
    junkSent: 0,
    join: joins.summary(),
    joinAlone: alone.summary(),
  };
}

/** Writes `bytes` with no line feed; returns how many went out. */
async function sendJunk(member: Member, bytes: number): Promise<number> {
  const piece = encoder.encode("y".repeat(64 * 1024));
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
