/**
 * The web door: HTTPS on its own port with the chat port's certificate. It
 * serves the browser client (a fixed set of files built into the module
 * graph: nothing is read from disk, no path from a request reaches the
 * file system), `/healthz` for load
 * balancers, and `/ws`, where a WebSocket from the page's own origin becomes
 * a {@linkcode WsConnection} handed to the chat server, which counts it
 * under the same caps as TLS connections and gives it an ordinary session.
 * Every response carries a strict Content-Security-Policy and the other
 * security headers; HSTS too when the certificate is not a dev one.
 *
 * It runs on `node:https` with the `ws` package rather than `Deno.serve`
 * (`ws` needs `--allow-env=WS_NO_BUFFER_UTIL,WS_NO_UTF_8_VALIDATE`):
 * `Deno.upgradeWebSocket` buffers any message up to 64 MiB before the
 * application sees it, while `ws` refuses one over `maxPayload` from its
 * header.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { Duplex } from "node:stream";
import type { Clock } from "../clock.ts";
import { describeError, type Logger } from "../log.ts";
import type { Connection } from "./connection.ts";
import { formatAddress, type NetAddress } from "./transport.ts";
import type { ServerConfig } from "./config.ts";
import { type WebSocket, WsConnection } from "./ws_connection.ts";
import appJs from "../../web/app.js" with { type: "bytes" };
import iconSvg from "../../web/icon.svg" with { type: "bytes" };
import indexHtml from "../../web/index.html" with { type: "bytes" };
import styleCss from "../../web/style.css" with { type: "bytes" };

/** One file the door serves. */
export interface WebAsset {
  readonly type: string;
  readonly body: Uint8Array;
}

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
  /** Longest message accepted at all; longer ends the connection. */
  readonly maxSkipBytes: number;
  readonly maxInputBytes: number;
  readonly queueBytes: number;
  readonly closeGraceMs: number;
  readonly handshakeTimeoutMs: number;
  /** Most HTTP and WebSocket connections at once. */
  readonly maxConnections: number;
  /**
   * Most connections at once from one address, counted from the TCP
   * accept (before TLS and the upgrade); 0: no cap.
   */
  readonly maxPerIp: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** Takes a new WebSocket member (`ChatServer.admit`). */
  readonly admit: (connection: Connection) => void;
  /**
   * What `/healthz` reports; a `status` other than `ok` (shutting down)
   * answers 503, so that a load balancer sends no one new.
   */
  readonly health: () => Record<string, number | string>;
}

/**
 * The limits of `config` the web door applies, the same as the TLS door's
 * (line length, input held, outbound queue, deadlines, caps).
 */
export function webLimits(config: ServerConfig) {
  return {
    maxLineBytes: config.maxLineBytes,
    maxSkipBytes: config.maxSkipBytes,
    maxInputBytes: config.maxInputBytes,
    queueBytes: config.queueBytes,
    closeGraceMs: config.closeGraceMs,
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    maxConnections: config.maxClients,
    maxPerIp: config.maxPerIp,
  } satisfies Partial<WebDoorOptions>;
}

/** The running web door. */
export interface WebDoor extends AsyncDisposable {
  readonly addr: NetAddress;
  /** Stops listening and closes idle HTTP connections. */
  close(): Promise<void>;
}

