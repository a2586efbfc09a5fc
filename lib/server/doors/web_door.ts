/**
 * The web door: HTTPS on its own port with the chat port's certificate. It
 * answers plain HTTP as `web_http.ts` says (the browser client's files,
 * `/healthz`, security headers on every response), and at `/ws` a
 * WebSocket from the page's own origin becomes a {@linkcode WsConnection}
 * handed to the chat server, which gives it an ordinary session.
 *
 * Its connections are counted with the TLS door's in one
 * {@linkcode Admission}, from the TCP accept: its front (`web_front.ts`)
 * accepts, reads a trusted proxy's PROXY header when there is one, and
 * hands the socket on to the HTTPS server. With a client CA it asks browsers for a
 * certificate as the TLS door does (and with `require`, completes no
 * handshake without a valid one). A trusted proxy either sends a PROXY
 * header (it passes TLS through) or terminates TLS itself and names the
 * client of each WebSocket upgrade in `X-Forwarded-For`; such a client
 * presents no certificate (the one on the connection is the proxy's), so
 * with `require` its upgrade is refused.
 *
 * It runs on `node:https` with the `ws` package rather than `Deno.serve`
 * (`ws` needs `--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE`):
 * `Deno.upgradeWebSocket` buffers any message up to 64 MiB before the
 * application sees it, while `ws` refuses one over `maxPayload`
 * (`maxMessageBytes`, from `--max-skip-bytes`) from its header.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Clock } from "../../clock.ts";
import { describeError, type Logger } from "../../log.ts";
import { type AddressRange, inAnyRange } from "../../address.ts";
import type { Admission, Entry } from "./admission.ts";
import type { Connection } from "../room/connection.ts";
import { forwardedClient } from "./proxy_protocol.ts";
import { formatAddress, type NetAddress } from "./byte_conn.ts";
import { peerCertificate } from "./node_socket.ts";
import { pipedAtMost } from "../../http_pipelining.ts";
import { announcesBody, answerBeforeBody } from "../../http_bodies.ts";
import { answerClientErrors } from "../../http_errors.ts";
import type { ServerConfig } from "../config.ts";
import { TextFramer, type WebSocket, WsConnection } from "./ws_connection.ts";
import { answerHttp, securityHeaders } from "./web_http.ts";
import { type Visit, WebFront } from "./web_front.ts";

/** Options of {@linkcode openWebDoor}. */
export interface WebDoorOptions {
  readonly hostname: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  /** Send `Strict-Transport-Security` (a certificate browsers trust). */
  readonly hsts: boolean;
  /**
   * Origins allowed to open `/ws` besides the page's own
   * (`https://` + the request's Host), e.g. behind a reverse proxy.
   */
  readonly origins: readonly string[];
  readonly maxLineBytes: number;
  /**
   * Longest WebSocket message accepted at all (`ws`'s `maxPayload`): a
   * longer one is refused from its header and ends the connection, as a
   * line going on past `--max-skip-bytes` ends a TLS connection.
   */
  readonly maxMessageBytes: number;
  readonly maxInputBytes: number;
  readonly queueBytes: number;
  readonly closeGraceMs: number;
  /** The TLS handshake, and a trusted proxy's PROXY header. */
  readonly handshakeTimeoutMs: number;
  /** How long an HTTP request may take to arrive (and how often checked). */
  readonly httpRequestTimeoutMs: number;
  /** How long an idle HTTP connection is kept after a response. */
  readonly httpKeepAliveMs: number;
  /** Requests of one connection waiting for their answers, at most. */
  readonly httpPipelined: number;
  /** Longest request head read; a longer one is answered 431. */
  readonly httpMaxHeaderBytes: number;
  /** Most bytes read and thrown away after a 431, 408 or 400. */
  readonly httpDiscardBytes: number;
  /**
   * Ask clients for a certificate signed by `ca` (PEM), as the TLS door
   * does; with `require`, no handshake completes without a valid one.
   */
  readonly clientCa: { readonly ca: string; readonly require: boolean } | null;
  /**
   * Proxies that name the client: in a PROXY header before TLS, or, when
   * they terminate TLS themselves, in `X-Forwarded-For`.
   */
  readonly trustedProxies: readonly AddressRange[];
  /** Counts connections with the other doors', from the accept. */
  readonly admission: Admission;
  readonly clock: Clock;
  readonly log: Logger;
  /**
   * Takes a new WebSocket member, or tells it why not, and leaves its
   * admission entry once it is closed (`ChatServer.admit`).
   */
  readonly admit: (connection: Connection, entry: Entry) => void;
  /**
   * What `/healthz` reports (to loopback clients; others get the status
   * alone); a `status` other than `ok` (shutting down) answers 503, so that
   * a load balancer sends no one new.
   */
  readonly health: () => Record<string, number | string>;
}

