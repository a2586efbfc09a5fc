/**
 * What a trusted proxy says about the client behind it, parsed and checked,
 * pure: the PROXY protocol header (version 1, text, and version 2, binary,
 * as HAProxy's `send-proxy` and `send-proxy-v2` send it) that comes before
 * the client's own bytes, and the `X-Forwarded-For` header of an HTTP
 * request. A header is bounded: version 1 is at most 107 bytes, version 2
 * at most {@linkcode PROXY_V2_MAX_BYTES}; anything longer, malformed, or not
 * a PROXY header at all is refused from the bytes that show it, never
 * waited on. Whether a peer may send these at all (`--trusted-proxy`) is
 * decided by the doors.
 *
 * @module
 */

import { formatBytes, parseAddress, unmapped } from "../../address.ts";
import type { NetAddress } from "./byte_conn.ts";

/** The longest version 1 header, CRLF included (the specification's). */
export const PROXY_V1_MAX_BYTES = 107;

/**
 * The longest version 2 header taken: the 16-byte preamble and up to
 * 1,024 bytes of addresses and TLVs (HAProxy sends 28 bytes for IPv4, 52
 * for IPv6, a few hundred with every TLV it knows).
 */
export const PROXY_V2_MAX_BYTES = 16 + 1024;

/** What a complete header says. */
export interface ProxyHeader {
  /** Bytes the header takes; the client's own bytes follow. */
  readonly length: number;
  /**
   * The client's address and port; null for a connection of the proxy's
   * own (v2 `LOCAL`, v1 `UNKNOWN`: a health check), which is taken as
   * coming from the proxy itself.
   */
  readonly source: NetAddress | null;
}

/** The outcome of looking at the first bytes of a connection. */
export type ProxyParse =
  | { readonly state: "incomplete" }
  | { readonly state: "invalid"; readonly reason: string }
  | { readonly state: "complete"; readonly header: ProxyHeader };

const V1_PREFIX = new TextEncoder().encode("PROXY ");
const V2_SIGNATURE = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
const INCOMPLETE: ProxyParse = { state: "incomplete" };

/**
 * Reads a PROXY header at the start of `bytes`: complete (with what it
 * says and how long it is), incomplete (more bytes may complete it), or
 * invalid (no more bytes can make it valid).
 *
 * @example Version 1 and version 2
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseProxyHeader } from "./proxy_protocol.ts";
 *
 * const v1 = new TextEncoder().encode(
 *   "PROXY TCP4 203.0.113.7 10.0.0.11 51234 7443\r\n\x16\x03\x01",
 * );
 * assert.deepEqual(parseProxyHeader(v1), {
 *   state: "complete",
 *   header: { length: 45, source: { hostname: "203.0.113.7", port: 51234 } },
 * });
 * assert.equal(parseProxyHeader(v1.subarray(0, 20)).state, "incomplete");
 * assert.equal(parseProxyHeader(Uint8Array.of(0x16, 3, 1)).state, "invalid");
 * ```
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (startsLike(bytes, V1_PREFIX)) return parseV1(bytes);
  if (startsLike(bytes, V2_SIGNATURE)) return parseV2(bytes);
  return invalid("not a PROXY protocol header");
}

/**
 * Whether `bytes` could be the start of `prefix` or starts with it: true
 * for an empty array.
 */
function startsLike(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function invalid(reason: string): ProxyParse {
  return { state: "invalid", reason };
}

function complete(length: number, source: NetAddress | null): ProxyParse {
  return { state: "complete", header: { length, source } };
}

/** `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` or `PROXY UNKNOWN ...\r\n`. */
function parseV1(bytes: Uint8Array): ProxyParse {
  const limit = Math.min(bytes.length, PROXY_V1_MAX_BYTES);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end === -1) {
    return bytes.length < PROXY_V1_MAX_BYTES
      ? INCOMPLETE
      : invalid(`version 1 header longer than ${PROXY_V1_MAX_BYTES} bytes`);
  }
  if (bytes[end - 1] !== 0x0d) return invalid("version 1 header without CRLF");
  const line = String.fromCharCode(...bytes.subarray(0, end - 1));
  const fields = line.split(" ");
  const family = fields[1];
  if (family === "UNKNOWN") return complete(end + 1, null);
  if ((family !== "TCP4" && family !== "TCP6") || fields.length !== 6) {
    return invalid(`malformed version 1 header "${printable(line)}"`);
  }
  const [source, destination, sourcePort, destinationPort] = fields.slice(2);
  const from = checkedAddress(source!, family);
  const ports = [sourcePort!, destinationPort!].map(port);
  if (
    from === null || checkedAddress(destination!, family) === null ||
    ports.includes(null)
  ) {
    return invalid(`malformed version 1 header "${printable(line)}"`);
  }
  return complete(end + 1, { hostname: from, port: ports[0]! });
}

