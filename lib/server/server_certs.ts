/**
 * The server's certificate at startup: `--cert`/`--key` read and checked,
 * or the dev certificate in `--certs-dir` generated on a first run and
 * renewed near its end; the CA clients must trust logged; warnings before
 * a certificate ends. Also what `server.ts certs` writes: the dev
 * certificates, or a client certificate for an alias. Logs, never prints.
 *
 * @module
 */

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import {
  type CertificateFacts,
  certificateFacts,
  certificatePaths,
  daysLeft,
  fingerprintSha256,
  readPair,
  RENEW_BEFORE_DAYS,
  renewDevCertificate,
  writeClientCertificate,
  writeDevCertificates,
} from "../certs.ts";
import { missingPermission } from "../flags.ts";
import type { Logger } from "../log.ts";
import { validateAlias } from "../protocol.ts";
import type { ServerConfig } from "./config.ts";

/** How often a running server checks how long its certificate has left. */
const EXPIRY_CHECK_MS = 86_400_000;

/** The flags that say which certificate the server serves. */
export type CertificateFlags = Pick<
  ServerConfig,
  "certFile" | "keyFile" | "certsDir" | "sans" | "newCa"
>;

/**
 * Reads `--cert`/`--key`, or the dev certificate in `--certs-dir`,
 * generating it on a first run and renewing it when it is close to its end.
 * Refuses a certificate that has already expired; warns about one that soon
 * will. Logs which CA clients must trust.
 */
export async function loadCertificate(
  config: CertificateFlags,
  log: Logger,
): Promise<{ cert: string; key: string; file: string }> {
  if (config.certFile !== null && config.keyFile !== null) {
    const pair = await readPair(config.certFile, config.keyFile);
    if (pair === null) {
      throw new Error(
        `Cannot read certificate: "${config.certFile}" or "${config.keyFile}" does not exist`,
      );
    }
    const { notAfter } = checkPair(pair, config.certFile, config.keyFile);
    if (daysLeft(notAfter, Date.now()) < 0) {
      throw new Error(
        `Cannot serve "${config.certFile}": it expired on ${notAfter.toISOString()}`,
      );
    }
    log.info("certificate", {
      file: config.certFile,
      sha256: await fingerprintSha256(pair.cert),
    });
    warnIfExpiring(config.certFile, notAfter, log);
    return { ...pair, file: config.certFile };
  }
  const paths = certificatePaths(config.certsDir);
  let pair = await readPair(paths.cert, paths.key);
  if (pair === null) {
    await generateCertificates(config, log);
  } else {
    const check = await renewDevCertificate(config.certsDir, Date.now());
    if (check.renewed) {
      log.info("certificate-renewed", {
        cert: paths.cert,
        notAfter: check.notAfter.toISOString(),
      });
    }
    await logCa(paths.caCert, log);
  }
  pair = await readPair(paths.cert, paths.key);
  return { ...pair!, file: paths.cert };
}

/**
 * What `--cert` says of itself, once it is known to hold a certificate
 * whose key `--key` holds: otherwise the server would start and fail every
 * handshake.
 */
function checkPair(
  pair: { cert: string; key: string },
  certFile: string,
  keyFile: string,
): CertificateFacts {
  let facts: CertificateFacts;
  try {
    facts = certificateFacts(pair.cert);
  } catch (e) {
    throw new Error(`Cannot serve "${certFile}": it holds no certificate`, {
      cause: e,
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pair.key);
  } catch (e) {
    throw new Error(`Cannot use --key "${keyFile}": it holds no private key`, {
      cause: e,
    });
  }
  if (!new X509Certificate(pair.cert).checkPrivateKey(key)) {
    throw new Error(
      `Cannot serve "${certFile}": "${keyFile}" is not its private key`,
    );
  }
  return facts;
}

/**
 * Reads `--client-ca`: it must hold a certificate (given a key, or nothing,
 * the server started and no certificate could log in). Errors name the
 * flag; a missing permission is left to say which one.
 */
export async function readClientCa(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await Deno.readTextFile(file);
  } catch (e) {
    if (missingPermission(e) !== null) throw e;
    throw new Error(
      `Cannot read --client-ca "${file}": ${(e as Error).message}`,
      { cause: e },
    );
  }
  try {
    new X509Certificate(pem);
  } catch (e) {
    throw new Error(
      `Cannot use --client-ca "${file}": it holds no certificate`,
      { cause: e },
    );
  }
  return pem;
}

/**
 * Writes the dev CA (unless one is there and `newCa` is false) and a server
 * certificate for `sans` in `certsDir`; logs what it wrote and the CA.
 */
export async function generateCertificates(
  config: CertificateFlags,
  log: Logger,
): Promise<void> {
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

/**
 * `certs client ALIAS`: writes a client certificate for ALIAS signed by the
 * dev CA in `certsDir`; resolves to what to tell the operator (where it is,
 * and the command that uses it). Throws for an alias no one may hold.
 */
export async function issueClientCertificate(
  certsDir: string,
  alias: string,
): Promise<string> {
  validateAlias(alias);
  const written = await writeClientCertificate(certsDir, alias);
  return `Client certificate for "${alias}": ${written.cert}
Key (keep it secret, mode 0600): ${written.key}

The server trusts it when run with --client-ca ${written.ca} (node engine).
Join with:
  deno run --allow-net=localhost:7443 --allow-read=${written.ca},${written.cert},${written.key} client.ts \\
    --cert ${written.cert} --key ${written.key} --alias ${alias}`;
}

/**
 * Checks once a day that the certificate `cert` (from `file`) is not about
 * to end, warning when it is: a long-running server warns ahead of its end
 * (a dev certificate is renewed at the next start). Returns what stops the
 * checks.
 */
export function watchExpiry(
  file: string,
  cert: string,
  log: Logger,
): () => void {
  const { notAfter } = certificateFacts(cert);
  const timer = setInterval(
    () => warnIfExpiring(file, notAfter, log),
    EXPIRY_CHECK_MS,
  );
  return () => clearInterval(timer);
}

/** Logs a warning when a certificate ends within {@linkcode RENEW_BEFORE_DAYS}. */
function warnIfExpiring(
  file: string,
  notAfter: Date,
  log: Logger,
): void {
  const days = daysLeft(notAfter, Date.now());
  if (days >= RENEW_BEFORE_DAYS) return;
  log.warn("certificate-expiring", {
    file,
    days,
    notAfter: notAfter.toISOString(),
    hint: "renew it (a dev certificate is renewed at the next start)",
  });
}

/** Logs the CA clients must trust (or that it is missing), warning near its end. */
async function logCa(caFile: string, log: Logger): Promise<void> {
  try {
    const pem = await Deno.readTextFile(caFile);
    log.info("ca", {
      file: caFile,
      sha256: await fingerprintSha256(pem),
      hint: `clients trust this file: --ca ${caFile}`,
    });
    warnIfExpiring(caFile, (certificateFacts(pem)).notAfter, log);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    log.warn("ca-missing", { file: caFile });
  }
}
