/**
 * tlschat server: hosts one encrypted chat room.
 *
 * ```sh
 * deno task server                       # 0.0.0.0:7443, browsers on :7444, certs in certs/
 * deno task server --san chat.example    # also valid for chat.example (first run)
 * deno task certs --san chat.example     # (re)issue the dev server certificate
 * deno run --allow-net=0.0.0.0:8443 --allow-read=data,/etc/tls --allow-write=data \
 *   server.ts --port 8443 --web-port 0 --cert /etc/tls/fullchain.pem --key /etc/tls/key.pem
 * ```
 *
 * On a first run without `--cert`, it generates a dev CA and a server
 * certificate in `certs/` and prints the CA's path and SHA-256 fingerprint.
 * SIGINT or SIGTERM shut it down gracefully. `--help` lists every flag.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { formatFlags, missingPermission } from "./lib/flags.ts";
import { createLogger, describeError, type Logger } from "./lib/log.ts";
import { readPasswordFile } from "./lib/password_file.ts";
import { openRoomBackend, type RoomBackend } from "./lib/server/backend.ts";
import { type ChatServer, serveChat } from "./lib/server/chat_server.ts";
import type { ServerConfig } from "./lib/server/config.ts";
import { parseServerArgs } from "./lib/server/server_args.ts";
import {
  generateCertificates,
  issueClientCertificate,
  loadCertificate,
  watchExpiry,
} from "./lib/server/server_certs.ts";
import { SERVER_FLAGS } from "./lib/server/server_flags.ts";
import { openStore, type Store } from "./lib/server/storage/store.ts";
import { listenTls } from "./lib/server/doors/transport.ts";
import type { ByteListener, NetAddress } from "./lib/server/doors/byte_conn.ts";
import {
  openWebDoor,
  type WebDoor,
  webLimits,
} from "./lib/server/doors/web_door.ts";
import { systemClock } from "./lib/clock.ts";
import { certificateFacts } from "./lib/certs.ts";
import { formatAddress } from "./lib/server/doors/byte_conn.ts";
import { ServerMetrics } from "./lib/server/metrics/server_metrics.ts";
import {
  type MetricsListener,
  openMetricsListener,
} from "./lib/server/metrics/metrics_http.ts";

const USAGE = `Usage: server.ts [certs] [options]

Hosts a TLS chat room. With "certs", only (re)issues the dev server
certificate in --certs-dir (reusing its CA unless --new-ca) and exits.

Options:
${formatFlags(SERVER_FLAGS)}`;

/** Runs the server; resolves to the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let config: ServerConfig;
  try {
    config = parseServerArgs(args);
  } catch (e) {
    console.error(`${(e as Error).message}\nRun with --help for usage.`);
    return 2;
  }
  if (config.help) {
    console.log(USAGE);
    return 0;
  }
  const log = createLogger(config.logLevel, (line) => console.log(line));
  try {
    if (config.command === "certs") {
      if (config.clientCertFor !== null) {
        console.log(
          await issueClientCertificate(config.certsDir, config.clientCertFor),
        );
      } else {
        await generateCertificates(config, log);
      }
      return 0;
    }
    return await serve(config, log);
  } catch (e) {
    console.error(startupError(e, config));
    return 1;
  }
}

/** Serves until stopped (SIGINT, SIGTERM); resolves to the exit code. */
async function serve(config: ServerConfig, log: Logger): Promise<number> {
  const roomPassword = config.passwordFile === null
    ? null
    : await readRoomPassword(config.passwordFile, log);
  const clientCa = config.clientCa === null ? null : {
    ca: await Deno.readTextFile(config.clientCa),
    require: config.clientCert === "require",
  };
  using store = openStore(config.dataDir, {
    exclusive: true,
    // Off the event loop where history commits at every turn without a
    // sync; `full` syncs each commit anyway, and keeps SQLite's own.
    checkpoints: config.history > 0 && config.durability === "normal",
  });
  const { rows = 0, droppedBytes = 0 } = store.recovery ?? {};
  if (rows > 0 || droppedBytes > 0) {
    // A killed server's last lines, now in the database.
    log.info("history-recovered", { lines: rows, droppedBytes });
  }
  const { cert, key, file } = await loadCertificate(config, log);
  const tls = { cert, key, clientCa };
  const { server, backend, web, metrics, irc } = await start(config, log, {
    store,
    roomPassword,
    tls,
  });
  // Armed only now: a server that failed to start must not be kept alive.
  const unwatch = watchExpiry(file, cert, log);
  const unguard = guard(log);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { connections: server.connections });
    server.close();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  logListening(config, log, {
    server,
    backend,
    web,
    metrics,
    irc,
    roomPassword,
    clientCa,
  });
  await server.finished;
  await web?.close();
  await metrics?.close();
  await backend.close();
  unwatch();
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  unguard();
  return 0;
}

