/**
 * Development certificates in pure TypeScript (`@peculiar/x509` over
 * WebCrypto, ECDSA P-256), so a first run needs no openssl and works inside a
 * compiled binary: a CA (`ca.pem`, `ca-key.pem`) and a server certificate it
 * signs (`server.pem`, `server-key.pem`) for `localhost`, `127.0.0.1`, `::1`
 * and any extra names. The server certificate is a leaf (`CA:FALSE`, EKU
 * serverAuth), as rustls refuses a CA certificate used as a server's. Keys
 * are created with mode 0600 (never briefly readable by others), and a dev
 * certificate close to its expiry is renewed with the same names.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { join } from "node:path";

/** Names every generated server certificate covers. */
export const DEFAULT_SANS: readonly string[] = [
  "localhost",
  "127.0.0.1",
  "::1",
];

/** Validity of a generated CA, in days. */
export const CA_VALIDITY_DAYS = 3650;

/** Validity of a generated server certificate, in days. */
export const SERVER_VALIDITY_DAYS = 365;

/** A certificate this close to its end is renewed (dev) or warned about. */
export const RENEW_BEFORE_DAYS = 30;

const DAY_MS = 86_400_000;

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

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

const ALGORITHM = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
} as const;

/** Loads the X.509 library on first use: a plain start never needs it. */
async function x509Library() {
  // tsyringe, used by @peculiar/x509 2.x, needs the Reflect metadata API.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(crypto);
  return x509;
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // Backdated an hour so that small clock differences do not matter.
  const notBefore = new Date(Date.now() - 3_600_000);
  return { notBefore, notAfter: new Date(Date.now() + days * 86_400_000) };
}

function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f; // positive
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exportKey(key: CryptoKey): Promise<string> {
  const x509 = await x509Library();
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY") + "\n";
}

/** Creates a self-signed CA that may sign server certificates only. */
export async function generateCa(
  commonName = "tlschat dev CA",
): Promise<CertificatePair> {
  const x509 = await x509Library();
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    ...validity(CA_VALIDITY_DAYS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: cert.toString("pem") + "\n",
    key: await exportKey(keys.privateKey),
  };
}

/**
 * Issues a server certificate signed by `ca` for the given names (DNS names
 * or IP addresses), valid for `days` days.
 */
export async function issueServerCertificate(
  ca: CertificatePair,
  names: readonly string[],
  days: number = SERVER_VALIDITY_DAYS,
): Promise<CertificatePair> {
  const x509 = await x509Library();
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await crypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(ca.key),
    ALGORITHM,
    false,
    ["sign"],
  );
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${names[0] ?? "localhost"}`,
    issuer: caCert.subject,
    ...validity(days),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((name) => ({
          type: isIpAddress(name) ? "ip" as const : "dns" as const,
          value: name,
        })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return {
    cert: cert.toString("pem") + "\n",
    key: await exportKey(keys.privateKey),
  };
}

/**
 * Issues a client certificate signed by `ca` whose subject CN is `name` (an
 * account alias), for mutual TLS: a leaf with EKU clientAuth, valid for
 * `days` days.
 */
export async function issueClientCertificate(
  ca: CertificatePair,
  name: string,
  days: number = SERVER_VALIDITY_DAYS,
): Promise<CertificatePair> {
  const x509 = await x509Library();
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await crypto.subtle.importKey(
    "pkcs8",
    x509.PemConverter.decodeFirst(ca.key),
    ALGORITHM,
    false,
    ["sign"],
  );
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${name}`,
    issuer: caCert.subject,
    ...validity(days),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return {
    cert: cert.toString("pem") + "\n",
    key: await exportKey(keys.privateKey),
  };
}

/** Whether a SAN entry is an IPv4 or IPv6 address rather than a DNS name. */
export function isIpAddress(name: string): boolean {
  return name.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(name);
}

const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Checks a name for a certificate's subject alternative names: a DNS name
 * or an IPv4 or IPv6 address. Throws `TypeError` for anything else (empty,
 * spaces, stray characters).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSubjectName } from "./certs.ts";
 *
 * assert.equal(checkSubjectName("chat.example"), "chat.example");
 * assert.equal(checkSubjectName("::1"), "::1");
 * assert.throws(() => checkSubjectName(""), TypeError);
 * assert.throws(() => checkSubjectName("chat example"), TypeError);
 * ```
 */
export function checkSubjectName(name: string): string {
  const valid = isIpAddress(name) ? isValidIp(name) : DNS_NAME.test(name);
  if (!valid) {
    throw new TypeError(
      `"${name}" is not a DNS name or an IP address`,
    );
  }
  return name;
}

function isValidIp(name: string): boolean {
  if (!name.includes(":")) {
    return name.split(".").every((part) => Number(part) <= 255);
  }
  try {
    new URL(`http://[${name}]/`);
    return true;
  } catch {
    return false;
  }
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

/**
 * SHA-256 fingerprint of the first certificate in a PEM text, as colon-
 * separated uppercase hex: the form `openssl x509 -fingerprint -sha256`
 * prints.
 */
export async function fingerprintSha256(pem: string): Promise<string> {
  const match = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/
    .exec(pem);
  if (match === null) {
    throw new TypeError("Cannot fingerprint: no PEM certificate found");
  }
  const der = Uint8Array.from(
    atob(match[1]!.replace(/\s+/g, "")),
    (c) => c.charCodeAt(0),
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return Array.from(
    digest,
    (b) => b.toString(16).padStart(2, "0").toUpperCase(),
  ).join(":");
}