/**
 * The address a version 1 field gives, as {@linkcode hostText} writes it;
 * null when it is not one of the family's (`TCP4`: dotted IPv4, `TCP6`:
 * IPv6 text, IPv4-mapped included).
 */
function checkedAddress(text: string, family: "TCP4" | "TCP6"): string | null {
  const bytes = parseAddress(text);
  if (bytes === null || text.includes(":") !== (family === "TCP6")) return null;
  return hostText(bytes);
}

/** A port in decimal, 0 to 65535, without leading zeros; null otherwise. */
function port(text: string): number | null {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return null;
  const value = Number(text);
  return value <= 65_535 ? value : null;
}

/** The binary header: signature, version and command, family, length. */
function parseV2(bytes: Uint8Array): ProxyParse {
  if (bytes.length < 16) return INCOMPLETE;
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) {
    return invalid(`version ${versionCommand >> 4} of the binary header`);
  }
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`unknown command ${command}`);
  const familyTransport = bytes[13]!;
  const length = bytes[14]! << 8 | bytes[15]!;
  const total = 16 + length;
  if (total > PROXY_V2_MAX_BYTES) {
    return invalid(
      `version 2 header of ${total} bytes, more than ${PROXY_V2_MAX_BYTES}`,
    );
  }
  if (bytes.length < total) return INCOMPLETE;
  // LOCAL: the proxy's own connection; whatever follows is ignored.
  if (command === 0) return complete(total, null);
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  // UNSPEC or UNIX: no IP address to take.
  if (family === 0 || family === 3) return complete(total, null);
  if (family > 3) return invalid(`unknown address family ${family}`);
  if (transport !== 1) return invalid("not a TCP (stream) connection");
  const size = family === 1 ? 4 : 16;
  if (length < size * 2 + 4) {
    return invalid(
      `addresses need ${size * 2 + 4} bytes, the header has ${length}`,
    );
  }
  const at = 16 + size * 2;
  return complete(total, {
    hostname: hostText(bytes.subarray(16, 16 + size)),
    port: bytes[at]! << 8 | bytes[at + 1]!,
  });
}

/**
 * Address bytes as a host: dotted IPv4 (an IPv4-mapped IPv6 address too,
 * so that it counts as the IPv4 client it is), or canonical IPv6.
 */
function hostText(bytes: Uint8Array): string {
  return formatBytes(unmapped(bytes));
}

/** A header line made safe to quote in a log line. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 120);
}

/**
 * The client an `X-Forwarded-For` header names, for a request that came
 * from a trusted proxy: the rightmost address that is not itself a trusted
 * proxy (each proxy appends the address it received the request from, so
 * the entries to the left of that one come from the client and prove
 * nothing), or the leftmost when all are trusted. Null when there is no
 * header, or any entry is not a bare IP address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardedClient } from "./proxy_protocol.ts";
 *
 * const trusted = (host: string) => host === "10.0.0.5";
 * assert.equal(forwardedClient("1.2.3.4, 203.0.113.7", trusted), "203.0.113.7");
 * assert.equal(forwardedClient("203.0.113.7, 10.0.0.5", trusted), "203.0.113.7");
 * assert.equal(forwardedClient(undefined, trusted), null);
 * assert.equal(forwardedClient("unknown", trusted), null);
 * // One address, one text: IPv4-mapped IPv6 is the IPv4 client it is.
 * assert.equal(forwardedClient("::ffff:cb00:7109", trusted), "203.0.113.9");
 * assert.equal(forwardedClient("2001:DB8::0:1", trusted), "2001:db8::1");
 * ```
 */
export function forwardedClient(
  header: string | readonly string[] | undefined,
  trusted: (host: string) => boolean,
): string | null {
  if (header === undefined) return null;
  const entries = (typeof header === "string" ? header : header.join(","))
    .split(",").map((entry) => entry.trim());
  const hosts: string[] = [];
  for (const entry of entries) {
    const bytes = parseAddress(entry);
    if (bytes === null) return null;
    hosts.push(formatBytes(bytes)); // canonical: one address, one text
  }
  for (let i = hosts.length - 1; i >= 0; i--) {
    if (!trusted(hosts[i]!)) return hosts[i]!;
  }
  return hosts[0]!;
}