/** The certificate and key the doors serve, and the client CA they ask for. */
interface DoorTls {
  readonly cert: string;
  readonly key: string;
  readonly clientCa: { ca: string; require: boolean } | null;
}

/**
 * Opens the room's backend, then the TLS door, the chat server, the web
 * door and the metrics port; whatever was opened is closed again if a
 * later step fails.
 */
async function start(
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
 * loopback unless `--metrics-host` says otherwise.
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
    maxConnections: config.metricsMaxConnections,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    log,
    server,
    backend,
    engine: config.tlsEngine,
    clustered: config.redis !== null,
    certificateExpiresMs: certificateFacts(tls.cert).notAfter.getTime(),
  });
}

/**
 * Safety nets, not flow control: every task catches its own errors, and
 * one that slips through must not end the room for everyone. Returns what
 * takes them down again.
 */
function guard(log: Logger): () => void {
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    log.error("unhandled-rejection", { error: describeError(event.reason) });
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    log.error("uncaught-error", { error: describeError(event.error) });
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}

/** The `listening` line: where, which engine, which doors, who may join. */
function logListening(
  config: ServerConfig,
  log: Logger,
  { server, backend, web, metrics, irc, roomPassword, clientCa }: {
    server: ChatServer;
    backend: RoomBackend;
    web: WebDoor | null;
    metrics: MetricsListener | null;
    irc: NetAddress | null;
    roomPassword: string | null;
    clientCa: DoorTls["clientCa"];
  },
): void {
  log.info("listening", {
    host: server.addr.hostname,
    port: server.addr.port,
    engine: config.tlsEngine,
    name: config.name,
    data: config.dataDir,
    cluster: backend.label ?? undefined,
    web: web === null ? "off" : `https://localhost:${web.addr.port}/`,
    metrics: metrics === null ? undefined : formatAddress(metrics.addr),
    irc: irc === null ? undefined : formatAddress(irc),
    trustedProxies: config.trustedProxies.map((range) =>
      range.text
    ).join(",") ||
      undefined,
    auth: [
      roomPassword === null ? "" : "room-password",
      config.accountsOnly ? "accounts-only" : "",
      clientCa === null ? "" : `client-cert-${config.clientCert}`,
    ].filter((a) => a !== "").join(",") || "open",
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
    if ((e as { code?: unknown }).code === "EADDRINUSE") {
      throw new Error(
        `Cannot listen on ${config.hostname}:${config.webPort} (--web-port, the browser client): the address is in use`,
      );
    }
    throw e;
  }
}

/** Why the IRC door could not listen, its flag named. */
function ircListenError(config: ServerConfig, e: unknown): unknown {
  if (
    e instanceof Deno.errors.AddrInUse ||
    (e as { code?: unknown } | null)?.code === "EADDRINUSE"
  ) {
    return new Error(
      `Cannot listen on ${config.ircHost}:${config.ircPort} (--irc-port, the IRC door): the address is in use`,
    );
  }
  return e;
}

/** Reads the room password, warning about a short one or a readable file. */
async function readRoomPassword(file: string, log: Logger): Promise<string> {
  const { password, warnings } = await readPasswordFile(file);
  for (const warning of warnings) {
    log.warn("password-file", {
      file,
      problem: warning.kind,
      hint: warning.text,
    });
  }
  return password;
}

function startupError(e: unknown, config: ServerConfig): string {
  const where = `${config.hostname}:${config.port}`;
  if (
    e instanceof Deno.errors.AddrInUse ||
    (e as { code?: unknown } | null)?.code === "EADDRINUSE"
  ) {
    return `Cannot listen on ${where}: the address is in use (is another server running?)`;
  }
  const flag = missingPermission(e);
  if (flag !== null) {
    return `Cannot start: ${
      (e as Error).message
    }. Run with ${flag} (see README)`;
  }
  // Our own errors say it all; others are named (TypeError, ...).
  return `Cannot start: ${
    e instanceof Error && e.name === "Error" ? e.message : describeError(e)
  }`;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
