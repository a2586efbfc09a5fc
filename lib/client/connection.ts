/**
 * The client's side of a connection: connect with `Deno.connectTls`, trusting
 * the CA file (or the system roots), complete the handshake at once so that
 * certificate problems surface here, and turn every failure into a
 * {@linkcode ClientError} whose message says what to do. Then read server
 * lines (bounded) and send lines, one write at a time, paced to the rate the
 * server announces so that a client never gets itself throttled or kicked.
 *
 * @module
 */

import { LineFramer } from "../framing.ts";
import { pacingBucket, type TokenBucket } from "../flood.ts";
import { writeAll } from "../io.ts";
import type { HelloParams } from "../server_lines.ts";
import { formatServer } from "./reconnect.ts";

/** Longest server line the client accepts. */
export const MAX_SERVER_LINE_BYTES = 1 << 20;

/** An error shown to the user as it is: it says what went wrong and what to do. */
export class ClientError extends Error {
  /** Creates an error with a user-facing message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientError";
  }
}

/** Where a CA to trust comes from, and the CA itself. */
export interface TrustedCa {
  /** The file it was read from (named in errors), if any. */
  readonly file: string | null;
  /** PEM certificate(s); null means the system roots. */
  readonly pem: string | null;
}

/** Options of {@linkcode connectToServer}. */
export interface ConnectOptions {
  readonly hostname: string;
  readonly port: number;
  /** What to trust; see {@linkcode loadCa}. */
  readonly ca: TrustedCa;
  /** A client certificate and key (PEM) to present, for mutual TLS. */
  readonly identity?: { readonly cert: string; readonly key: string } | null;
  /** @default {10000} */
  readonly timeoutMs?: number;
}

/**
 * Connects and completes the TLS handshake. Throws {@linkcode ClientError}
 * for a refused connection, an unknown host, an untrusted certificate, a
 * hostname mismatch or a timeout.
 */
export async function connectToServer(
  options: ConnectOptions,
): Promise<ServerConnection> {
  const { hostname, port, ca } = options;
  const where = formatServer({ hostname, port });
  const timeoutMs = options.timeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(
        new ClientError(
          `Cannot connect to ${where}: no answer within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
  });
  const connecting = Deno.connectTls({
    hostname,
    port,
    ...(ca.pem ? { caCerts: [ca.pem] } : {}),
    ...(options.identity ?? {}),
  });
  // A connection that completes after the timeout is closed, not leaked.
  connecting.then((c) => timedOut && c.close(), () => {});
  let conn: Deno.TlsConn | undefined;
  try {
    conn = await Promise.race([connecting, timeout]);
    await Promise.race([conn.handshake(), timeout]);
  } catch (error) {
    conn?.close();
    if (error instanceof ClientError) throw error;
    throw explainConnectError(error, where, hostname, ca.file);
  } finally {
    clearTimeout(timer);
  }
  return new ServerConnection(conn, Boolean(options.identity));
}

/**
 * Reads the CA to trust from `caFile`. A missing file that was not asked for
 * explicitly means the system roots; a file that is not a PEM certificate is
 * an error.
 */
export async function loadCa(
  options: { readonly caFile: string | null; readonly caExplicit: boolean },
): Promise<TrustedCa> {
  if (options.caFile === null) return { file: null, pem: null };
  let pem: string;
  try {
    pem = await Deno.readTextFile(options.caFile);
  } catch (error) {
    const missing = error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotCapable;
    if (missing && !options.caExplicit) return { file: null, pem: null };
    throw new ClientError(
      `Cannot read CA file "${options.caFile}": ${(error as Error).message}` +
        (error instanceof Deno.errors.NotCapable
          ? `. Run with --allow-read=${options.caFile}`
          : ""),
      { cause: error },
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ClientError(
      `Cannot use CA file "${options.caFile}": it holds no PEM certificate`,
    );
  }
  return { file: options.caFile, pem };
}

/** Turns a connect or handshake failure into an actionable message. */
function explainConnectError(
  error: unknown,
  where: string,
  hostname: string,
  caFile: string | null,
): ClientError {
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes("KeyMismatch")) {
    return new ClientError(
      "Cannot use --cert and --key: the key is not the certificate's",
      { cause: error },
    );
  }
  return new ClientError(
    reachProblem(error, message, where, hostname) ??
      certificateProblem(message, hostname, caFile) ??
      `Cannot connect to ${where}: ${message}`,
    { cause: error },
  );
}

/** Why the server could not be reached at all, or null when it was. */
function reachProblem(
  error: unknown,
  message: string,
  where: string,
  hostname: string,
): string | null {
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `Cannot connect to ${where}: connection refused. Is the server running, on this host and port?`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `Cannot connect to ${where}: no network permission. Run with --allow-net=${where}`;
  }
  if (
    /lookup address|Name or service not known|nodename nor servname/.test(
      message,
    )
  ) {
    return `Cannot connect to ${where}: cannot resolve the host name "${hostname}"`;
  }
  return null;
}

/**
 * Why the server's certificate was not trusted, and what to do about it;
 * null when the failure was not about the certificate.
 */
function certificateProblem(
  message: string,
  hostname: string,
  caFile: string | null,
): string | null {
  // BadSignature: a CA of the issuer's name, but another key (every dev CA
  // is "tlschat dev CA": another server's, or one made anew with --new-ca).
  if (/UnknownIssuer|BadSignature/.test(message)) {
    return caFile === null
      ? `Cannot verify the server's certificate: no CA the system trusts signed it. ` +
        `If the server uses its own CA, get its CA file (the server prints its path and SHA-256 fingerprint at start, by default certs/ca.pem) and pass it with --ca FILE`
      : `Cannot verify the server's certificate: it is not signed by the CA in "${caFile}". ` +
        `Get the server's CA file (the server prints its path and SHA-256 fingerprint at start, by default certs/ca.pem on the server host), compare the fingerprint, and pass it with --ca FILE`;
  }
  if (/not valid for name|NotValidForName/.test(message)) {
    const names = [
      ...message.matchAll(/DnsName\("([^"]+)"\)|IpAddress\(([^)]+)\)/g),
    ]
      .map((m) => m[1] ?? m[2]);
    const valid = names.length > 0
      ? ` (it is valid for ${names.join(", ")})`
      : "";
    return `Cannot verify the server's certificate: it is not valid for "${hostname}"${valid}. ` +
      `Connect with a name it is valid for, or have the server issue one with: deno task certs --san ${hostname}`;
  }
  if (message.includes("invalid peer certificate")) {
    return `Cannot verify the server's certificate: ${message}`;
  }
  return null;
}

/**
 * What a server that ended the connection before its greeting is, from
 * the read's error (`readError`): one that wants a client certificate says
 * so with a TLS alert once the handshake is done; one that refuses the
 * certificate presented (`presented`) just closes the connection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noGreeting } from "./connection.ts";
 *
 * assert.match(
 *   noGreeting("received fatal alert: CertificateRequired"),
 *   /client certificate/,
 * );
 * assert.match(noGreeting(null, true), /may not accept the certificate/);
 * assert.equal(noGreeting(null), "is not a tlschat server (no greeting)");
 * ```
 */
export function noGreeting(
  readError: string | null,
  presented = false,
): string {
  if (readError?.includes("CertificateRequired")) {
    return "asks for a client certificate: give it with --cert FILE --key FILE";
  }
  if (presented) {
    return "ended the connection before its greeting: it may not accept the certificate of --cert " +
      "(signed by another CA than its --client-ca, expired, or not made for clients)";
  }
  return "is not a tlschat server (no greeting)";
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A connected, handshaken line connection to a chat server. */
export class ServerConnection {
  readonly conn: Deno.TlsConn;
  #framer = new LineFramer(MAX_SERVER_LINE_BYTES);
  #buffer = new Uint8Array(16 * 1024);
  #lines: string[] = [];
  #sending: Promise<void> = Promise.resolve();
  #pace: TokenBucket | null = null;
  #holdUntilMs = 0;
  #closed = false;
  #readError: string | null = null;
  /** Whether this client presented a certificate (mutual TLS). */
  readonly presented: boolean;

  /** Wraps a handshaken TLS connection; `presented`: with a certificate. */
  constructor(conn: Deno.TlsConn, presented = false) {
    this.conn = conn;
    this.presented = presented;
  }

  /**
   * From now on, sends no faster than the server's own flood limits from
   * its greeting, with a margin (one token of the burst, a tenth of the
   * rate) for delays that differ between two lines on their way. A rate of
   * 0 (flood control off) sends at once.
   */
  paceTo(params: Partial<HelloParams>): void {
    const { rate = 0, burst = 1 } = params;
    this.#pace = rate > 0 ? pacingBucket(rate, burst, Date.now) : null;
  }

  /**
   * Holds back lines not yet sent for one token's time and more: the server
   * said it throttled us (`ERR flood`), so our pace and its clock disagree.
   */
  backOff(): void {
    const rate = this.#pace?.ratePerSecond ?? 0;
    if (rate > 0) {
      this.#holdUntilMs = Date.now() + this.#pace!.burst / rate * 1000;
    }
  }

  /**
   * Reads the next server line, or null when the server closed the
   * connection (or it was reset). Over-long lines are skipped.
   */
  async readLine(): Promise<string | null> {
    while (this.#lines.length === 0) {
      let n: number | null;
      try {
        n = await this.conn.read(this.#buffer);
      } catch (error) {
        // A reset, a TLS alert or a local close: the connection is over.
        this.#readError = error instanceof Error ? error.message : null;
        n = null;
      }
      if (n === null) return null;
      for (const line of this.#framer.push(this.#buffer.subarray(0, n))) {
        if (typeof line !== "symbol") this.#lines.push(decoder.decode(line));
      }
    }
    return this.#lines.shift()!;
  }

  /** Why the connection ended when a read failed (a TLS alert); else null. */
  get readError(): string | null {
    return this.#readError;
  }

  /**
   * Sends one line (LF appended) or raw bytes. Sends are written in call
   * order, never concurrently, each one when the pace allows.
   */
  send(line: string | Uint8Array): Promise<void> {
    const data = typeof line === "string" ? encoder.encode(line + "\n") : line;
    this.#sending = this.#sending.then(async () => {
      await this.#waitForTurn();
      await writeAll(this.conn, data);
    });
    return this.#sending;
  }

  async #waitForTurn(): Promise<void> {
    const held = this.#holdUntilMs - Date.now();
    if (held > 0) await new Promise((resolve) => setTimeout(resolve, held));
    const waitMs = this.#pace?.take() ?? 0;
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the peer's reset.
    }
  }
}
