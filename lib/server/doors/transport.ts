/**
 * TLS listeners behind one small byte-connection interface, so nothing above
 * knows which engine accepted a connection. Two engines: `node` (`node:tls`
 * over `node:net`, TCP_NODELAY set; the default) and `deno`
 * (`Deno.listenTls`, rustls). Both accept the TCP connection first and run
 * the TLS handshake lazily, on {@linkcode ByteConn.handshake}, so a bad
 * client only fails its own connection.
 *
 * Reading differs. The deno engine reads only when asked, into one small
 * buffer per connection. The node engine (as Deno 2.9 implements
 * `node:tls`) reads and decrypts whatever arrives even while the TLS socket
 * is paused, so it stops reading at the TCP socket underneath instead
 * ({@linkcode TcpReading}): as soon as data arrives that nobody is waiting
 * for, until the reader has taken it all. Either way TCP pushes back on a
 * sender nobody reads, and a connection holds at most one read of input
 * (up to 64 KiB). Should more still arrive after it stopped reading,
 * beyond `maxInputBytes`, its reader gets {@linkcode InputOverflowError}
 * (once) instead of the connection growing.
 *
 * Accepting differs: the node engine accepts on a `node:net` server and
 * hands each socket on to its TLS server, so that it can first read the
 * PROXY protocol header of a peer listed as a trusted proxy (a load
 * balancer), whose client then becomes the connection's remote address
 * before TLS starts (TLS starts only when the handshake is asked for).
 * The deno engine cannot: `Deno.listenTls` starts TLS on the socket itself.
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

import { Buffer } from "node:buffer";
import * as net from "node:net";
import type { Duplex } from "node:stream";
import * as tls from "node:tls";
import { type AddressRange, inAnyRange } from "../../address.ts";
import { parseProxyHeader, type ProxyHeader } from "./proxy_protocol.ts";
import type { PeerCertificate } from "../access/accounts.ts";
import { InputOverflowError } from "../room/connection.ts";
import { engineCannot, type TlsEngine } from "../config.ts";

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

/** A server-side TLS connection, as bytes. */
export interface ByteConn {
  /**
   * The client's address: the peer's, or, for a trusted proxy's connection
   * (`proxied`), the one its PROXY header names once it is read
   * ({@linkcode ByteConn.located}).
   */
  readonly remoteAddr: NetAddress;
  /**
   * Whether it came from a trusted proxy: its handshake starts with the
   * proxy's PROXY header, which names the client.
   */
  readonly proxied: boolean;
  /**
   * Why the connection failed, once it has (for an engine that learns of it
   * outside a read); null while it has not.
   */
  readonly failure: Error | null;
  /**
   * The client's certificate, once the handshake has ended, if the server
   * asked for one and the client sent one; otherwise null.
   */
  readonly peer: PeerCertificate | null;
  /**
   * Resolves once `remoteAddr` names the client: at once, or, when
   * `proxied`, once the PROXY header is read, before any TLS (so that caps
   * and bans count a proxied client before its handshake costs anything).
   * Rejects with {@linkcode ProxyHeaderError} for a bad header.
   */
  located(): Promise<void>;
  /**
   * Completes the TLS handshake (after the PROXY header, when `proxied`:
   * TLS starts only now); rejects when it fails
   * ({@linkcode ProxyHeaderError} for the header).
   */
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
   * Bytes a node-engine connection takes in after it stopped reading
   * (should the engine not stop) before its reader fails.
   * @default {65536}
   */
  maxInputBytes?: number;
  /**
   * Ask clients for a certificate signed by `ca` (PEM); with `require`, a
   * client without a valid one fails its handshake. Node engine only.
   */
  clientCa?: { readonly ca: string; readonly require: boolean } | null;
  /**
   * Peers whose connections start with a PROXY protocol header naming the
   * client (a load balancer's); a connection from one without a valid
   * header fails its handshake. Node engine only.
   * @default {[]}
   */
  trustedProxies?: readonly AddressRange[];
}

/**
 * Binds a TLS listener with the chosen engine; throws `TypeError` when the
 * engine cannot do what is asked (see `engineCannot` in the config).
 */
