/**
 * The deno TLS engine: `Deno.listenTls` (rustls) behind
 * {@linkcode ByteListener}. It reads only when asked: into a small buffer of
 * the connection's own while input is quiet, into a large one from its
 * listener's free list while it flows ({@linkcode ReadBuffers}). It cannot
 * read a PROXY header or ask for client certificates (`Deno.listenTls`
 * starts TLS on the socket itself).
 *
 * Closing: Deno's TLS stream (rustls-tokio-stream) finishes a pending
 * handshake or write before it releases the socket, with no timeout, so a
 * peer that stays silent or stops reading keeps its socket open after
 * `close()`. A connection therefore resolves {@linkcode ByteConn.close}
 * only once the socket is really released, and the listener counts the
 * sockets closed but not yet released, so callers can count them for as
 * long as they exist.
 *
 * @module
 */

import type { ByteConn, ByteListener, NetAddress } from "./byte_conn.ts";

/**
 * Bytes the deno engine reads at once while data flows; longer lines span
 * reads.
 */
export const READ_BUFFER_BYTES = 1024;

/**
 * Bytes the deno engine's connection reads into while its input is quiet:
 * an idle member's pending read pins this, not {@linkcode READ_BUFFER_BYTES}
 * (a chat line fits; see {@linkcode ReadBuffers}).
 */
export const IDLE_READ_BYTES = 128;

/**
 * The deno engine's large read buffers, one free list per listener. A
 * connection reads into its own small buffer ({@linkcode IDLE_READ_BYTES})
 * until a read fills it (more is waiting), then into a large one
 * ({@linkcode READ_BUFFER_BYTES}) taken from here, for as long as its reads
 * bring at least the small buffer's worth; it gives the large one back with
 * the first read after one that brought less. So an idle member pins a
 * small buffer (about 1 KB less RSS each), and a busy one reads as it did
 * with a large buffer of its own: an extra read only when input grows past
 * the small buffer after a quiet read. The list keeps at most `keep` free
 * buffers.
 */
export class ReadBuffers {
  #free: Uint8Array[] = [];
  #keep: number;

  constructor(keep = 64) {
    this.#keep = keep;
  }

  /** Large buffers ready to be taken. */
  get free(): number {
    return this.#free.length;
  }

  /** A large buffer, free or new. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(READ_BUFFER_BYTES);
  }

  /** Gives back a large buffer whose bytes nobody uses any more. */
  give(buffer: Uint8Array): void {
    if (this.#free.length < this.#keep) this.#free.push(buffer);
  }
}

/** Where and with what a deno-engine listener binds. */
export interface DenoTlsOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** Binds a TLS listener with `Deno.listenTls`. */
export function listenDenoTls(options: DenoTlsOptions): ByteListener {
  const { hostname, port, cert, key } = options;
  return new DenoListener(Deno.listenTls({ hostname, port, cert, key }));
}

/** How a connection tells its listener about closing and releasing. */
interface ReleaseReport {
  closed(): void;
  released(): void;
}

/** `Deno.listenTls`, counting sockets closed but not yet released. */
class DenoListener implements ByteListener {
  readonly addr: NetAddress;
  unreleased = 0;
  #listener: Deno.TlsListener;
  #release: PromiseWithResolvers<void> | null = null;
  #buffers = new ReadBuffers();
  /** Shared by every connection (one object, not two closures each). */
  #report: ReleaseReport = {
    closed: () => this.unreleased++,
    released: () => {
      this.unreleased--;
      this.#release?.resolve();
      this.#release = null;
    },
  };

  constructor(listener: Deno.TlsListener) {
    this.#listener = listener;
    this.addr = listener.addr;
  }

  released(): Promise<void> {
    this.#release ??= Promise.withResolvers();
    return this.#release.promise;
  }

  async accept(): Promise<ByteConn> {
    return new DenoConn(
      await this.#listener.accept(),
      this.#report,
      this.#buffers,
    );
  }

  close(): void {
    this.#listener.close();
  }
}

/**
 * A `Deno.TlsConn` that tracks the operations that delay its release, and
 * reports when it starts closing and when its socket is really released.
 */
class DenoConn implements ByteConn {
  readonly remoteAddr: NetAddress;
  /** Never: the deno engine refuses trusted proxies. */
  readonly proxied = false;
  /** Failures surface in reads and writes. */
  readonly failure = null;
  /** `Deno.listenTls` never asks for client certificates. */
  readonly peer = null;
  #conn: Deno.TlsConn;
  #buffers: ReadBuffers;
  /** Read into while input is quiet (see {@linkcode ReadBuffers}). */
  #small = new Uint8Array(IDLE_READ_BYTES);
  /** Taken from `#buffers` while input flows. */
  #large: Uint8Array | null = null;
  /** The last read brought enough that the next one reads into `#large`. */
  #flowing = false;
  #report: ReleaseReport;
  /** Handshake, writes and closeWrite not yet settled. */
  #pending = 0;
  #settled: PromiseWithResolvers<void> | null = null;
  #closing = false;
  #closed = false;
  #wasReleased = false;

  constructor(conn: Deno.TlsConn, report: ReleaseReport, buffers: ReadBuffers) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.#report = report;
    this.#buffers = buffers;
  }

  located(): Promise<void> {
    return Promise.resolve();
  }

  /** Counts an operation that must end before the socket is released. */
  #track<T>(operation: Promise<T>): Promise<T> {
    this.#pending++;
    const done = () => {
      if (--this.#pending > 0) return;
      this.#settled?.resolve();
      this.#settled = null;
      if (this.#closed) this.#released();
    };
    operation.then(done, done);
    return operation;
  }

  async handshake(): Promise<void> {
    await this.#track(this.#conn.handshake());
  }

  read(): Promise<Uint8Array | null> {
    // The previous read's bytes are no longer in use: its large buffer, if
    // input went quiet, can go back.
    let buffer: Uint8Array = this.#small;
    if (this.#flowing) {
      buffer = this.#large ??= this.#buffers.take();
    } else if (this.#large !== null) {
      this.#buffers.give(this.#large);
      this.#large = null;
    }
    // A promise chain, not an async function: an idle member holds no
    // suspended frame here.
    return this.#conn.read(buffer).then((n) => {
      if (n === null) return null;
      this.#flowing = buffer === this.#small
        ? n === buffer.length
        : n >= IDLE_READ_BYTES;
      return buffer.subarray(0, n);
    });
  }

  write(data: Uint8Array): Promise<number> {
    return this.#track(this.#conn.write(data));
  }

  closeWrite(): Promise<void> {
    return this.#track(this.#conn.closeWrite());
  }

  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#report.closed();
    }
    while (this.#pending > 0) {
      this.#settled ??= Promise.withResolvers();
      await this.#settled.promise;
    }
    this.abort();
  }

  abort(): void {
    if (this.#closed) return;
    if (!this.#closing) {
      this.#closing = true;
      this.#report.closed();
    }
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed after an error: nothing left to release.
    }
    // A pending handshake or write still holds the socket: it is released
    // when that operation ends (see #track).
    if (this.#pending === 0) this.#released();
  }

  #released(): void {
    if (this.#wasReleased) return;
    this.#wasReleased = true;
    this.#report.released();
  }
}
