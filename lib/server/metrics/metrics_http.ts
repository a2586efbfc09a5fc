/**
 * The metrics listener (`--metrics-port`, plain HTTP, loopback unless
 * `--metrics-host` says otherwise): `GET /metrics` in the Prometheus text
 * format, `/readyz` (200 only when the database takes writes and, in a
 * cluster, Redis answers), `/healthz` (the counts the web door gives only
 * to loopback clients), and the event-loop lag sampler that runs while it
 * is open. Everything it reports is read when asked: nothing here runs on
 * the chat's hot path; the backend's probe (Redis, the database's size) is
 * shared by the requests that arrive while it runs and its answer kept for
 * {@linkcode PROBE_CACHE_MS}, and so is a rendering of `/metrics` for
 * `renderMs` (a flood of scrapes renders once per interval, on the event
 * loop the room shares). Like the web door it is node's HTTP server, for
 * its limits: a request must arrive within the config's HTTP request
 * timeout, and only so many connections are open at once, and so many from
 * one address (counted by the doors' `Admission`, passed in). It knows the
 * server only through the narrow {@linkcode MetricsServer} shape.
 *
 * @module
 */

import type { AddressInfo, Socket } from "node:net";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { isAddressInUse, requestListen } from "../../flags.ts";
import { hostOf } from "../../address.ts";
import { answerClientErrors } from "../../http_errors.ts";
import { pipedAtMost } from "../../http_pipelining.ts";
import {
  announcesBody,
  answerBeforeBody,
  BODY_REFUSED,
} from "../../http_bodies.ts";
import { describeError, type Logger } from "../../log.ts";
import { Histogram } from "./registry.ts";
import {
  type BackendProbe,
  type ServerMetrics,
  serverRegistry,
} from "./server_metrics.ts";

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** How long a probe's answer serves the requests after it. */
export const PROBE_CACHE_MS = 1_000;

/** How often the event-loop lag is sampled. */
export const LAG_SAMPLE_MS = 500;

/** Upper bounds of the lag histogram, in seconds (1 ms to 2.5 s). */
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** What the listener reads of the chat server (a `ChatServer` is one). */
export interface MetricsServer {
  readonly metrics: ServerMetrics;
  readonly stopping: boolean;
  /** Open connections on every door. */
  readonly connections: number;
  readonly admission: {
    readonly stats: { readonly accepted: number };
  };
  readonly room: {
    readonly size: number;
    readonly router: { readonly rooms: { readonly size: number } };
  };
}

/**
 * What the listener asks of the connection counts: an `Admission` (the
 * doors' one rule) with the metrics port's caps, in total and per address
 * group (`metricsMaxConnections`, `metricsMaxPerIp`).
 */
export interface MetricsAdmission {
  /** A connection from `host` (`address` names it in logs); refused or not. */
  enter(host: string, address: string): {
    readonly refusal: unknown;
    leave(): void;
  };
}

/** Options of {@linkcode openMetricsListener}. */
export interface MetricsListenerOptions {
  readonly hostname: string;
  /** 0: any free port (tests). */
  readonly port: number;
  /** Counts connections; one refused is closed at once, unanswered. */
  readonly admission: MetricsAdmission;
  /** How long one rendering of `/metrics` answers the scrapes after it. */
  readonly renderMs: number;
  /** How long a connection answered an unparsable request may linger. */
  readonly closeGraceMs: number;
  /**
   * How long a request may take to arrive, headers and body (and how often
   * that is checked): a connection without one is closed (408) in at most
   * twice this.
   */
  readonly requestTimeoutMs: number;
  /**
   * Requests of one connection waiting for their answers, at most
   * (`http_pipelining.ts`).
   */
  readonly httpPipelined: number;
  /** Longest request head read; a longer one is answered 431. */
  readonly httpMaxHeaderBytes: number;
  /** Most bytes read and thrown away after a 431, 408 or 400. */
  readonly httpDiscardBytes: number;
  readonly log: Logger;
  readonly server: MetricsServer;
  /** The room's backend: its probe (database writable, Redis). */
  readonly backend: { probe(): Promise<BackendProbe> };
  /** The TLS engine of the chat and IRC doors. */
  readonly engine: string;
  /** With `--redis`: Redis's series are served (none without). */
  readonly clustered: boolean;
  /** When the served certificate expires (ms since the epoch); null: unknown. */
  readonly certificateExpiresMs: number | null;
  /** Time: `/healthz`'s uptime, the probe's age. @default {Date.now} */
  readonly now?: () => number;
}