export async function listenTls(
  options: ListenTlsOptions,
): Promise<ByteListener> {
  const { hostname, port, cert, key } = options;
  const unsupported = engineCannot(options.engine ?? "node", {
    clientCa: Boolean(options.clientCa),
    trustedProxies: (options.trustedProxies ?? []).length > 0,
  });
  if (unsupported !== null) throw new TypeError(unsupported);
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

/**
 * A `node:tls` server behind a `node:net` one. Raw TCP connections are
 * handed out at once (so caps count them before any handshake), then
 * handed on to the TLS server, after the PROXY header for a trusted
 * proxy's; each is matched with its TLS socket by remote address and port
 * once the handshake ends. (`tls.createServer` is what verifies client
 * certificates under Deno; a `TLSSocket` wrapped by hand accepts any.)
 */
class NodeListener implements ByteListener {
  readonly addr: NetAddress;
  /** Node sockets are released as soon as they are destroyed. */
  readonly unreleased = 0;
  #server: net.Server;
  #ready: ByteConn[] = [];
  #waiting: PromiseWithResolvers<ByteConn> | null = null;
  /** Connections whose handshake has not ended, by `address:port`. */
  #handshaking = new Map<string, NodeConn>();
  #closed = false;

  private constructor(server: net.Server, addr: NetAddress) {
    this.#server = server;
    this.addr = addr;
  }

  static async listen(options: ListenTlsOptions): Promise<NodeListener> {
    const maxInputBytes = options.maxInputBytes ?? 65_536;
    const clientCa = options.clientCa ?? null;
    const trustedProxies = options.trustedProxies ?? [];
    const secure = tls.createServer({
      cert: options.cert,
      key: options.key,
      // Half-open: a client that ends its side (stdin done) still gets
      // everything queued for it, and the BYE line.
      allowHalfOpen: true,
      // The chat server keeps its own handshake deadline.
      handshakeTimeout: 0,
      ...(clientCa === null ? {} : {
        ca: clientCa.ca,
        requestCert: true,
        rejectUnauthorized: clientCa.require,
      }),
    });
    const server = net.createServer({ allowHalfOpen: true });
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
    server.on("connection", (raw: net.Socket) => {
      const proxied = inAnyRange(trustedProxies, raw.remoteAddress ?? "");
      const key = socketKey(raw);
      const conn: NodeConn = new NodeConn(raw, maxInputBytes, proxied, () => {
        if (listener.#handshaking.get(key) === conn) {
          listener.#handshaking.delete(key);
        }
      });
      listener.#handshaking.set(key, conn);
      listener.#deliver(conn);
      if (proxied) conn.readHeader(() => secure.emit("connection", raw));
      else secure.emit("connection", raw);
    });
    secure.on("secureConnection", (socket: tls.TLSSocket) => {
      const key = socketKey(socket);
      const conn = listener.#handshaking.get(key);
      listener.#handshaking.delete(key);
      if (conn) conn.secured(socket, clientCa !== null);
      else socket.destroy();
    });
    secure.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
      listener.#handshaking.get(socketKey(socket))?.failed(error);
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

/** A listener that does nothing (one for every socket). */
function ignore(): void {}

function socketKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/**
 * A connection of the node engine adapted to {@linkcode ByteConn}: the raw
 * socket until the handshake ends, then its `tls.TLSSocket`. It reads only
 * while its reader waits for data: a chunk that arrives when nobody is
 * waiting stops reading at the TCP socket until the reader has taken every
 * chunk held. What still arrives after that, beyond `maxInputBytes`, is
 * dropped and reported to the reader once.
 */
class NodeConn implements ByteConn {
  remoteAddr: NetAddress;
  readonly proxied: boolean;
  peer: PeerCertificate | null = null;
  #raw: net.Socket;
  /** The PROXY header read, for a trusted proxy's connection. */
  #header: Promise<void> | null = null;
  /** Hands the socket to the TLS server, once; null once done (or none). */
  #startTls: (() => void) | null = null;
  #socket: tls.TLSSocket | null = null;
  #secure = Promise.withResolvers<void>();
  #chunks: Uint8Array[] = [];
  #reading: TcpReading;
  /** Data arrived that nobody was waiting for: reading is stopped. */
  #unasked = false;
  /** Received since then (the engine did not stop). */
  #lateBytes = 0;
  #maxInputBytes: number;
  #overflowed = false;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  /** Forgets this connection in the listener, until the handshake ends. */
  #forget: (() => void) | null;

  /** `forget` is called when the raw socket closes before `secured()`. */
  constructor(
    raw: net.Socket,
    maxInputBytes: number,
    proxied: boolean,
    forget: () => void,
  ) {
    this.proxied = proxied;
    raw.setNoDelay(true);
    // Errors surface through the TLS socket or the handshake; an "error"
    // event with no listener would throw.
    raw.on("error", ignore);
    this.#forget = forget;
    raw.on("close", () => {
      this.#forget?.();
      this.#secure.reject(new Deno.errors.UnexpectedEof());
      this.#end();
    });
    this.#raw = raw;
    this.#reading = new TcpReading(raw);
    this.remoteAddr = {
      hostname: raw.remoteAddress ?? "",
      port: raw.remotePort ?? 0,
    };
    this.#maxInputBytes = maxInputBytes;
    // Handled here; a failed handshake is reported by handshake().
    this.#secure.promise.catch(() => {});
  }

  get failure(): Error | null {
    return this.#error;
  }

  /**
   * Reads the trusted proxy's PROXY header and takes the client's address
   * from it; the socket is handed on (`startTls`: to the TLS server) only
   * when {@linkcode handshake} is called.
   */
  readHeader(startTls: () => void): void {
    this.#startTls = startTls;
    this.#header = readProxyHeader(this.#raw).then((header) => {
      if (header?.source) this.remoteAddr = header.source;
    });
    // Reported by located() and handshake(); the socket has no use without
    // its header.
    this.#header.catch(() => this.#raw.destroy());
  }

  located(): Promise<void> {
    return this.#header ?? Promise.resolve();
  }

  /** The handshake ended: from now on the TLS socket carries the data. */
  secured(socket: tls.TLSSocket, askedForCertificate: boolean): void {
    this.#socket = socket;
    // The listener has let go of it already: nothing more to hold for it.
    this.#forget = null;
    if (askedForCertificate) this.peer = peerCertificate(socket);
    socket.on("data", (chunk: Uint8Array) => this.#receive(chunk));
    const end = () => this.#end();
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", (error: Error) => {
      this.#error ??= error;
      this.#notify();
    });
    this.#secure.resolve();
  }

  /** The handshake failed. */
  failed(error: Error): void {
    this.#secure.reject(error);
  }

  #receive(chunk: Uint8Array): void {
    if (this.#error || this.#overflowed) return;
    if (this.#wake === null) {
      if (this.#unasked) {
        // More after reading was stopped: the engine did not stop.
        this.#lateBytes += chunk.length;
        if (this.#lateBytes > this.#maxInputBytes) return this.#overflow();
      } else {
        // Nobody is waiting for it (a client throttled for flooding, a
        // room holding its senders back): TCP pushes back from here on.
        this.#unasked = true;
        this.#reading.stop();
      }
    }
    this.#chunks.push(chunk);
    this.#notify();
  }

  /** Drops what is held; the reader hears of it once. */
  #overflow(): void {
    this.#overflowed = true;
    this.#chunks = [];
    this.#notify();
  }

  #end(): void {
    this.#ended = true;
    this.#notify();
  }

  handshake(): Promise<void> {
    const header = this.#header;
    return header === null ? this.#secure.promise : header.then(() => {
      const startTls = this.#startTls;
      this.#startTls = null;
      if (startTls !== null && !this.#raw.destroyed) startTls();
      return this.#secure.promise;
    });
  }

  read(): Promise<Uint8Array | null> {
    if (this.#overflowed) {
      this.#overflowed = false;
      return Promise.reject(new InputOverflowError(this.#maxInputBytes));
    }
    const chunk = this.#chunks.shift();
    if (chunk) return Promise.resolve(chunk);
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    this.#unasked = false;
    this.#lateBytes = 0;
    this.#reading.start();
    // Not an async function: an idle member holds no suspended frame.
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#wake = resolve;
    return promise.then(() => this.read());
  }

  write(data: Uint8Array): Promise<number> {
    const socket = this.#socket;
    if (socket === null) return Promise.reject(new Deno.errors.NotConnected());
    return new Promise((resolve, reject) => {
      socket.write(
        data,
        (error?: Error | null) => error ? reject(error) : resolve(data.length),
      );
    });
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    if (socket === null) return Promise.resolve();
    return new Promise((resolve) => socket.end(resolve));
  }

  close(): Promise<void> {
    this.abort();
    return Promise.resolve();
  }

  abort(): void {
    this.#chunks = [];
    this.#socket?.destroy();
    this.#raw.destroy();
    this.#end();
  }

  #notify(): void {
    this.#wake?.();
    this.#wake = null;
  }
}

