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

import { formatFlags, isAddressInUse, missingPermission } from "./lib/flags.ts";
import { createLogger, describeError, type Logger } from "./lib/log.ts";
import { readPasswordFile } from "./lib/password_file.ts";
import type { RoomBackend } from "./lib/server/backend.ts";
import type { ChatServer } from "./lib/server/chat_server.ts";
import type { ServerConfig } from "./lib/server/config.ts";
import { parseServerArgs } from "./lib/server/server_args.ts";
import {
  generateCertificates,
  issueClientCertificate,
  loadCertificate,
  readClientCa,
  watchExpiry,
} from "./lib/server/server_certs.ts";
import { SERVER_FLAGS } from "./lib/server/server_flags.ts";
import { openStore } from "./lib/server/storage/store.ts";
import type { WebDoor } from "./lib/server/doors/web_door.ts";
import { formatAddress } from "./lib/server/doors/byte_conn.ts";
import type { MetricsListener } from "./lib/server/metrics/metrics_http.ts";
import type { NetAddress } from "./lib/server/doors/byte_conn.ts";
import { type DoorTls, startServer } from "./lib/server/server_start.ts";

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
    ca: await readClientCa(config.clientCa),
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
  const started = await startServer(config, log, { store, roomPassword, tls });
  const { server, backend, web, metrics } = started;
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
  logListening(config, log, { ...started, roomPassword, clientCa });
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
  if (isAddressInUse(e)) {
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
