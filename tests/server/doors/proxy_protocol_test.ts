/**
 * Tests of what a trusted proxy says about its client, without sockets:
 * PROXY protocol headers (version 1 and 2: every command and family,
 * truncated, oversize, malformed, garbage) and `X-Forwarded-For`.
 */

import assert from "node:assert/strict";
import {
  forwardedClient,
  parseProxyHeader,
  PROXY_V1_MAX_BYTES,
  PROXY_V2_MAX_BYTES,
} from "../../../lib/server/doors/proxy_protocol.ts";

const encoder = new TextEncoder();
const text = (s: string) => encoder.encode(s);
const TLS_HELLO = Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xfc, 0x01);

const SIGNATURE = [
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
];

/** A version 2 header: command, family and transport, then `body`. */
function v2(
  command: number,
  familyTransport: number,
  body: number[],
  declared = body.length,
): Uint8Array {
  return Uint8Array.of(
    ...SIGNATURE,
    0x20 | command,
    familyTransport,
    declared >> 8,
    declared & 0xff,
    ...body,
  );
}

const IPV4_BODY = [203, 0, 113, 7, 10, 0, 0, 11, 0xc8, 0x22, 0x1d, 0x13];
const IPV6_BODY = [
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5],
  ...[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11],
  0x04,
  0xd2,
  0x1d,
  0x13,
];

Deno.test("parseProxyHeader() reads version 1: TCP4, TCP6 and UNKNOWN", () => {
  const cases: [string, { hostname: string; port: number } | null][] = [
    ["PROXY TCP4 203.0.113.7 10.0.0.11 51234 7443\r\n", {
      hostname: "203.0.113.7",
      port: 51234,
    }],
    ["PROXY TCP6 2001:DB8:1:2::5 2001:db8::11 1234 7443\r\n", {
      hostname: "2001:db8:1:2::5",
      port: 1234,
    }],
    // An IPv4 client of an IPv6 listener counts as the IPv4 client it is.
    ["PROXY TCP6 ::ffff:198.51.100.9 ::ffff:10.0.0.11 0 7443\r\n", {
      hostname: "198.51.100.9",
      port: 0,
    }],
    ["PROXY UNKNOWN\r\n", null],
    ["PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", null],
  ];
  for (const [header, source] of cases) {
    const bytes = encoder.encode(header + "\x16\x03\x01");
    assert.deepEqual(
      parseProxyHeader(bytes),
      { state: "complete", header: { length: header.length, source } },
      header,
    );
  }
  // The longest header there can be is accepted.
  const v6 = `${"ffff:".repeat(7)}ffff`;
  const longest = `PROXY UNKNOWN ${v6} ${v6} 65535 65535\r\n`;
  assert.equal(longest.length, PROXY_V1_MAX_BYTES);
  assert.equal(parseProxyHeader(text(longest)).state, "complete");
  const tcp6 = text(`PROXY TCP6 ${v6} ${v6} 65535 65535\r\n`);
  assert.equal(parseProxyHeader(tcp6).state, "complete");
});

Deno.test("parseProxyHeader() reads version 2: PROXY over IPv4 and IPv6, LOCAL, UNSPEC and UNIX", () => {
  assert.deepEqual(parseProxyHeader(v2(1, 0x11, IPV4_BODY)), {
    state: "complete",
    header: {
      length: 28,
      source: { hostname: "203.0.113.7", port: 51234 },
    },
  });
  assert.deepEqual(parseProxyHeader(v2(1, 0x21, IPV6_BODY)), {
    state: "complete",
    header: {
      length: 52,
      source: { hostname: "2001:db8:1:2::5", port: 1234 },
    },
  });
  // TLVs after the addresses are skipped with them.
  const tlv = [0x04, 0x00, 0x03, 1, 2, 3];
  const withTlv = v2(1, 0x11, [...IPV4_BODY, ...tlv]);
  assert.deepEqual(parseProxyHeader(withTlv), {
    state: "complete",
    header: {
      length: 34,
      source: { hostname: "203.0.113.7", port: 51234 },
    },
  });
  // IPv4-mapped IPv6 counts as IPv4.
  const mapped = [
    ...[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 9],
    ...IPV6_BODY.slice(16),
  ];
  const parsedMapped = parseProxyHeader(v2(1, 0x21, mapped));
  assert.equal(
    parsedMapped.state === "complete" && parsedMapped.header.source?.hostname,
    "198.51.100.9",
  );
  // The proxy's own connections (a health check): no client named.
  for (
    const header of [
      v2(0, 0x00, []),
      v2(0, 0x11, IPV4_BODY),
      v2(1, 0x00, []),
      v2(1, 0x31, new Array(216).fill(0)),
    ]
  ) {
    assert.deepEqual(parseProxyHeader(header), {
      state: "complete",
      header: { length: header.length, source: null },
    });
  }
});

Deno.test("parseProxyHeader() waits for a header cut short, whatever byte it ends at", () => {
  for (
    const header of [
      text("PROXY TCP4 203.0.113.7 10.0.0.11 51234 7443\r\n"),
      v2(1, 0x11, IPV4_BODY),
      v2(1, 0x21, IPV6_BODY),
    ]
  ) {
    for (let n = 0; n < header.length; n++) {
      assert.equal(
        parseProxyHeader(header.subarray(0, n)).state,
        "incomplete",
        `${n} of ${header.length} bytes`,
      );
    }
  }
});

