/**
 * TLS listeners behind one small connection interface, so sessions and the
 * room never know which engine accepted a connection. Two engines:
 * `deno` (`Deno.listenTls`, rustls; the default) and `node` (`node:tls` over
 * `node:net`, with TCP_NODELAY set, which `Deno.TlsConn` cannot do). Both
 * accept the TCP connection first and run the TLS handshake lazily, on
 * {@linkcode ChatConn.handshake}, so a bad client only fails its own
 * connection.
 *
 * Closing differs: Deno's TLS stream (rustls-tokio-stream) finishes a pending
 * handshake or write before it releases the socket, with no timeout, so a
 * peer that stays silent or stops reading keeps its socket open after
 * `close()`. The deno engine therefore resolves {@linkcode ChatConn.close}
 * only once those operations have ended, so callers keep counting the
 * connection against their caps for as long as it really exists. The node
 * engine releases the socket at once.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type { TlsEngine } from "./config.ts";

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

/**
 * A server-side TLS connection as a session sees it. `Deno.TlsConn` already
 * has this shape; the node engine adapts its sockets to it.
 */
export interface ChatConn {
  readonly remoteAddr: NetAddress;
  /** Completes the TLS handshake; rejects when it fails. */
  handshake(): Promise<unknown>;
  /** Reads into `buffer`; resolves to the byte count, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
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
export interface ChatListener {
  readonly addr: NetAddress;
  /** Waits for the next TCP connection; rejects once the listener is closed. */
  accept(): Promise<ChatConn>;
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
  /** @default {"deno"} */
  engine?: TlsEngine;
}

/** Binds a TLS listener with the chosen engine. */
export async function listenTls(
  options: ListenTlsOptions,
): Promise<ChatListener> {
  const { hostname, port, cert, key } = options;
  if ((options.engine ?? "deno") === "deno") {
    const listener = Deno.listenTls({ hostname, port, cert, key });
    return {
      addr: listener.addr,
      accept: async () => new DenoConn(await listener.accept()),
      close: () => listener.close(),
    };
  }
  return await NodeListener.listen(hostname, port, cert, key);
}

/** A `Deno.TlsConn` that tracks the operations that delay its release. */
class DenoConn implements ChatConn {
  readonly remoteAddr: NetAddress;
  #conn: Deno.TlsConn;
  /** Handshake, writes and closeWrite not yet settled. */
  #pending = 0;
  #settled: PromiseWithResolvers<void> | null = null;
  #closed = false;

  constructor(conn: Deno.TlsConn) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
  }

  /** Counts an operation that must end before the socket is released. */
  #track<T>(operation: Promise<T>): Promise<T> {
    this.#pending++;
    const done = () => {
      if (--this.#pending > 0) return;
      this.#settled?.resolve();
      this.#settled = null;
    };
    operation.then(done, done);
    return operation;
  }

  handshake(): Promise<unknown> {
    return this.#track(this.#conn.handshake());
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer);
  }

  write(data: Uint8Array): Promise<number> {
    return this.#track(this.#conn.write(data));
  }

  closeWrite(): Promise<void> {
    return this.#track(this.#conn.closeWrite());
  }

  async close(): Promise<void> {
    while (this.#pending > 0) {
      this.#settled ??= Promise.withResolvers();
      await this.#settled.promise;
    }
    this.abort();
  }

  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed after an error: nothing left to release.
    }
  }
}

/** A `node:net` server whose sockets are wrapped in server-side TLS. */
class NodeListener implements ChatListener {
  readonly addr: NetAddress;
  #server: net.Server;
  #ready: ChatConn[] = [];
  #waiting: PromiseWithResolvers<ChatConn> | null = null;
  #closed = false;

  private constructor(server: net.Server, addr: NetAddress) {
    this.#server = server;
    this.addr = addr;
  }

  static async listen(
    hostname: string,
    port: number,
    cert: string,
    key: string,
  ): Promise<NodeListener> {
    const context = tls.createSecureContext({ cert, key });
    const server = net.createServer({ noDelay: true });
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    server.once("error", reject);
    server.listen({ host: hostname, port }, resolve);
    await promise;
    server.off("error", reject);
    const address = server.address() as net.AddressInfo;
    const listener = new NodeListener(server, {
      hostname: address.address,
      port: address.port,
    });
    server.on("connection", (socket: net.Socket) => {
      listener.#deliver(new NodeConn(socket, context));
    });
    return listener;
  }

  #deliver(conn: ChatConn): void {
    if (this.#waiting) {
      this.#waiting.resolve(conn);
      this.#waiting = null;
    } else {
      this.#ready.push(conn);
    }
  }

  accept(): Promise<ChatConn> {
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

/** A server-side `tls.TLSSocket` adapted to {@linkcode ChatConn}. */
class NodeConn implements ChatConn {
  readonly remoteAddr: NetAddress;
  #socket: tls.TLSSocket;
  #secure: Promise<void>;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(raw: net.Socket, context: tls.SecureContext) {
    raw.setNoDelay(true);
    // The TLS socket reports the raw socket's errors; an "error" event with
    // no listener would throw.
    raw.on("error", () => {});
    this.remoteAddr = {
      hostname: raw.remoteAddress ?? "",
      port: raw.remotePort ?? 0,
    };
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
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error ??= error;
      this.#notify();
    });
  }

  handshake(): Promise<void> {
    return this.#secure;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      this.#socket.resume();
      await promise;
    }
    const chunk = this.#chunks[0]!;
    const n = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return n;
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
    this.#socket.destroy();
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    this.#wake?.();
    this.#wake = null;
  }
}