/**
 * The settings of `config` the web door applies, the same as the TLS
 * door's (line length, input held, outbound queue, deadlines, proxies),
 * plus its HTTP deadlines: the one place a config field gets another name
 * (`maxSkipBytes` is the longest message, `maxMessageBytes`).
 */
export function webLimits(config: ServerConfig) {
  return {
    maxLineBytes: config.maxLineBytes,
    maxMessageBytes: config.maxSkipBytes,
    maxInputBytes: config.maxInputBytes,
    queueBytes: config.queueBytes,
    closeGraceMs: config.closeGraceMs,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    httpRequestTimeoutMs: config.httpRequestTimeoutMs,
    httpKeepAliveMs: config.httpKeepAliveMs,
    httpPipelined: config.httpPipelined,
    httpMaxHeaderBytes: config.httpMaxHeaderBytes,
    httpDiscardBytes: config.httpDiscardBytes,
    trustedProxies: config.trustedProxies,
  } satisfies Partial<WebDoorOptions>;
}

/** The running web door. */
export interface WebDoor extends AsyncDisposable {
  readonly addr: NetAddress;
  /** Stops listening and closes idle HTTP connections. */
  close(): Promise<void>;
}

/**
 * Whether a WebSocket upgrade may go on: a browser always says where the
 * page came from, and only the room's own page (or a listed origin) may
 * use a visitor's browser to join. Clients that are not browsers send no
 * `Origin`.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  return origin === `https://${host}` || allowed.includes(origin);
}

/** Starts the web door; resolves once it listens. */
export async function openWebDoor(options: WebDoorOptions): Promise<WebDoor> {
  // Loaded only with a web door: it reads two environment variables.
  const { WebSocketServer } = await import("ws");
  const door = new Door(
    options,
    new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // The session speaks no subprotocol: none offered is taken (`ws`
      // would echo the first, whatever it names).
      handleProtocols: () => false,
    }),
  );
  await door.listen();
  return door;
}

/** What the door uses of the `ws` package's server. */
interface WebSocketUpgrader {
  handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    done: (ws: WebSocket) => void,
  ): void;
}

/**
 * The web door: a {@linkcode WebFront} that counts and (for a trusted proxy)
 * reads the PROXY header, an HTTPS server it hands the sockets to, and `/ws`.
 */
class Door implements WebDoor {
  #options: WebDoorOptions;
  #headers: Record<string, string>;
  #sockets: WebSocketUpgrader;
  /** Frames lines for every WebSocket of this door. */
  #framer = new TextFramer();
  #https: Server;
  #front: WebFront;

