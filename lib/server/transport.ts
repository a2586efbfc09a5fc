/**
 * TLS listeners behind one small byte-connection interface, so nothing above
 * knows which engine accepted a connection. Two engines: `node` (`node:tls`
 * over `node:net`, TCP_NODELAY set; the default) and `deno`
 * (`Deno.listenTls`, rustls). Both accept the TCP connection first and run
 * the TLS handshake lazily, on {@linkcode ByteConn.handshake}, so a bad
 * client only fails its own connection.
 *
 * Reading differs. The deno engine reads only when asked, into one small
 * buffer per connection, so TCP pushes back on a sender nobody reads. The
 * node engine (as Deno 2.9 implements `node:tls`) reads and decrypts
 * whatever arrives, paused or not; a connection whose reader falls behind
 * (a client throttled for flooding) therefore holds at most `maxInputBytes`
 * received but unread bytes and fails with {@linkcode InputOverflowError}
 * beyond that, instead of growing.
 *
 * Closing differs too: Deno's TLS stream (rustls-tokio-stream) finishes a
 * pending handshake or write before it releases the socket, with no
 * timeout, so a peer that stays silent or stops reading keeps its socket
 * open after `close()`. The deno engine therefore resolves
 * {@linkcode ByteConn.close} only once the socket is really released, so
 * callers can count it for as long as it exists. The node engine releases
 * the socket at once.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";

/** TLS engines a server can listen with. */
export const TLS_ENGINES = ["node", "deno"] as const;

/** A TLS engine name. */
export type TlsEngine = (typeof TLS_ENGINES)[number];

/**
 * Bytes the deno engine reads at once. An idle member holds this buffer in
 * its pending read, so it is small; longer lines span reads.
 */
export const READ_BUFFER_BYTES = 1024;

/** Host and port of one end of a connection. */
export interface NetAddress {
  readonly hostname: string;
  readonly port: number;
}

/** `host:port`, with brackets around an IPv6 host (`[::1]:7443`). */
export function formatAddress({ hostname, port }: NetAddress): string {
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}

/** A peer sent more than a connection may hold unread. */
export class InputOverflowError extends Error {
  /** Creates the error for a limit in bytes. */
  constructor(limitBytes: number) {
    super(`More than ${limitBytes} bytes were received and not yet read`);
    this.name = "InputOverflowError";
  }
}

/** A server-side TLS connection, as bytes. */
export interface ByteConn {
  readonly remoteAddr: NetAddress;
  /**
   * Why the connection failed, once it has (for an engine that learns of it
   * outside a read); null while it has not.
   */
  readonly failure: Error | null;
  /** Completes the TLS handshake; rejects when it fails. */
  handshake(): Promise<void>;
  /**
   * Resolves to the next received bytes (a view valid until the next read),
   * or null once the peer has closed its side. Never called concurrently.
   */
  read(): Promise<Uint8Array | null>;
  /** Writes some of `data`; resolves to the number of bytes written. */
  write(data: Uint8Array): Promise<number>;
  /** Ends the sending side after queued writes (TLS close_notify, then FIN). */
  closeWrite(): Promise<void>;
  /**
   * Closes the connection. Resolves once the socket is released, which on
   * the deno engine waits for a pending handshake or write to end.
   */
  close(): Promise<void>;
  /** Closes at once, even if the engine releases the socket later. */
  abort(): void;
}

/** A bound TLS listener. */
export interface ByteListener {
  readonly addr: NetAddress;
  /**
   * Accepted connections that were closed but whose socket the engine has
   * not released yet (always 0 on the node engine).
   */
  readonly unreleased: number;
  /** Resolves the next time an unreleased socket is released. */
  released(): Promise<void>;
  /** Waits for the next TCP connection; rejects once the listener is closed. */
  accept(): Promise<ByteConn>;
  close(): void;
}

/** Options of {@linkcode listenTls}. */
export interface ListenTlsOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** @default {"node"} */
  engine?: TlsEngine;
  /**
   * Received bytes a node-engine connection holds unread before failing.
   * @default {65536}
   */
  maxInputBytes?: number;
}

