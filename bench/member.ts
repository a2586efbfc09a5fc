/**
 * One chat member of the benchmark's load, over TLS to the chat port, over
 * a WebSocket (spoken by hand) to the web door, or in IRC to the IRC door:
 * it joins, says lines, and reads what the room sends, counting
 * `#SENDER:SEQ:MICROS` messages without decoding them.
 *
 * @module
 */

/** Where and how a member joins: the part of a load job it reads. */
export interface MemberJob {
  readonly host: string;
  /** Chat ports; member i joins through `ports[i % ports.length]`. */
  readonly ports: readonly number[];
  readonly ca: string;
  /** `tlschat` (alias line, echo to sender) or `ncat` (no alias, no echo). */
  readonly mode: "tlschat" | "ncat";
  /** The web door's port, for members that join over WebSocket. */
  readonly webPort: number;
  /** Members that join over WebSocket: none, every other one, or all. */
  readonly web: "none" | "half" | "all";
  /**
   * Messages one member says (and leaves) before the others join, so that
   * each join gets history and is complete only at `HISTEND`.
   */
  readonly history: number;
  /**
   * Rooms (capability `rooms`): member i joins `#r{i % rooms}` and says
   * its lines there; 0: the one room.
   */
  readonly rooms: number;
  /** The IRC door's port, for members that join through it. */
  readonly ircPort: number;
  /**
   * One member in every `irc` joins through the IRC door, the last of each
   * group (10: members 9, 19, ...), in the default room; 0: none.
   */
  readonly irc: number;
}

import {
  ircRegistration,
  joinedChannel,
  privmsgs,
  privmsgText,
} from "./irc.ts";

const HASH = 0x23; // '#'
const COLON = 0x3a;
const LF = 0x0a;
const CR = 0x0d;
const encoder = new TextEncoder();
/** Microseconds on this process's monotonic clock. */
export const nowMicros = () => Math.round(performance.now() * 1000);

/**
 * One chat member of the load: a TLS connection to the chat port, or (with
 * `web`) a WebSocket to the web door, spoken by hand over TLS so that the
 * load costs the same per line whichever door it measures: one line per
 * unmasked text frame from the server, one masked frame per line to it.
 */
export class Member {
  readonly index: number;
  conn!: Deno.TlsConn;
  /** Whether it joins through the web door (WebSocket framing). */
  web = false;
  /** Whether it joins through the IRC door; then the channel it is in. */
  irc = false;
  #channel = "";
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
  async connect(job: MemberJob): Promise<number> {
    const start = nowMicros();
    this.web = job.web === "all" || job.web === "half" && this.index % 2 === 1;
    this.irc = job.irc > 0 && this.index % job.irc === job.irc - 1;
    const port = this.web
      ? job.webPort
      : this.irc
      ? job.ircPort
      : job.ports[this.index % job.ports.length]!;
    const tcp = await Deno.connect({ hostname: job.host, port });
    tcp.setNoDelay(true);
    this.conn = await Deno.startTls(tcp, {
      hostname: "localhost",
      caCerts: [job.ca],
    });
    await this.conn.handshake();
    if (this.web) await this.#upgrade(port);
    if (this.irc) {
      const nick = `m${this.index}`;
      await this.#writeBytes(encoder.encode(ircRegistration(nick)));
      // After 001 to 005: the default room's JOIN (history follows it).
      await this.#until((line) => {
        this.#channel = joinedChannel(line, nick) ?? "";
        return this.#channel !== "";
      });
    } else if (job.mode === "tlschat" && job.rooms > 0) {
      const room = `#r${this.index % job.rooms}`;
      await this.write(`/cap rooms\nm${this.index}\n/join ${room}\n`);
      await this.#until((line) => line === `CURRENT ${room}`);
    } else if (job.mode === "tlschat") {
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

  /**
   * Sends lines (each ending in LF): as they are, one frame each, or as
   * `PRIVMSG`s to its channel.
   */
  write(text: string): Promise<void> {
    if (this.irc) {
      return this.#writeBytes(encoder.encode(privmsgs(this.#channel, text)));
    }
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
    let last = "";
    const found = await this.#lines((chunk, start, end) =>
      done(last = decoder.decode(chunk.subarray(start, end)))
    );
    if (!found) {
      throw new Error(
        `member ${this.index}: closed while joining, after ${last.trim()}`,
      );
    }
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
      let hash: number;
      if (this.irc) {
        // A PRIVMSG's text, CR LF taken off.
        hash = privmsgText(chunk, start, end);
        if (hash === -1 || chunk[hash] !== HASH) return;
        if (chunk[end - 1] === CR) end--;
      } else {
        // A line of a room starts with its name: the payload is the next #.
        hash = chunk.indexOf(HASH, chunk[start] === HASH ? start + 1 : start);
        if (hash === -1 || hash >= end) return;
      }
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

/** The bytes of `parts`, one after the other. */
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