  constructor(options: WebDoorOptions, sockets: WebSocketUpgrader) {
    this.#options = options;
    this.#headers = securityHeaders(options.hsts);
    this.#sockets = sockets;
    const { clientCa } = options;
    const https = this.#https = createServer(
      {
        cert: options.cert,
        key: options.key,
        handshakeTimeout: options.handshakeTimeoutMs,
        maxHeaderSize: options.httpMaxHeaderBytes,
        // Checked this often: a request sent half (slow loris) is answered
        // 408 and closed within twice the timeout.
        connectionsCheckingInterval: options.httpRequestTimeoutMs,
        ...(clientCa === null ? {} : {
          ca: clientCa.ca,
          requestCert: true,
          rejectUnauthorized: clientCa.require,
        }),
      },
      pipedAtMost(
        options.httpPipelined,
        (request, response) => this.#respond(request, response),
      ),
    );
    answerBeforeBody(https); // a body is refused: no 100 invites it
    // 431, 408, 400 sent whole before the close (`http_errors.ts`).
    answerClientErrors(https, {
      closeGraceMs: options.closeGraceMs,
      discardBytes: options.httpDiscardBytes,
    });
    https.headersTimeout = options.httpRequestTimeoutMs;
    https.requestTimeout = options.httpRequestTimeoutMs;
    https.keepAliveTimeout = options.httpKeepAliveMs;
    https.on("upgrade", (request, socket, head) => {
      socket.on("error", () => {}); // a reset while upgrading is no news
      this.#upgrade(request, socket, head);
    });
    https.on("tlsClientError", (error: Error) => {
      options.log.debug("handshake-failed", {
        door: "web",
        error: describeError(error),
      });
    });
    const front = this.#front = new WebFront(
      options,
      (raw) => https.emit("connection", raw),
    );
    // Node's HTTP server keeps a connection open after a response only
    // while it is listening itself; it never does here (the front hands it
    // its sockets), so it answers to the front's state.
    Object.defineProperty(https, "listening", { get: () => front.listening });
  }

  get addr(): NetAddress {
    return this.#front.addr;
  }

  async listen(): Promise<void> {
    await this.#front.listen(this.#options.port, this.#options.hostname);
    // The HTTPS server never listens itself (the front hands it its
    // sockets), and it checks headersTimeout and requestTimeout (slow
    // clients) only once it has heard that it listens.
    this.#https.emit("listening");
  }

  close(): Promise<void> {
    this.#https.close();
    return this.#front.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #trusted = (host: string) => inAnyRange(this.#options.trustedProxies, host);

  /** An upgrade to `/ws`: checked, then a member (or told it is refused). */
  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const options = this.#options;
    const visit = this.#front.visitOf(request.socket);
    const refuse = (status: number, reason: string) => {
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
      );
    };
    if (visit === undefined) return void socket.destroy();
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/ws") {
      return refuse(404, "Not Found");
    }
    // What follows would be read as WebSocket frames (`http_bodies.ts`).
    if (announcesBody(request)) return refuse(400, "Bad Request");
    const client = this.#locate(visit, request);
    if (client === null) return refuse(400, "Bad Request");
    if (visit.entry.dropped) return void socket.destroy();
    const address = client.port === 0 ? client.hostname : formatAddress(client);
    const { origin, host } = request.headers;
    if (!originAllowed(origin, host, options.origins)) {
      options.log.info("refused", { addr: address, reason: "origin", origin });
      return refuse(403, "Forbidden");
    }
    // A client named by X-Forwarded-For cannot prove a certificate: the one
    // on this connection, if any, is its proxy's.
    if (visit.forwarded && options.clientCa?.require) {
      options.log.warn("refused", {
        addr: address,
        reason: "client-certificate",
        error:
          "--client-cert require: a client named by X-Forwarded-For presents no certificate",
      });
      return refuse(403, "Forbidden");
    }
    this.#sockets.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      const connection = new WsConnection(ws, socket, {
        host: client.hostname,
        address,
        certificate: options.clientCa === null || visit.forwarded
          ? null
          : peerCertificate(request.socket as TLSSocket),
      }, {
        maxLineBytes: options.maxLineBytes,
        maxInputBytes: options.maxInputBytes,
        queueBytes: options.queueBytes,
        closeGraceMs: options.closeGraceMs,
        framer: this.#framer,
        clock: options.clock,
      });
      options.admit(connection, visit.entry);
    });
  }

  /**
   * The client of an upgrade: known from the connection, or named in
   * `X-Forwarded-For` by a trusted proxy that terminates TLS (then counted
   * under its address from now on); null when such a proxy names nobody.
   */
  #locate(visit: Visit, request: IncomingMessage): NetAddress | null {
    if (visit.client !== null) return visit.client;
    const forwarded = request.headers["x-forwarded-for"];
    const host = forwardedClient(forwarded, this.#trusted);
    if (host === null) {
      this.#options.log.warn("refused", {
        door: "web",
        addr: formatAddress(visit.peer),
        reason: "forwarded-for",
        forwardedFor: String(forwarded ?? ""),
      });
      return null;
    }
    visit.entry.locate(host, host);
    visit.forwarded = true;
    return visit.client = { hostname: host, port: 0 };
  }

  /**
   * Who asks a plain HTTP request, as far as the connection itself says
   * (its peer, or a trusted proxy's PROXY header); behind a proxy that
   * terminates TLS, nobody known (null). Its `X-Forwarded-For` is not asked:
   * a proxy that passes a client's own header on would let anyone name
   * `127.0.0.1` and be taken for the machine (`/healthz`'s counts).
   */
  #caller(visit: Visit | undefined): string | null {
    return visit?.client?.hostname ?? null;
  }

  /**
   * Answers a plain HTTP request (a file, the health check, or an error); a
   * refused connection, or one the door has let go of, gets 503 and why.
   */
  #respond(request: IncomingMessage, response: ServerResponse): void {
    const visit = this.#front.visitOf(request.socket);
    answerHttp(request, response, {
      headers: this.#headers,
      refusal: visit === undefined
        ? { text: "Closing" }
        : visit.entry.refusal ?? null,
      health: this.#options.health,
      client: () => this.#caller(visit),
    });
  }
}