/** Binds a TLS listener with the chosen engine. */
export async function listenTls(
  options: ListenTlsOptions,
): Promise<ByteListener> {
  const { hostname, port, cert, key } = options;
  if (options.engine === "deno") {
    return new DenoListener(Deno.listenTls({ hostname, port, cert, key }));
  }
  return await NodeListener.listen(options);
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
  /** Failures surface in reads and writes. */
  readonly failure = null;
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

  async read(): Promise<Uint8Array | null> {
    const n = await this.#conn.read(this.#buffer);
    return n === null ? null : this.#buffer.subarray(0, n);
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

/** A `node:net` server whose sockets are wrapped in server-side TLS. */
class NodeListener implements ByteListener {
  readonly addr: NetAddress;
  /** Node sockets are released as soon as they are destroyed. */
  readonly unreleased = 0;
  #server: net.Server;
  #ready: ByteConn[] = [];
  #waiting: PromiseWithResolvers<ByteConn> | null = null;
  #closed = false;

  private constructor(server: net.Server, addr: NetAddress) {
    this.#server = server;
    this.addr = addr;
  }

  static async listen(options: ListenTlsOptions): Promise<NodeListener> {
    const context = tls.createSecureContext({
      cert: options.cert,
      key: options.key,
    });
    const maxInputBytes = options.maxInputBytes ?? 65_536;
    // Half-open: a client that ends its side (stdin done) still gets
    // everything queued for it, and the BYE line.
    const server = net.createServer({ noDelay: true, allowHalfOpen: true });
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    server.once("error", reject);
    server.listen({ host: options.hostname, port: options.port }, resolve);
    await promise;
    server.off("error", reject);
    const address = server.address() as net.AddressInfo;
    const listener = new NodeListener(server, {
      hostname: address.address,
      port: address.port,
    });
    server.on("connection", (socket: net.Socket) => {
      listener.#deliver(new NodeConn(socket, context, maxInputBytes));
    });
    return listener;
  }

  #deliver(conn: ByteConn): void {
    if (this.#waiting) {
      this.#waiting.resolve(conn);
      this.#waiting = null;
    } else {
      this.#ready.push(conn);
    }
  }

  released(): Promise<void> {
    return Promise.resolve();
  }

  accept(): Promise<ByteConn> {
    const conn = this.#ready.shift();
    if (conn) return Promise.resolve(conn);
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource());
    this.#waiting = Promise.withResolvers();
    return this.#waiting.promise;
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource();
    this.#closed = true;
    this.#server.close();
    for (const conn of this.#ready.splice(0)) conn.abort();
    this.#waiting?.reject(new Deno.errors.BadResource());
    this.#waiting = null;
  }
}

/**
 * A server-side `tls.TLSSocket` adapted to {@linkcode ByteConn}. It takes
 * every chunk as it arrives (pausing would not stop the engine from reading
 * ahead) and holds at most `maxInputBytes` of them unread.
 */
class NodeConn implements ByteConn {
  readonly remoteAddr: NetAddress;
  #socket: tls.TLSSocket;
  #secure: Promise<void>;
  #chunks: Uint8Array[] = [];
  #unreadBytes = 0;
  #maxInputBytes: number;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #check: ReturnType<typeof setTimeout> | undefined;

  get failure(): Error | null {
    return this.#error;
  }

  constructor(
    raw: net.Socket,
    context: tls.SecureContext,
    maxInputBytes: number,
  ) {
    raw.setNoDelay(true);
    // The TLS socket reports the raw socket's errors; an "error" event with
    // no listener would throw.
    raw.on("error", () => {});
    this.remoteAddr = {
      hostname: raw.remoteAddress ?? "",
      port: raw.remotePort ?? 0,
    };
    this.#maxInputBytes = maxInputBytes;
    const socket = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: context,
    });
    this.#socket = socket;
    this.#secure = new Promise((resolve, reject) => {
      socket.once("secure", resolve);
      socket.once("error", reject);
      socket.once("close", () => reject(new Deno.errors.UnexpectedEof()));
    });
    // Handled here; a failed handshake is reported by handshake().
    this.#secure.catch(() => {});
    socket.on("data", (chunk: Uint8Array) => this.#receive(chunk));
    socket.on("end", () => this.#end());
    socket.on("close", () => this.#end());
    socket.on("error", (error: Error) => {
      this.#error ??= error;
      this.#notify();
    });
  }

  #receive(chunk: Uint8Array): void {
    if (this.#error) return;
    this.#chunks.push(chunk);
    this.#unreadBytes += chunk.length;
    // A reader that keeps up drains the queue before the next turn of the
    // event loop, however much arrived at once; one that does not (a client
    // throttled for flooding) gets no more than the limit held for it.
    if (this.#unreadBytes > this.#maxInputBytes && this.#check === undefined) {
      this.#check = setTimeout(() => {
        this.#check = undefined;
        if (this.#unreadBytes > this.#maxInputBytes) this.#overflow();
      }, 0);
    }
    this.#notify();
  }

  #overflow(): void {
    this.#error = new InputOverflowError(this.#maxInputBytes);
    this.#chunks = [];
    this.#unreadBytes = 0;
    this.#socket.destroy();
    this.#notify();
  }

  #end(): void {
    this.#ended = true;
    this.#notify();
  }

  handshake(): Promise<void> {
    return this.#secure;
  }

  async read(): Promise<Uint8Array | null> {
    while (true) {
      const chunk = this.#chunks.shift();
      if (chunk) {
        this.#unreadBytes -= chunk.length;
        return chunk;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      await promise;
    }
  }

  write(data: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(
        data,
        (error?: Error | null) => error ? reject(error) : resolve(data.length),
      );
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): Promise<void> {
    this.abort();
    return Promise.resolve();
  }

  abort(): void {
    clearTimeout(this.#check);
    this.#check = undefined;
    this.#chunks = [];
    this.#unreadBytes = 0;
    this.#socket.destroy();
    this.#end();
  }

  #notify(): void {
    this.#wake?.();
    this.#wake = null;
  }
}
