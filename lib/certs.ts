/**
 * Development certificates on disk: a CA (`ca.pem`, `ca-key.pem`) and a
 * server certificate it signs (`server.pem`, `server-key.pem`) for
 * `localhost`, `127.0.0.1`, `::1` and any extra names, made by
 * `cert_authority.ts`; client certificates beside them. Keys are created
 * with mode 0600 (never briefly readable by others), and a dev certificate
 * close to its expiry is renewed with the same names. What a certificate
 * says about itself is read with `node:crypto`, so a plain start never
 * loads the X.509 generator.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import {
  type CertificatePair,
  fingerprintSha256,
  generateCa,
  issueClientCertificate,
  issueServerCertificate,
} from "./cert_authority.ts";

export { fingerprintSha256 };

/** Names every generated server certificate covers. */
export const DEFAULT_SANS: readonly string[] = [
  "localhost",
  "127.0.0.1",
  "::1",
];

/** A certificate this close to its end is renewed (dev) or warned about. */
export const RENEW_BEFORE_DAYS = 30;

const DAY_MS = 86_400_000;

/** The four files of a dev certificate directory. */
export interface CertificatePaths {
  readonly caCert: string;
  readonly caKey: string;
  readonly cert: string;
  readonly key: string;
}

/** Returns the file paths used in a certificate directory. */
export function certificatePaths(dir: string): CertificatePaths {
  return {
    caCert: join(dir, "ca.pem"),
    caKey: join(dir, "ca-key.pem"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server-key.pem"),
  };
}

/** What a certificate says about itself, as far as the server cares. */
export interface CertificateFacts {
  readonly notAfter: Date;
  /** DNS names and IP addresses of its subject alternative names. */
  readonly names: readonly string[];
}

/**
 * Reads the end of validity and the names of the first certificate in a
 * PEM (with `node:crypto`, so a plain start never loads the X.509 generator).
 */
export function certificateFacts(pem: string): CertificateFacts {
  const cert = new X509Certificate(pem);
  const names = (cert.subjectAltName ?? "").split(", ")
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ""))
    .filter((name) => name !== "");
  return { notAfter: cert.validToDate, names };
}

/** Whole days left before `notAfter` (negative once expired). */
export function daysLeft(notAfter: Date, nowMs: number): number {
  return Math.floor((notAfter.getTime() - nowMs) / DAY_MS);
}

/** Options of {@linkcode writeDevCertificates}. */
export interface WriteDevCertificatesOptions {
  /** Names besides {@linkcode DEFAULT_SANS}. */
  sans?: readonly string[];
  /**
   * Make a new CA even when one exists. Otherwise an existing CA is reused,
   * so clients that already trust it keep working.
   * @default {false}
   */
  newCa?: boolean;
}

/** What {@linkcode writeDevCertificates} did. */
export interface WrittenCertificates {
  readonly paths: CertificatePaths;
  readonly newCa: boolean;
  readonly names: readonly string[];
}

/**
 * Writes a server certificate (and a CA when there is none or `newCa`) into
 * `dir`, creating it. Keys get mode 0600.
 */
export async function writeDevCertificates(
  dir: string,
  options: WriteDevCertificatesOptions = {},
): Promise<WrittenCertificates> {
  const paths = certificatePaths(dir);
  await Deno.mkdir(dir, { recursive: true });
  let ca = options.newCa ? null : await readPair(paths.caCert, paths.caKey);
  const newCa = ca === null;
  if (ca === null) {
    ca = await generateCa();
    await writeKey(paths.caKey, ca.key);
    await Deno.writeTextFile(paths.caCert, ca.cert);
  }
  const names = [...new Set([...DEFAULT_SANS, ...(options.sans ?? [])])];
  const server = await issueServerCertificate(ca, names);
  await writeKey(paths.key, server.key);
  await Deno.writeTextFile(paths.cert, server.cert);
  return { paths, newCa, names };
}

/** Where {@linkcode writeClientCertificate} put a client certificate. */
export interface WrittenClientCertificate {
  readonly cert: string;
  readonly key: string;
  /** The CA that signed it: the server's `--client-ca`. */
  readonly ca: string;
}

/**
 * Issues a client certificate for `alias`, signed by the dev CA in `dir`,
 * into `dir/client-ALIAS.pem` and `dir/client-ALIAS-key.pem` (mode 0600).
 */
export async function writeClientCertificate(
  dir: string,
  alias: string,
): Promise<WrittenClientCertificate> {
  const paths = certificatePaths(dir);
  const ca = await readPair(paths.caCert, paths.caKey);
  if (ca === null) {
    throw new Error(
      `Cannot issue a client certificate: no dev CA in "${dir}" (run deno task certs first)`,
    );
  }
  const pair = await issueClientCertificate(ca, alias);
  const cert = join(dir, `client-${alias}.pem`);
  const key = join(dir, `client-${alias}-key.pem`);
  await writeKey(key, pair.key);
  await Deno.writeTextFile(cert, pair.cert);
  return { cert, key, ca: paths.caCert };
}

/** Reads a certificate and key, or returns null when either is missing. */
export async function readPair(
  certFile: string,
  keyFile: string,
): Promise<CertificatePair | null> {
  try {
    return {
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
    };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Writes a private key: into a new file created with mode 0600, renamed over
 * the old one, so that the key is never readable by others, not even
 * briefly, and never half-written.
 */
export async function writeKey(path: string, pem: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, pem, { mode: 0o600, createNew: true });
    await Deno.rename(temporary, path);
  } catch (e) {
    await Deno.remove(temporary).catch(() => {});
    throw e;
  }
}

/** What {@linkcode renewDevCertificate} found and did. */
export interface DevCertificateCheck {
  readonly notAfter: Date;
  /** The certificate was close to its end and has been reissued. */
  readonly renewed: boolean;
}

/**
 * Renews the dev server certificate in `dir` with the same names when it
 * ends within {@linkcode RENEW_BEFORE_DAYS} days (or already ended), using
 * the dev CA in the same directory.
 */
export async function renewDevCertificate(
  dir: string,
  nowMs: number,
): Promise<DevCertificateCheck> {
  const paths = certificatePaths(dir);
  const facts = certificateFacts(await Deno.readTextFile(paths.cert));
  if (daysLeft(facts.notAfter, nowMs) >= RENEW_BEFORE_DAYS) {
    return { notAfter: facts.notAfter, renewed: false };
  }
  const ca = await readPair(paths.caCert, paths.caKey);
  if (ca === null) return { notAfter: facts.notAfter, renewed: false };
  const names = facts.names.length > 0 ? facts.names : DEFAULT_SANS;
  const server = await issueServerCertificate(ca, names);
  await writeKey(paths.key, server.key);
  await Deno.writeTextFile(paths.cert, server.cert);
  const renewed = certificateFacts(server.cert);
  return { notAfter: renewed.notAfter, renewed: true };
}
