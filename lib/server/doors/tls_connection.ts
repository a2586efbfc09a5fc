/**
 * The TLS door's {@linkcode Connection}: a byte connection from either TLS
 * engine, framed into lines by a bounded {@linkcode LineFramer} and written
 * through one {@linkcode Outbox}. It reads only when its consumer asks, so a
 * client whose lines wait (flood control, a congested room) is pushed back
 * by TCP. Its goodbye is the only one the server has:
 * sessions and refused connections both end through {@linkcode
 * TlsConnection.close}, and it never takes longer than the close grace.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import { LineFramer } from "../../framing.ts";
import type {
  CloseOptions,
  Connection,
  ConnectionInfo,
  InboundLine,
  QueueWatcher,
  SendOptions,
} from "../room/connection.ts";
import { Outbox } from "./outbox.ts";
import { type ByteConn, formatAddress } from "./byte_conn.ts";
import type { PeerCertificate } from "../access/accounts.ts";

/** Options of {@linkcode TlsConnection}. */
export interface TlsConnectionOptions {
  readonly maxLineBytes: number;
  /** A line running past this many bytes yields `LINE_ENDLESS`. */
  readonly maxSkipBytes: number;
  /** Memory the outbound queue may hold (see {@linkcode Outbox}). */
  readonly queueBytes: number;
  /** Longest a goodbye may take before the connection is dropped. */
  readonly closeGraceMs: number;
  readonly clock: Clock;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({
  done: true,
  value: undefined,
});

/** A TLS connection, handshaken or not, as whole lines. */
export class TlsConnection
  implements Connection, AsyncIterableIterator<Iterable<InboundLine>> {
  readonly info: ConnectionInfo;
  #conn: ByteConn;
  #options: TlsConnectionOptions;
  #framer: LineFramer;
  #outbox: Outbox;
  /** The read in progress; the line reader and the goodbye share it. */
  #reading: Promise<Uint8Array | null> | null = null;
  #closing = false;
  /** The lines ended (the peer's end, or a failure). */
  #ended = false;
  #closed: Promise<void> | null = null;
  #failure: unknown = null;

  /** Wraps a byte connection from a TLS listener. */
  constructor(conn: ByteConn, options: TlsConnectionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.info = new TlsInfo(conn);
    this.#framer = new LineFramer(options.maxLineBytes, {
      maxSkipBytes: options.maxSkipBytes,
    });
    this.#outbox = new Outbox(conn, options.queueBytes, (error) => {
      // The reader learns of it: its next read fails with this error.
      this.#failure = error;
      conn.abort();
    });
  }

  /** Completes the TLS handshake; rejects when it fails. */
  handshake(): Promise<void> {
    return this.#conn.handshake();
  }

  /**
   * The connection is its own iterator over batches of lines, with no
   * async generator (its suspended state would be held for every idle
   * member): each `next()` is one read, framed.
   */
  lines(): AsyncIterableIterator<Iterable<InboundLine>> {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Iterable<InboundLine>> {
    return this;
  }

  /** The next batch of lines; done when the peer ended or closing began. */
  next(): Promise<IteratorResult<Iterable<InboundLine>, undefined>> {
    if (this.#closing || this.#ended) return Promise.resolve(DONE);
    const read = this.#read();
    return read.then(
      (chunk) => {
        this.#readEnded(read);
        if (chunk !== null) return { done: false, value: this.#frame(chunk) };
        this.#ended = true;
        if (this.#failure !== null) throw this.#failure;
        return DONE;
      },
      (error) => {
        this.#readEnded(read);
        this.#ended = true;
        throw this.#failure ?? error;
      },
    );
  }

  /** The consumer stopped early: nothing to release (the read goes on). */
  return(): Promise<IteratorResult<Iterable<InboundLine>, undefined>> {
    return Promise.resolve(DONE);
  }

  /** The lines of one received chunk, for as long as the connection lasts. */
  *#frame(chunk: Uint8Array): Generator<InboundLine> {
    for (const line of this.#framer.push(chunk)) {
      if (this.#closing) return;
      // Lines already received are still served after the peer ends its
      // side, but not after the connection failed.
      if (this.#conn.failure) throw this.#conn.failure;
      yield line;
    }
  }

  send(line: Uint8Array, options?: SendOptions): boolean {
    return this.#closing || this.#outbox.push(line, options);
  }

  get queued(): number {
    return this.#outbox.queuedBytes;
  }

  watchQueue(watcher: QueueWatcher): void {
    this.#outbox.watch(watcher);
  }

  close(last?: Uint8Array, options: CloseOptions = {}): Promise<void> {
    this.#closed ??= this.#goodbye(last, options.linger ?? true);
    return this.#closed;
  }

  abort(): void {
    this.#closing = true;
    this.#conn.abort();
  }

  /**
   * One read at a time: a second caller gets the read in progress. The
   * engine's own promise is shared, with no promise chained to it (memory
   * per idle member); each caller calls `#readEnded` once it settled.
   */
  #read(): Promise<Uint8Array | null> {
    if (this.#reading === null) {
      try {
        this.#reading = this.#conn.read();
      } catch (error) {
        this.#reading = Promise.reject(error);
      }
    }
    return this.#reading;
  }

  /** `read` settled: the next `#read` starts a new one. */
  #readEnded(read: Promise<Uint8Array | null>): void {
    if (this.#reading === read) this.#reading = null;
  }

  async #goodbye(last: Uint8Array | undefined, linger: boolean): Promise<void> {
    this.#closing = true;
    if (last) this.#outbox.push(last, { force: true });
    const { clock, closeGraceMs } = this.#options;
    const grace = Promise.withResolvers<"late">();
    const timer = clock.setTimeout(() => grace.resolve("late"), closeGraceMs);
    try {
      const flushed = await Promise.race([
        this.#outbox.drained(),
        grace.promise,
      ]);
      if (flushed !== "late" && linger) {
        const ended = this.#conn.closeWrite().catch(() => {});
        if (await Promise.race([ended, grace.promise]) !== "late") {
          await Promise.race([this.#drainInput(), grace.promise]);
        }
      }
    } finally {
      clock.clearTimeout(timer);
    }
    await this.#conn.close();
  }

  /**
   * Reads and drops input until the peer closes, so that closing does not
   * reset the connection before the peer has read our last lines; gives up
   * after a line's worth of junk.
   */
  async #drainInput(): Promise<void> {
    let dropped = 0;
    while (dropped <= this.#options.maxSkipBytes) {
      const read = this.#read();
      const chunk = await read.catch(() => null);
      this.#readEnded(read);
      if (chunk === null) return;
      dropped += chunk.length;
    }
  }
}

/**
 * What a session may know of a TLS connection: a small class rather than an
 * object literal with a getter, which V8 would keep as a dictionary (about
 * 400 bytes more for every member).
 */
class TlsInfo implements ConnectionInfo {
  readonly door = "tls";
  #conn: ByteConn;

  constructor(conn: ByteConn) {
    this.#conn = conn;
  }

  /**
   * Remote host; known for sure once the handshake has ended (a trusted
   * proxy's PROXY header names the client), like the certificate.
   */
  get host(): string {
    return this.#conn.remoteAddr.hostname;
  }

  /** Remote `host:port`, made when a log line asks for it. */
  get address(): string {
    return formatAddress(this.#conn.remoteAddr);
  }

  /** Known once the handshake has ended. */
  get certificate(): PeerCertificate | null {
    return this.#conn.peer;
  }
}
