/**
 * IP addresses and prefixes (`10.0.0.0/8`, `2001:db8::/32`) for bans, caps
 * and login limits, pure: parsing into bytes, one canonical text per range
 * (so that `10.1.2.3/8` and `10.0.0.0/8` are the same ban), matching a
 * remote host, and the group a host belongs to (itself for IPv4, its /64 for
 * IPv6, where one subscriber usually holds a whole /64). IPv4-mapped IPv6
 * addresses (`::ffff:192.0.2.1`) count as the IPv4 address they carry.
 *
 * @module
 */

/** An address with a prefix length: every host whose first bits match. */
export interface AddressRange {
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** Canonical text, `address/prefix` (prefix left out for one host). */
  readonly text: string;
}

function parseV4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = parts.map((part) => /^\d{1,3}$/.test(part) ? Number(part) : -1);
  return bytes.every((b) => b >= 0 && b <= 255) ? Uint8Array.from(bytes) : null;
}

function parseV6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string | undefined) =>
    half === undefined || half === "" ? [] : half.split(":");
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const words: number[] = [];
  for (const group of [...head, ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  for (const group of head) words.push(parseInt(group, 16));
  if (halves.length === 2) { for (let i = 0; i < missing; i++) words.push(0); }
  for (const group of tail) words.push(parseInt(group, 16));
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

/**
 * The bytes of an address, IPv4-mapped IPv6 as IPv4 (however it is written:
 * `::ffff:203.0.113.9` or `::ffff:cb00:7109`); null if not one.
 */
export function parseAddress(text: string): Uint8Array | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped) return parseV4(mapped[1]!);
  if (!text.includes(":")) return parseV4(text);
  const bytes = parseV6(text);
  return bytes === null ? null : unmapped(bytes);
}

/**
 * A peer's address as the doors name and count it: canonical text, an
 * IPv4-mapped IPv6 address as the IPv4 one (`::ffff:203.0.113.9` is
 * `203.0.113.9`); text that is no address, as it came.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostOf } from "./address.ts";
 *
 * assert.equal(hostOf("::ffff:203.0.113.9"), "203.0.113.9");
 * assert.equal(hostOf("::1"), "::1");
 * ```
 */
export function hostOf(text: string): string {
  const bytes = parseAddress(text);
  return bytes === null ? text : formatBytes(bytes);
}

/** IPv4-mapped IPv6 bytes (`::ffff:a.b.c.d`) as the IPv4 address they are. */
export function unmapped(bytes: Uint8Array): Uint8Array {
  const mapped = bytes.length === 16 &&
    bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff;
  return mapped ? bytes.subarray(12) : bytes;
}

/**
 * Canonical text of address bytes: dotted IPv4, or IPv6 in hex groups with
 * the longest run of zeros as `::`.
 */
export function formatBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const words = Array.from(
    { length: 8 },
    (_, i) => (bytes[i * 2]! << 8 | bytes[i * 2 + 1]!).toString(16),
  );
  // The longest run of zero words (two or more) becomes "::".
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > best.length) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at === -1) return words.join(":");
  const head = words.slice(0, best.at).join(":");
  const tail = words.slice(best.at + best.length).join(":");
  return `${head}::${tail}`;
}

/** The range of `prefix` bits around `bytes`, in canonical form. */
function rangeOf(bytes: Uint8Array, prefix: number): AddressRange {
  const masked = Uint8Array.from(bytes, (byte, i) => {
    const bits = prefix - i * 8;
    if (bits >= 8) return byte;
    if (bits <= 0) return 0;
    return byte & (0xff << (8 - bits)) & 0xff;
  });
  const all = bytes.length * 8;
  const text = formatBytes(masked);
  return {
    bytes: masked,
    prefix,
    text: prefix === all ? text : `${text}/${prefix}`,
  };
}

/**
 * The group a remote host belongs to, as an address range: the host itself
 * for IPv4, its /64 for IPv6. Null for something that is not an address.
 */
export function addressGroup(host: string): AddressRange | null {
  const bytes = parseAddress(host);
  if (bytes === null) return null;
  return rangeOf(bytes, bytes.length === 4 ? 32 : 64);
}

/**
 * The key of the group a host counts in: its {@linkcode addressGroup}'s text
 * (the address, or its /64), or the host itself when it is not an address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupKey } from "./address.ts";
 *
 * assert.equal(groupKey("2001:db8::1"), "2001:db8::/64");
 * assert.equal(groupKey("10.1.2.3"), "10.1.2.3");
 * assert.equal(groupKey("proxy.local"), "proxy.local");
 * ```
 */
export function groupKey(host: string): string {
  return addressGroup(host)?.text ?? host;
}

/**
 * Parses `ADDRESS[/PREFIX]`; null when it is not an address range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inRange, parseAddressRange } from "./address.ts";
 *
 * const range = parseAddressRange("10.1.0.0/16")!;
 * assert.equal(inRange(range, "10.1.200.3"), true);
 * assert.equal(inRange(range, "10.2.0.1"), false);
 * assert.equal(inRange(parseAddressRange("::1")!, "::1"), true);
 * assert.equal(parseAddressRange("10.1.2.3/8")!.text, "10.0.0.0/8");
 * assert.equal(parseAddressRange("bob"), null);
 * ```
 */
export function parseAddressRange(text: string): AddressRange | null {
  const [address = "", prefixText, extra] = text.split("/");
  if (extra !== undefined) return null;
  const bytes = parseAddress(address);
  if (bytes === null) return null;
  const bits = bytes.length * 8;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? "0") || prefix < 0 || prefix > bits) {
    return null;
  }
  return rangeOf(bytes, prefix);
}

/** Whether `host` (a remote address) falls inside `range`. */
export function inRange(range: AddressRange, host: string): boolean {
  const bytes = parseAddress(host);
  if (bytes === null || bytes.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

const LOOPBACK = [parseAddressRange("127.0.0.0/8")!, parseAddressRange("::1")!];

/** Whether `host` is a loopback address (`127.0.0.0/8`, `::1`). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.some((range) => inRange(range, host));
}

/** Whether `host` falls inside one of `ranges`. */
export function inAnyRange(
  ranges: readonly AddressRange[],
  host: string,
): boolean {
  return ranges.some((range) => inRange(range, host));
}