/** What `net.Socket` keeps of its TCP handle (internal to Deno's `node:net`). */
interface TcpHandle {
  readStart(): number;
  readStop(): number;
}

/**
 * Stops and starts reading from the TCP connection under a `node:net` or
 * `node:tls` socket, so that TCP pushes back on a peer nobody reads.
 * Measured on Deno 2.9.6: `tls.TLSSocket.pause()` does not stop reading (a
 * paused socket took in 64 MiB, and 100 MB of memory); `net.Socket.pause()`
 * on the TCP socket under it stops reading, but its `resume()` does not
 * start again after a pause made inside a `data` event (the TCP socket's
 * `reading` flag follows the TLS layer's, so `resume()` thinks it reads);
 * the TCP handle's own `readStop()` and `readStart()` work in every case.
 * On a runtime without them this does nothing (the input caps still hold).
 */
export class TcpReading {
  #socket: net.Socket;
  #stopped = false;

  /**
   * Controls reading for `socket`: a TCP socket, or a TLS socket over one
   * (its `_parent`).
   */
  constructor(socket: net.Socket | Duplex) {
    const parent = (socket as { _parent?: net.Socket | null })._parent;
    this.#socket = parent ?? socket as net.Socket;
  }

  /** Stops reading (idempotent). */
  stop(): void {
    if (this.#stopped) return;
    const handle = this.#handle();
    if (handle === null) return;
    this.#stopped = true;
    handle.readStop();
  }

  /** Reads again (idempotent). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#handle()?.readStart();
  }

  #handle(): TcpHandle | null {
    if (this.#socket.destroyed) return null;
    const handle = (this.#socket as { _handle?: Partial<TcpHandle> | null })
      ._handle;
    return typeof handle?.readStop === "function" &&
        typeof handle.readStart === "function"
      ? handle as TcpHandle
      : null;
  }
}

/**
 * What a `node:tls` socket says about its peer's certificate, when the
 * server asked for one; null when the peer sent none.
 */
export function peerCertificate(socket: tls.TLSSocket): PeerCertificate | null {
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.fingerprint256) return null;
  // A subject with several CNs gives an array: it names no account.
  const cn = cert.subject?.CN;
  return {
    subject: typeof cn === "string" ? cn : "",
    fingerprint: cert.fingerprint256,
    verified: socket.authorized,
    error: socket.authorized ? null : String(socket.authorizationError ?? ""),
  };
}

/** A trusted proxy's connection did not start with a valid PROXY header. */
export class ProxyHeaderError extends Error {
  /** Creates the error for what was wrong with the header. */
  constructor(reason: string) {
    super(`Invalid PROXY protocol header: ${reason}`);
    this.name = "ProxyHeaderError";
  }
}

/** The first byte of a TLS handshake record (a ClientHello). */
const TLS_HANDSHAKE = 0x16;

/**
 * Reads a PROXY protocol header off a socket nobody has read yet, then
 * puts back (`unshift`) the bytes after it, paused, for whoever reads next.
 * With `tlsAllowed`, a connection that starts a TLS handshake instead is
 * left as it was and resolves to null. Rejects with
 * {@linkcode ProxyHeaderError} from the first byte that cannot belong to a
 * header (never holding more than a header's maximum), or with
 * `UnexpectedEof` when the socket ends first; the caller's deadline ends
 * the wait by destroying the socket.
 */
export function readProxyHeader(
  socket: net.Socket,
  tlsAllowed = false,
): Promise<ProxyHeader | null> {
  const { promise, resolve, reject } = Promise.withResolvers<
    ProxyHeader | null
  >();
  let received: Buffer = Buffer.alloc(0);
  const done = () => {
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", onEnd);
    socket.pause();
  };
  const onData = (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    if (tlsAllowed && received[0] === TLS_HANDSHAKE) {
      done();
      socket.unshift(received);
      return resolve(null);
    }
    const parsed = parseProxyHeader(received);
    if (parsed.state === "incomplete") return;
    done();
    if (parsed.state === "invalid") {
      return reject(new ProxyHeaderError(parsed.reason));
    }
    const rest = received.subarray(parsed.header.length);
    if (rest.length > 0) socket.unshift(rest);
    resolve(parsed.header);
  };
  const onEnd = () => {
    done();
    reject(new Deno.errors.UnexpectedEof("The proxy closed before its header"));
  };
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.once("close", onEnd);
  return promise;
}
