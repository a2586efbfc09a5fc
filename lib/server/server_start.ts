/**
 * The server's parts opened in order at startup: the room's backend, the
 * TLS door (and the IRC door's listener), the chat server, the web door and
 * the metrics port; whatever was opened is closed again if a later step
 * fails, and an address in use is said with its flag.
 *
 * @module
 */

import { LOG_LEVELS, type Logger } from "../log.ts";
import { certificateFacts } from "../certs.ts";
import { isAddressInUse } from "../flags.ts";
import { systemClock } from "../clock.ts";
import { openRoomBackend, type RoomBackend } from "./backend.ts";
import { type ChatServer, serveChat } from "./chat_server.ts";
import type { ServerConfig } from "./config.ts";
import type { ByteListener, NetAddress } from "./doors/byte_conn.ts";
import { listenTls } from "./doors/transport.ts";
import { Admission } from "./doors/admission.ts";
import { openWebDoor, type WebDoor, webLimits } from "./doors/web_door.ts";
import {
  type MetricsListener,
  openMetricsListener,
} from "./metrics/metrics_http.ts";
import { ServerMetrics } from "./metrics/server_metrics.ts";
import type { Store } from "./storage/store.ts";

/** The certificate and key the doors serve, and the client CA they ask for. */
export interface DoorTls {
  readonly cert: string;
  readonly key: string;
  readonly clientCa: { ca: string; require: boolean } | null;
}

/**
 * Opens the room's backend, then the TLS door, the chat server, the web
 * door and the metrics port; whatever was opened is closed again if a
 * later step fails.
 */
export async function startServer(
  config: ServerConfig,
  log: Logger,
  { store, roomPassword, tls }: {
    store: Store;
    roomPassword: string | null;
    tls: DoorTls;
  },
): Promise<{
  server: ChatServer;
  backend: RoomBackend;
  web: WebDoor | null;
  metrics: MetricsListener | null;
  irc: NetAddress | null;
}> {
  // The room comes first: nobody is let in before it can take them.
  const counters = new ServerMetrics();
  const backend = await openRoomBackend(config, {
    store,
    log,
    metrics: counters,
  });
  const { listener, irc } = await listenDoors(config, tls).catch(async (e) => {
    await backend.close();
    throw e;
  });
  const server = serveChat(listener, {
    config,
    log,
    store,
    roomPassword,
    backend,
    metrics: counters,
    irc,
  });
  let web: WebDoor | null = null;
  try {
    await server.start();
    web = await openWeb(config, server, tls, log);
    const metrics = await openMetrics(config, log, { server, backend, tls });
    return { server, backend, web, metrics, irc: irc?.addr ?? null };
  } catch (e) {
    await web?.close();
    await server.close();
    await backend.close();
    throw e;
  }
}

/**
 * The TLS listeners of the chat port and, with `--irc-port`, of the IRC
 * door: neither is left open when the other cannot listen.
 */
async function listenDoors(
  config: ServerConfig,
  tls: DoorTls,
): Promise<{ listener: ByteListener; irc: ByteListener | undefined }> {
  const listen = (hostname: string, port: number) =>
    listenTls({
      hostname,
      port,
      cert: tls.cert,
      key: tls.key,
      engine: config.tlsEngine,
      maxInputBytes: config.maxInputBytes,
      clientCa: tls.clientCa,
      trustedProxies: config.trustedProxies,
    });
  const listener = await listen(config.hostname, config.port);
  if (config.ircPort === null) return { listener, irc: undefined };
  try {
    return { listener, irc: await listen(config.ircHost, config.ircPort) };
  } catch (e) {
    listener.close();
    throw ircListenError(config, e);
  }
}

/**
 * Opens the metrics port (`--metrics-port`; none by default): plain HTTP,
 * loopback unless `--metrics-host` says otherwise; its connections counted
 * by an `Admission` of its own (the doors' rule, its own caps), refused
 * ones closed without a word.
 */
async function openMetrics(
  config: ServerConfig,
  log: Logger,
  { server, backend, tls }: {
    server: ChatServer;
    backend: RoomBackend;
    tls: DoorTls;
  },
): Promise<MetricsListener | null> {
  if (config.metricsPort === null) return null;
  return await openMetricsListener({
    hostname: config.metricsHost,
    port: config.metricsPort,
    admission: new Admission(
      {
        maxClients: config.metricsMaxConnections,
        maxPerIp: config.metricsMaxPerIp,
        maxRefusals: 0,
      },
      doorLog(log, "metrics"),
      server.metrics.metricsRefusals,
    ),
    renderMs: config.metricsRenderMs,
    closeGraceMs: config.closeGraceMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    httpPipelined: config.httpPipelined,
    httpMaxHeaderBytes: config.httpMaxHeaderBytes,
    httpDiscardBytes: config.httpDiscardBytes,
    log,
    server,
    backend,
    engine: config.tlsEngine,
    clustered: config.redis !== null,
    certificateExpiresMs: certificateFacts(tls.cert).notAfter.getTime(),
  });
}

/**
 * Opens the web door (`--web-port`, 0: none) with the chat port's
 * certificate; its WebSockets join the same room.
 */
async function openWeb(
  config: ServerConfig,
  server: ChatServer,
  { cert, key, clientCa }: DoorTls,
  log: Logger,
): Promise<WebDoor | null> {
  if (config.webPort === 0) return null;
  const startedMs = Date.now();
  try {
    return await openWebDoor({
      hostname: config.hostname,
      port: config.webPort,
      cert,
      key,
      // A dev certificate is trusted by hand: no HSTS for it.
      hsts: config.certFile !== null,
      origins: config.webOrigins,
      ...webLimits(config),
      clientCa,
      admission: server.admission,
      clock: systemClock,
      log,
      admit: (connection, entry) => server.admit(connection, entry),
      health: () => ({
        status: server.stopping ? "stopping" : "ok",
        online: server.room.size,
        connections: server.connections,
        uptimeS: Math.round((Date.now() - startedMs) / 1000),
      }),
    });
  } catch (e) {
    if (isAddressInUse(e)) {
      throw new Error(
        `Cannot listen on ${config.hostname}:${config.webPort} (--web-port, the browser client): the address is in use`,
      );
    }
    throw e;
  }
}

/** Why the IRC door could not listen, its flag named. */
function ircListenError(config: ServerConfig, e: unknown): unknown {
  if (isAddressInUse(e)) {
    return new Error(
      `Cannot listen on ${config.ircHost}:${config.ircPort} (--irc-port, the IRC door): the address is in use`,
    );
  }
  return e;
}

/** `log`, with `door=NAME` first on every line (a refusal says where). */
function doorLog(log: Logger, door: string): Logger {
  const entries = LOG_LEVELS.map((
    level,
  ) => [
    level,
    (event: string, fields = {}) => log[level](event, { door, ...fields }),
  ]);
  return Object.fromEntries(entries) as Logger;
}