Deno.test("parseProxyHeader() refuses oversize headers without waiting for more", () => {
  // No line end within 107 bytes.
  const endless = text(`PROXY TCP4 ${"1".repeat(200)}`);
  assert.deepEqual(parseProxyHeader(endless.subarray(0, 107)), {
    state: "invalid",
    reason: "version 1 header longer than 107 bytes",
  });
  // A version 2 length over the maximum, from the first 16 bytes.
  const big = v2(1, 0x11, [], PROXY_V2_MAX_BYTES);
  assert.equal(big.length, 16);
  assert.match(
    (parseProxyHeader(big) as { reason: string }).reason,
    /^version 2 header of 1056 bytes, more than 1040$/,
  );
  // The largest allowed is taken.
  const largest = v2(1, 0x11, [
    ...IPV4_BODY,
    ...new Array(PROXY_V2_MAX_BYTES - 16 - 12).fill(0),
  ]);
  assert.equal(parseProxyHeader(largest).state, "complete");
});

Deno.test("parseProxyHeader() refuses garbage and malformed headers", () => {
  const invalid: [Uint8Array, RegExp][] = [
    [TLS_HELLO, /^not a PROXY protocol header$/],
    [text("GET / HTTP/1.1\r\n"), /^not a PROXY protocol header$/],
    [text("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), /not a PROXY/],
    [text("PROXY\r\n"), /not a PROXY/], // no space after PROXY
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), /without CRLF/],
    [text("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), /malformed/],
    [text("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n"), /malformed/],
    [text("PROXY TCP6 1.2.3.4 2001:db8::1 1 2\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), /malformed/],
    [text("PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n"), /malformed/],
    [text("PROXY TCP4 \x1b[31m 5.6.7.8 1 2\r\n"), /malformed .*\?\[31m/],
    [
      Uint8Array.of(...SIGNATURE, 0x11, 0x11, 0, 12, ...IPV4_BODY),
      /^version 1 of the binary header$/,
    ],
    [v2(2, 0x11, IPV4_BODY), /^unknown command 2$/],
    [v2(1, 0x41, IPV4_BODY), /^unknown address family 4$/],
    [v2(1, 0x12, IPV4_BODY), /^not a TCP \(stream\) connection$/],
    [v2(1, 0x11, IPV4_BODY.slice(0, 8)), /addresses need 12 bytes/],
    [v2(1, 0x21, IPV4_BODY), /addresses need 36 bytes/],
  ];
  for (const [bytes, reason] of invalid) {
    const parsed = parseProxyHeader(bytes);
    assert.equal(parsed.state, "invalid", JSON.stringify([...bytes]));
    assert.match((parsed as { reason: string }).reason, reason);
  }
  // Garbage is refused from its first wrong byte.
  assert.equal(parseProxyHeader(Uint8Array.of(0x16)).state, "invalid");
  assert.equal(parseProxyHeader(text("PROXX")).state, "invalid");
  assert.equal(
    parseProxyHeader(Uint8Array.of(0x0d, 0x0a, 0x0e)).state,
    "invalid",
  );
});

Deno.test("forwardedClient() takes the rightmost address no trusted proxy added", () => {
  const trusted = (host: string) => host === "10.0.0.5" || host === "10.0.0.6";
  const cases: [string | string[] | undefined, string | null][] = [
    ["203.0.113.7", "203.0.113.7"],
    // What the client sent itself is to the left: it proves nothing.
    ["127.0.0.1, 203.0.113.7", "203.0.113.7"],
    // Through two trusted proxies.
    ["203.0.113.7, 10.0.0.6", "203.0.113.7"],
    [["198.51.100.1", "203.0.113.7"], "203.0.113.7"],
    ["2001:DB8::7", "2001:db8::7"],
    // Only proxies: the first of them is the client (a proxy's own request).
    ["10.0.0.6, 10.0.0.5", "10.0.0.6"],
    [undefined, null],
    ["", null],
    ["unknown", null],
    ["203.0.113.7:51234", null],
    ["[2001:db8::7]", null],
    ["203.0.113.7,, 10.0.0.6", null],
    ["not-an-ip, 203.0.113.7", null],
  ];
  for (const [header, client] of cases) {
    assert.equal(forwardedClient(header, trusted), client, String(header));
  }
});

Deno.test("forwardedClient() names an IPv4-mapped IPv6 client, however written, as the IPv4 address a ban or a cap counts", () => {
  const trusted = (host: string) => host === "127.0.0.1";
  for (const written of ["::ffff:203.0.113.9", "::ffff:cb00:7109"]) {
    assert.equal(forwardedClient(written, trusted), "203.0.113.9", written);
  }
  // Canonical text for IPv6 too: one address, one key.
  assert.equal(
    forwardedClient("2001:DB8:0:0::1", trusted),
    forwardedClient("2001:db8::1", trusted),
  );
});
