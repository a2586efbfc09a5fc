/**
 * What the node engine and the web door do to a `node:net` socket before or
 * beside TLS: stop and start reading at the TCP handle
 * ({@linkcode TcpReading}), read a trusted proxy's PROXY header off a fresh
 * socket ({@linkcode readProxyHeader}, never holding more than a header's
 * maximum), and read the peer's certificate off a `node:tls` socket.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type * as net from "node:net";
import type { Duplex } from "node:stream";
import type * as tls from "node:tls";
import type { PeerCertificate } from "../access/accounts.ts";
import { ProxyHeaderError } from "./byte_conn.ts";
import { parseProxyHeader, type ProxyHeader } from "./proxy_protocol.ts";

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
