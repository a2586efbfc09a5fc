/**
 * A certificate authority in pure TypeScript (`@peculiar/x509` over
 * WebCrypto, ECDSA P-256, loaded on first use), so a first run needs no
 * openssl and works inside a compiled binary: a self-signed CA that signs
 * leaves only, server certificates (`CA:FALSE`, EKU serverAuth, as rustls
 * refuses a CA certificate used as a server's) and client certificates
 * (EKU clientAuth, CN the account), and the names a certificate may hold.
 * In memory only: the files are `certs.ts`'s.
 *
 * @module
 */

/** One extension of a certificate, as `@peculiar/x509` makes it. */
type Extension = InstanceType<
  Awaited<ReturnType<typeof x509Library>>["Extension"]
>;

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

/** Validity of a generated CA, in days. */
export const CA_VALIDITY_DAYS = 3650;

/** Validity of a generated server certificate, in days. */
export const SERVER_VALIDITY_DAYS = 365;

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
  return await issueLeaf(ca, `CN=${names[0] ?? "localhost"}`, days, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(
      names.map((name) => ({
        type: isIpAddress(name) ? "ip" as const : "dns" as const,
        value: name,
      })),
    ),
  ]);
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
  return await issueLeaf(ca, `CN=${name}`, days, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ]);
}

/**
 * A leaf signed by `ca` (`CA:FALSE`, digital signature) with a new key:
 * `usage` says what it is for (its extended key usage, its names).
 */
async function issueLeaf(
  ca: CertificatePair,
  subject: string,
  days: number,
  usage: readonly Extension[],
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
    subject,
    issuer: caCert.subject,
    ...validity(days),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ...usage,
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return {
    cert: cert.toString("pem") + "\n",
    key: await exportKey(keys.privateKey),
  };
}

/** What a certificate says it is, as far as pinning it to an account goes. */
export interface CertificateRole {
  /**
   * Its subject's CN (an alias, for our client certificates); null when it
   * has none or several.
   */
  readonly commonName: string | null;
  /** Whether it may sign others: `CA:TRUE`, or key usage keyCertSign. */
  readonly authority: boolean;
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint: string;
}

/**
 * Reads the first certificate of a PEM text (other blocks, such as a key,
 * may come before or after it): its CN, whether it is a CA's, and its
 * fingerprint. Throws when the text holds no certificate.
 */
export async function certificateRole(pem: string): Promise<CertificateRole> {
  const block = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/
    .exec(pem);
  if (block === null) throw new TypeError("No PEM certificate found");
  const x509 = await x509Library();
  const cert = new x509.X509Certificate(block[0]);
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  const usages = cert.getExtension(x509.KeyUsagesExtension);
  const names = cert.subjectName.getField("CN");
  return {
    commonName: names.length === 1 ? names[0]! : null,
    authority: (constraints?.ca ?? false) ||
      ((usages?.usages ?? 0) & x509.KeyUsageFlags.keyCertSign) !== 0,
    fingerprint: await fingerprintSha256(block[0]),
  };
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
 * import { checkSubjectName } from "./cert_authority.ts";
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
