/**
 * tlschat server: hosts one encrypted chat room.
 *
 * ```sh
 * deno task server                       # 0.0.0.0:7443, dev certificates in certs/
 * deno task server --san chat.example    # also valid for chat.example (first run)
 * deno task certs --san chat.example     # (re)issue the dev server certificate
 * deno run --allow-net=0.0.0.0:8443 --allow-read=/etc/tls server.ts \
 *   --port 8443 --cert /etc/tls/fullchain.pem --key /etc/tls/key.pem
 * ```
 *
 * On a first run without `--cert`, it generates a dev CA and a server
 * certificate in `certs/` and prints the CA's path and SHA-256 fingerprint.
 * SIGINT or SIGTERM shut it down gracefully. `--help` lists every flag.
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { serveChat } from "./lib/chat_server.ts";
import {
  formatFlags,
  parseServerArgs,
  SERVER_FLAGS,
  type ServerConfig,
} from "./lib/config.ts";
import {
  certificatePaths,
  fingerprintSha256,
  readPair,
  writeDevCertificates,
} from "./lib/certs.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { describe } from "./lib/session.ts";
import { listenTls } from "./lib/transport.ts";

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
      await generate(config, log);
      return 0;
    }
    return await serve(config, log);
  } catch (e) {
    console.error(startupError(e, config));
    return 1;
  }
}

async function serve(config: ServerConfig, log: Logger): Promise<number> {
  const { cert, key } = await loadCertificate(config, log);
  const listener = await listenTls({
    hostname: config.hostname,
    port: config.port,
    cert,
    key,
    engine: config.tlsEngine,
  });
  const server = serveChat(listener, { config, log });
  // Safety nets, not flow control: every task catches its own errors, and
  // one that slips through must not end the room for everyone.
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    log.error("unhandled-rejection", { error: describe(event.reason) });
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    log.error("uncaught-error", { error: describe(event.error) });
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { connections: server.connections });
    server.close();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  log.info("listening", {
    host: server.addr.hostname,
    port: server.addr.port,
    engine: config.tlsEngine,
    name: config.name,
  });
  await server.finished;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  globalThis.removeEventListener("unhandledrejection", onRejection);
  globalThis.removeEventListener("error", onError);
  return 0;
}

/**
 * Reads `--cert`/`--key`, or the dev certificate in `--certs-dir`,
 * generating it on a first run. Logs which CA clients must trust.
 */
async function loadCertificate(
  config: ServerConfig,
  log: Logger,
): Promise<{ cert: string; key: string }> {
  if (config.certFile !== null && config.keyFile !== null) {
    const pair = await readPair(config.certFile, config.keyFile);
    if (pair === null) {
      throw new Error(
        `Cannot read certificate: "${config.certFile}" or "${config.keyFile}" does not exist`,
      );
    }
    log.info("certificate", {
      file: config.certFile,
      sha256: await fingerprintSha256(pair.cert),
    });
    return pair;
  }
  const paths = certificatePaths(config.certsDir);
  let pair = await readPair(paths.cert, paths.key);
  if (pair === null) {
    await generate(config, log);
    pair = await readPair(paths.cert, paths.key);
  } else {
    await logCa(paths.caCert, log);
  }
  return pair!;
}

async function generate(config: ServerConfig, log: Logger): Promise<void> {
  const written = await writeDevCertificates(config.certsDir, {
    sans: config.sans,
    newCa: config.newCa,
  });
  log.info("certificates-generated", {
    cert: written.paths.cert,
    names: written.names.join(","),
    newCa: written.newCa,
  });
  await logCa(written.paths.caCert, log);
}

async function logCa(caFile: string, log: Logger): Promise<void> {
  try {
    const pem = await Deno.readTextFile(caFile);
    log.info("ca", {
      file: caFile,
      sha256: await fingerprintSha256(pem),
      hint: `clients trust this file: --ca ${caFile}`,
    });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    log.warn("ca-missing", { file: caFile });
  }
}

function startupError(e: unknown, config: ServerConfig): string {
  const where = `${config.hostname}:${config.port}`;
  if (e instanceof Deno.errors.AddrInUse) {
    return `Cannot listen on ${where}: the address is in use (is another server running?)`;
  }
  if (
    e instanceof Deno.errors.NotCapable ||
    e instanceof Deno.errors.PermissionDenied
  ) {
    return `Cannot start: ${
      (e as Error).message
    }. Run with --allow-net=${where} ` +
      `--allow-read=${config.certsDir} --allow-write=${config.certsDir} (see README)`;
  }
  return `Cannot start: ${describe(e)}`;
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