/** The open metrics listener. Disposing it closes it. */
export interface MetricsListener extends AsyncDisposable {
  readonly addr: { readonly hostname: string; readonly port: number };
  close(): Promise<void>;
}

/** Opens the metrics listener; rejects if the address cannot be bound. */
export async function openMetricsListener(
  options: MetricsListenerOptions,
): Promise<MetricsListener> {
  const { log, requestTimeoutMs } = options;
  const lag = new Histogram(LAG_BUCKETS);
  const routes = routesOf(options, lag);
  const http = createServer(
    {
      connectionsCheckingInterval: requestTimeoutMs,
      maxHeaderSize: options.httpMaxHeaderBytes,
    },
    pipedAtMost(options.httpPipelined, (request, response) => {
      answer(routes, request).catch((error) => {
        log.error("metrics-failed", { error: describeError(error) });
        return text(500, "Internal error\n");
      }).then((reply) => send(request, response, reply));
    }),
  );
  answerBeforeBody(http); // a body is refused: no 100 invites it
  answerClientErrors(http, {
    closeGraceMs: options.closeGraceMs,
    discardBytes: options.httpDiscardBytes,
  }); // 431, 408, 400 whole
  http.headersTimeout = requestTimeoutMs;
  http.requestTimeout = requestTimeoutMs;
  http.on("connection", (socket: Socket) => admit(options.admission, socket));
  await listen(http, options);
  http.on("error", (error) => {
    log.error("metrics-failed", { error: describeError(error) });
  });
  const stopSampling = sampleLag(lag);
  const bound = http.address() as AddressInfo;
  const close = async () => {
    stopSampling();
    const closed = new Promise((resolve) => http.close(resolve));
    http.closeAllConnections();
    await closed;
  };
  return {
    addr: { hostname: bound.address, port: bound.port },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Counts a connection from its accept (under its peer's address group),
 * or closes it unanswered; frees its place when it closes.
 */
function admit(admission: MetricsAdmission, socket: Socket): void {
  const host = hostOf(socket.remoteAddress ?? "");
  const entry = admission.enter(host, `${host}:${socket.remotePort}`);
  if (entry.refusal !== null) return void socket.destroy();
  socket.once("close", () => entry.leave());
}

/** An answer: its status, body (text, or bytes ready to send) and headers. */
interface Reply {
  readonly status: number;
  readonly body: string | Uint8Array;
  readonly headers: Record<string, string>;
}

/**
 * What a path answers (`GET` and `HEAD` only; a request announcing a body
 * is answered 405 or 413 and closed unread, `http_bodies.ts`).
 */
function answer(
  routes: Record<string, () => Promise<Reply> | Reply>,
  request: IncomingMessage,
): Promise<Reply> {
  // A body: answered, and closed unread.
  const body = announcesBody(request);
  const close: Record<string, string> = body ? { connection: "close" } : {};
  if (request.method !== "GET" && request.method !== "HEAD") {
    return Promise.resolve(
      text(405, "Method not allowed\n", undefined, {
        allow: "GET, HEAD",
        ...close,
      }),
    );
  }
  if (body) {
    return Promise.resolve(text(413, `${BODY_REFUSED}\n`, undefined, close));
  }
  const path = new URL(request.url ?? "/", "http://metrics").pathname;
  const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
  return Promise.resolve(route ? route() : text(404, "Not found\n"));
}

/** Sends `reply` (without its body to a `HEAD`). */
function send(
  request: IncomingMessage,
  response: ServerResponse,
  { status, body, headers }: Reply,
): void {
  const bytes = typeof body === "string"
    ? new TextEncoder().encode(body)
    : body;
  response.writeHead(status, {
    ...headers,
    "content-length": String(bytes.byteLength),
  });
  response.end(request.method === "HEAD" ? undefined : bytes);
}

/** What each path answers: the metrics, readiness, health. */
function routesOf(
  options: MetricsListenerOptions,
  lag: Histogram,
): Record<string, () => Promise<Reply> | Reply> {
  const { server } = options;
  const now = options.now ?? Date.now;
  const startedMs = now();
  const probed = shared(() => options.backend.probe(), now, PROBE_CACHE_MS);
  let probe: BackendProbe = {
    unwritable: null,
    redis: null,
    databaseBytes: 0,
    search: { waiting: 0, dropped: 0 },
  };
  const registry = serverRegistry(server.metrics, {
    engine: options.engine,
    clustered: options.clustered,
    online: () => server.room.size,
    rooms: () => server.room.router.rooms.size,
    admitted: () => server.connections,
    accepted: () => server.admission.stats.accepted,
    probe: () => probe,
    certificateExpiresMs: () => options.certificateExpiresMs,
    lag,
  });
  const rendered = shared(
    async () => {
      probe = await probed();
      return new TextEncoder().encode(registry.render());
    },
    now,
    options.renderMs,
  );
  return {
    "/metrics": async () => text(200, await rendered(), METRICS_CONTENT_TYPE),
    "/readyz": async () => {
      const found = await probed();
      const why = server.stopping
        ? "shutting down"
        : found.unwritable ?? found.redis?.down ?? null;
      return why === null
        ? text(200, "ready\n")
        : text(503, `not ready: ${why}\n`);
    },
    "/healthz": () => {
      const status = server.stopping ? "stopping" : "ok";
      const body = {
        status,
        online: server.room.size,
        connections: server.connections,
        rooms: server.room.router.rooms.size,
        uptimeS: Math.round((now() - startedMs) / 1000),
      };
      const json = JSON.stringify(body) + "\n";
      return text(status === "ok" ? 200 : 503, json, "application/json");
    },
  };
}

/**
 * `ask`, shared: asked once for the requests that arrive while it runs,
 * its answer kept for `keepMs` after (the backend's probe, a rendering).
 */
function shared<T>(
  ask: () => Promise<T>,
  now: () => number,
  keepMs: number,
): () => Promise<T> {
  let last: { found: T; atMs: number } | null = null;
  let running: Promise<T> | null = null;
  return () => {
    // Kept for keepMs after it was taken, and not once the wall clock
    // went back before that (a step back would have kept it that long).
    const atMs = now();
    if (last !== null && atMs >= last.atMs && atMs - last.atMs < keepMs) {
      return Promise.resolve(last.found);
    }
    return running ??= ask().then((found) => {
      last = { found, atMs: now() };
      return found;
    }).finally(() => running = null);
  };
}

/** Listens; a taken address is said in terms of the flag. */
async function listen(
  http: Server,
  { hostname, port }: MetricsListenerOptions,
): Promise<void> {
  requestListen(hostname, port);
  try {
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(port, hostname, () => {
        http.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    if (!isAddressInUse(e)) throw e;
    throw new Error(
      `Cannot listen on ${hostname}:${port} (--metrics-port): the address is in use`,
    );
  }
}

/** A plain answer (not to be cached by the client). */
function text(
  status: number,
  body: string | Uint8Array,
  type = "text/plain; charset=utf-8",
  headers: Record<string, string> = {},
): Reply {
  return {
    status,
    body,
    headers: { "content-type": type, "cache-control": "no-store", ...headers },
  };
}

/**
 * Samples the event loop's lag into `lag` every {@linkcode LAG_SAMPLE_MS}:
 * how late the timer fired. Returns what stops it.
 */
export function sampleLag(lag: Histogram): () => void {
  let expected = performance.now() + LAG_SAMPLE_MS;
  const timer = setInterval(() => {
    const at = performance.now();
    lag.observe(Math.max(0, at - expected) / 1000);
    expected = at + LAG_SAMPLE_MS;
  }, LAG_SAMPLE_MS);
  // The sampler alone never keeps the process alive.
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
