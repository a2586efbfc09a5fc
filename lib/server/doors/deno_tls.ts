/**
 * The deno TLS engine: `Deno.listenTls` (rustls) behind
 * {@linkcode ByteListener}. It reads only when asked, into one small buffer
 * per connection, and cannot read a PROXY header or ask for client
 * certificates (`Deno.listenTls` starts TLS on the socket itself).
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
 * Bytes the deno engine reads at once. An idle member holds this buffer in
 * its pending read, so it is small; longer lines span reads.
 */
export const READ_BUFFER_BYTES = 1024;

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
    return new DenoConn(await this.#listener.accept(), this.#report);
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
  #buffer = new Uint8Array(READ_BUFFER_BYTES);
  #report: ReleaseReport;
  /** Handshake, writes and closeWrite not yet settled. */
  #pending = 0;
  #settled: PromiseWithResolvers<void> | null = null;
  #closing = false;
  #closed = false;
  #wasReleased = false;

  constructor(conn: Deno.TlsConn, report: ReleaseReport) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.#report = report;
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
    // A promise chain, not an async function: an idle member holds no
    // suspended frame here.
    return this.#conn.read(this.#buffer).then((n) =>
      n === null ? null : this.#buffer.subarray(0, n)
    );
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
