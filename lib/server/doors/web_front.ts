/**
 * The web door's TCP front: every connection counted in the
 * {@linkcode Admission} from its accept (so one address cannot fill the door
 * with connections that never finish a handshake), a trusted proxy's PROXY
 * header read under the handshake deadline, then the socket handed to the
 * HTTPS server. What it learnt of each connection (its {@linkcode Visit}) is
 * looked up by the TLS socket over it.
 *
 * @module
 */

import * as net from "node:net";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { type AddressRange, hostOf, inAnyRange } from "../../address.ts";
import type { Admission, Entry } from "./admission.ts";
import {
  formatAddress,
  type NetAddress,
  ProxyHeaderError,
} from "./byte_conn.ts";
import { requestListen } from "../../flags.ts";
import { readProxyHeader } from "./node_socket.ts";

/** What the door knows of one TCP connection, from its accept. */
export interface Visit {
  readonly raw: net.Socket;
  /** Its place in the admission. */
  readonly entry: Entry;
  /** The peer: the client, or a trusted proxy. */
  readonly peer: NetAddress;
  /**
   * The client, when the connection names it: the peer itself, or whom
   * its proxy's PROXY header named; null for a trusted proxy that speaks
   * TLS itself, whose requests name their clients (`X-Forwarded-For`).
   */
  client: NetAddress | null;
  /**
   * The client was named by `X-Forwarded-For`: the TLS connection (and any
   * certificate on it) is its proxy's, so it presents no certificate.
   */
  forwarded: boolean;
}

/** Options of {@linkcode WebFront}: the web door's, in part. */
export interface WebFrontOptions {
  /** Counts connections with the other doors', from the accept. */
  readonly admission: Admission;
  /** The PROXY header's deadline. */
  readonly handshakeTimeoutMs: number;
  /** Proxies that may name the client (here: in a PROXY header). */
  readonly trustedProxies: readonly AddressRange[];
  readonly clock: Clock;
  readonly log: Logger;
}

/** The web door's TCP front (see the module). */
export class WebFront {
  #options: WebFrontOptions;
  #hand: (raw: net.Socket) => void;
  #visits = new Map<string, Visit>();
  #server: net.Server;

  /** A front that hands each admitted socket to `hand` (the HTTPS server). */
  constructor(options: WebFrontOptions, hand: (raw: net.Socket) => void) {
    this.#options = options;
    this.#hand = hand;
    this.#server = net.createServer((raw) => this.#accept(raw));
  }

  /** The address it listens on. */
  get addr(): NetAddress {
    const bound = this.#server.address() as net.AddressInfo;
    return { hostname: bound.address, port: bound.port };
  }

  /** Whether it listens. */
  get listening(): boolean {
    return this.#server.listening;
  }

  /** Resolves once it listens on `port` (0: a free one) of `hostname`. */
  listen(port: number, hostname: string): Promise<void> {
    const server = this.#server;
    requestListen(hostname, port);
    return new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  /** Stops listening and ends every connection; resolves once closed. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const visit of this.#visits.values()) visit.raw.destroy();
    });
  }

  /**
   * The visit of the TCP connection under a TLS socket; undefined once the
   * front has let go of it.
   */
  visitOf(
    socket: { remoteAddress?: string; remotePort?: number },
  ): Visit | undefined {
    return this.#visits.get(socketKey(socket));
  }

  #trusted = (host: string) => inAnyRange(this.#options.trustedProxies, host);

  /**
   * Counts a TCP connection from its accept, so one address cannot fill
   * the door with connections that never finish a handshake or never
   * upgrade; hands it on to HTTPS (after a trusted proxy's PROXY header).
   */
  #accept(raw: net.Socket): void {
    const { admission, clock, handshakeTimeoutMs } = this.#options;
    raw.on("error", () => {}); // a reset is no news; TLS reports the rest
    const peer = {
      hostname: hostOf(raw.remoteAddress ?? ""),
      port: raw.remotePort ?? 0,
    };
    const proxied = this.#trusted(peer.hostname);
    const entry = admission.enter(
      proxied ? null : peer.hostname,
      formatAddress(peer),
    );
    if (entry.dropped) return void raw.destroy();
    const visit: Visit = {
      raw,
      entry,
      peer,
      client: proxied ? null : peer,
      forwarded: false,
    };
    const key = socketKey(raw);
    this.#visits.set(key, visit);
    raw.once("close", () => {
      this.#visits.delete(key);
      entry.leave();
    });
    if (!proxied) return void this.#hand(raw);
    const timer = clock.setTimeout(() => raw.destroy(), handshakeTimeoutMs);
    readProxyHeader(raw, true).then((header) => {
      clock.clearTimeout(timer);
      if (header !== null) {
        const client = visit.client = header.source ?? peer;
        entry.locate(client.hostname, formatAddress(client));
        if (entry.dropped) return void raw.destroy();
      }
      this.#hand(raw);
    }, (error) => {
      clock.clearTimeout(timer);
      raw.destroy();
      if (!(error instanceof ProxyHeaderError)) return;
      this.#options.log.warn("refused", {
        door: "web",
        addr: formatAddress(peer),
        reason: "proxy-header",
        error: error.message,
      });
    });
  }
}

/** Matches a TLS socket with the TCP connection under it. */
function socketKey(socket: { remoteAddress?: string; remotePort?: number }) {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}