/** The headers of every response. */
export function securityHeaders(hsts: boolean): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self'",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    ...(hsts ? { "strict-transport-security": "max-age=31536000" } : {}),
  };
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
  const headers = securityHeaders(options.hsts);
  // Loaded only with a web door: it reads two environment variables.
  const { WebSocketServer } = await import("ws");
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxSkipBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  const server: Server = createServer(
    {
      cert: options.cert,
      key: options.key,
      handshakeTimeout: options.handshakeTimeoutMs,
    },
    (request, response) => respond(request, response, options, headers),
  );
  server.maxConnections = options.maxConnections;
  // One address cannot fill the door with connections that never upgrade
  // (or never finish TLS): counted from the accept, as the TLS door does.
  const perAddress = new Map<string, number>();
  server.on("connection", (socket: Duplex & { remoteAddress?: string }) => {
    const address = socket.remoteAddress ?? "";
    const count = (perAddress.get(address) ?? 0) + 1;
    if (options.maxPerIp > 0 && count > options.maxPerIp) {
      socket.destroy();
      return;
    }
    perAddress.set(address, count);
    socket.once("close", () => {
      const left = perAddress.get(address)! - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
  server.headersTimeout = options.handshakeTimeoutMs;
  server.requestTimeout = options.handshakeTimeoutMs;
  server.keepAliveTimeout = 5_000;
  server.on(
    "upgrade",
    (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => {}); // a reset while upgrading is no news
      const url = request.url ?? "";
      const refuse = (status: number, reason: string) => {
        socket.end(
          `HTTP/1.1 ${status} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
        );
      };
      if (request.method !== "GET" || url.split("?")[0] !== "/ws") {
        return refuse(404, "Not Found");
      }
      if (
        !originAllowed(
          request.headers.origin,
          request.headers.host,
          options.origins,
        )
      ) {
        options.log.info("refused", {
          addr: remote(request).address,
          reason: "origin",
          origin: request.headers.origin,
        });
        return refuse(403, "Forbidden");
      }
      sockets.handleUpgrade(request, socket, head, (ws: WebSocket) => {
        options.admit(
          new WsConnection(ws, socket, remote(request), {
            maxLineBytes: options.maxLineBytes,
            maxInputBytes: options.maxInputBytes,
            queueBytes: options.queueBytes,
            closeGraceMs: options.closeGraceMs,
            clock: options.clock,
          }),
        );
      });
    },
  );
  server.on("tlsClientError", (error: Error) => {
    options.log.debug("handshake-failed", {
      door: "web",
      error: describeError(error),
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as { address: string; port: number };
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    addr: { hostname: bound.address, port: bound.port },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Answers a plain HTTP request: a file, the health check, or an error. */
function respond(
  request: IncomingMessage,
  response: ServerResponse,
  options: WebDoorOptions,
  headers: Record<string, string>,
): void {
  const path = (request.url ?? "").split("?")[0]!;
  const send = (status: number, type: string, body: string | Uint8Array) => {
    response.writeHead(status, {
      ...headers,
      "content-type": type,
      "content-length": String(
        typeof body === "string"
          ? new TextEncoder().encode(body).length
          : body.length,
      ),
      "cache-control": "no-cache",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  };
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.setHeader("allow", "GET, HEAD");
    return send(405, "text/plain; charset=utf-8", "Method not allowed\n");
  }
  if (path === "/healthz") {
    const health = options.health();
    return send(
      health.status === "ok" ? 200 : 503,
      "application/json",
      JSON.stringify(health) + "\n",
    );
  }
  const asset = WEB_ASSETS.get(path);
  if (asset === undefined) {
    return send(404, "text/plain; charset=utf-8", "Not found\n");
  }
  send(200, asset.type, asset.body);
}

/** The remote address of a request, as sessions log it. */
function remote(request: IncomingMessage): { host: string; address: string } {
  const host = (request.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  return {
    host,
    address: formatAddress({
      hostname: host,
      port: request.socket.remotePort ?? 0,
    }),
  };
}

/**
 * The browser client's files, as the door serves them: imported as bytes
 * (`"unstable": ["raw-imports"]` in deno.json), so they are part of the
 * module graph. `deno bundle` and `deno compile` carry them, and the
 * server never reads `web/` at run time.
 */
export const WEB_ASSETS: ReadonlyMap<string, WebAsset> = new Map([
  ["/", { type: "text/html; charset=utf-8", body: indexHtml }],
  ["/app.js", { type: "text/javascript; charset=utf-8", body: appJs }],
  ["/style.css", { type: "text/css; charset=utf-8", body: styleCss }],
  ["/icon.svg", { type: "image/svg+xml", body: iconSvg }],
]);
