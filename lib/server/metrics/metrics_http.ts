/**
 * The metrics listener (`--metrics-port`, plain HTTP, loopback unless
 * `--metrics-host` says otherwise): `GET /metrics` in the Prometheus text
 * format, `/readyz` (200 only when the database takes writes and, in a
 * cluster, Redis answers), `/healthz` (the counts the web door gives only
 * to loopback clients), and the event-loop lag sampler that runs while it
 * is open. Everything it reports is read when asked: nothing here runs on
 * the chat's hot path. It knows the server only through the narrow
 * {@linkcode MetricsServer} shape.
 *
 * @module
 */

import { describeError, type Logger } from "../../log.ts";
import { Histogram } from "./registry.ts";
import {
  type BackendProbe,
  type ServerMetrics,
  serverRegistry,
} from "./server_metrics.ts";

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

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

/** Options of {@linkcode openMetricsListener}. */
export interface MetricsListenerOptions {
  readonly hostname: string;
  /** 0: any free port (tests). */
  readonly port: number;
  readonly log: Logger;
  readonly server: MetricsServer;
  /** The room's backend: its probe (database writable, Redis). */
  readonly backend: { probe(): Promise<BackendProbe> };
  /** The TLS engine of the chat and IRC doors. */
  readonly engine: string;
  /** When the served certificate expires (ms since the epoch); null: unknown. */
  readonly certificateExpiresMs: number | null;
  /** Time, for `/healthz`'s uptime. @default {Date.now} */
  readonly now?: () => number;
}

/** The open metrics listener. Disposing it closes it. */
export interface MetricsListener extends AsyncDisposable {
  readonly addr: Deno.NetAddr;
  close(): Promise<void>;
}

/** Opens the metrics listener; throws if the address cannot be bound. */
export function openMetricsListener(
  options: MetricsListenerOptions,
): MetricsListener {
  const lag = new Histogram(LAG_BUCKETS);
  const routes = routesOf(options, lag);
  const http = listen(options, (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(405, "Method not allowed\n", undefined, {
        allow: "GET, HEAD",
      });
    }
    const route = routes[new URL(request.url).pathname];
    return route ? route() : text(404, "Not found\n");
  });
  const stopSampling = sampleLag(lag);
  const close = async () => {
    stopSampling();
    await http.shutdown();
  };
  return { addr: http.addr, close, [Symbol.asyncDispose]: close };
}

/** What each path answers: the metrics, readiness, health. */
function routesOf(
  options: MetricsListenerOptions,
  lag: Histogram,
): Record<string, () => Promise<Response> | Response> {
  const { server, backend } = options;
  const now = options.now ?? Date.now;
  const startedMs = now();
  let probe: BackendProbe = { unwritable: null, redis: null, databaseBytes: 0 };
  const registry = serverRegistry(server.metrics, {
    engine: options.engine,
    online: () => server.room.size,
    rooms: () => server.room.router.rooms.size,
    admitted: () => server.connections,
    accepted: () => server.admission.stats.accepted,
    probe: () => probe,
    certificateExpiresMs: () => options.certificateExpiresMs,
    lag,
  });
  const probed = async () => probe = await backend.probe();
  return {
    "/metrics": async () => {
      await probed();
      return text(200, registry.render(), METRICS_CONTENT_TYPE);
    },
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

/** Serves plain HTTP; a taken address is said in terms of the flag. */
function listen(
  { hostname, port, log }: MetricsListenerOptions,
  handler: (request: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname,
      port,
      onListen: () => {},
      onError: (error) => {
        log.error("metrics-failed", { error: describeError(error) });
        return text(500, "Internal error\n");
      },
    }, handler);
  } catch (e) {
    if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    throw new Error(
      `Cannot listen on ${hostname}:${port} (--metrics-port): the address is in use`,
    );
  }
}

/** A plain response (no caching: every scrape reads anew). */
function text(
  status: number,
  body: string,
  type = "text/plain; charset=utf-8",
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { "content-type": type, "cache-control": "no-store", ...headers },
  });
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
