/**
 * The node TLS engine (the default): `node:tls` over `node:net`, TCP_NODELAY
 * set, behind {@linkcode ByteListener}. It accepts on a `node:net` server
 * and hands each socket on to its TLS server, so that it can first read the
 * PROXY protocol header of a peer listed as a trusted proxy (a load
 * balancer), whose client then becomes the connection's remote address
 * before TLS starts (TLS starts only when the handshake is asked for). It
 * can ask clients for certificates; it releases a socket at once.
 *
 * Reading: Deno 2.9's `node:tls` reads and decrypts whatever arrives even
 * while the TLS socket is paused, so a connection stops reading at the TCP
 * socket underneath instead ({@linkcode TcpReading}): as soon as data
 * arrives that nobody is waiting for, until the reader has taken it all.
 * TCP then pushes back on a sender nobody reads, and a connection holds at
 * most one read of input (up to 64 KiB). Should more still arrive after it
 * stopped reading, beyond `maxInputBytes`, its reader gets
 * {@linkcode InputOverflowError} (once) instead of the connection growing.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { type AddressRange, inAnyRange } from "../../address.ts";
import type { PeerCertificate } from "../access/accounts.ts";
import { InputOverflowError } from "../room/connection.ts";
import type { ByteConn, ByteListener, NetAddress } from "./byte_conn.ts";
import { requestListen } from "../../flags.ts";
import { peerCertificate, readProxyHeader, TcpReading } from "./node_socket.ts";

/** Options of {@linkcode listenNodeTls}. */
export interface NodeTlsOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
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

/** Binds a TLS listener with `node:tls` over `node:net`. */
export function listenNodeTls(options: NodeTlsOptions): Promise<ByteListener> {
  return NodeListener.listen(options);
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

  static async listen(options: NodeTlsOptions): Promise<NodeListener> {
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
    requestListen(options.hostname, options.port);
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
