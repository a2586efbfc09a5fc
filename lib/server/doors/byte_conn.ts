/**
 * The byte connection every TLS engine hands out, so nothing above knows
 * which engine accepted a connection: {@linkcode ByteConn} (the handshake
 * run lazily, reads only when asked, a close that resolves once the socket
 * is released) and {@linkcode ByteListener}. Engine-neutral: no sockets
 * here, only the shapes and the error a trusted proxy's bad header gives.
 *
 * @module
 */

import type { PeerCertificate } from "../access/accounts.ts";

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

/** A trusted proxy's connection did not start with a valid PROXY header. */
export class ProxyHeaderError extends Error {
  /** Creates the error for what was wrong with the header. */
  constructor(reason: string) {
    super(`Invalid PROXY protocol header: ${reason}`);
    this.name = "ProxyHeaderError";
  }
}
