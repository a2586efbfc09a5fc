/**
 * Tests of both doors behind a trusted load balancer, over real TLS on
 * loopback, with PROXY protocol headers and `X-Forwarded-For` written by
 * hand (`tests/server/doors/haproxy_test.ts` puts a real HAProxy in front): every
 * rule (caps per address group, bans, the login limiter, logs, the health
 * check) sees the client the proxy names, a trusted proxy without a valid
 * header is refused, and nobody else's header is read. Node engine only:
 * the deno engine cannot read a header before TLS (the config refuses it).
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import * as tls from "node:tls";
import {
  generateCa,
  issueClientCertificate,
} from "../../../lib/cert_authority.ts";
import { parseAddressRange } from "../../../lib/address.ts";
import {
  clientFrame,
  connectTls,
  serverMessages,
  startServer,
  testCertificates,
  TestClient,
  upgradeByHand,
} from "../../_helpers.ts";

const encoder = new TextEncoder();

/** A version 1 header naming `host:port` as the client. */
function v1(host: string, port = 5555): string {
  const family = host.includes(":") ? "TCP6" : "TCP4";
  const to = family === "TCP6" ? "::1" : "127.0.0.1";
  return `PROXY ${family} ${host} ${to} ${port} 7443\r\n`;
}

/** A version 2 header naming the IPv6 `host` (8 groups) as the client. */
function v2(groups: number[], port = 5555): Uint8Array {
  const address = groups.flatMap((g) => [g >> 8, g & 0xff]);
  return Uint8Array.of(
    ...[0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a],
    0x21, // version 2, PROXY
    0x21, // IPv6, TCP
    0,
    36,
    ...address,
    ...new Array(15).fill(0),
    1, // ::1
    port >> 8,
    port & 0xff,
    0x1d,
    0x13,
  );
}

/** Joins through the "proxy" as a client at `header`'s address. */
async function joinVia(
  port: number,
  header: string | Uint8Array,
  alias: string,
): Promise<TestClient> {
  const client = await TestClient.viaProxy(port, header);
  await client.expect(/^HELLO /);
  await client.send(alias);
  await client.expect(new RegExp(`^WELCOME ${alias} `));
  return client;
}

/** A WebSocket to the web door, spoken by hand over `conn`. */
async function webJoin(
  conn: Deno.TlsConn,
  port: number,
  headers: Record<string, string>,
  alias: string,
): Promise<{ first: string; rest: AsyncGenerator<string> }> {
  const upgrade = await upgradeByHand(conn, port, headers);
  assert.equal(upgrade.status, "HTTP/1.1 101 Switching Protocols");
  const messages = serverMessages(conn, upgrade.rest);
  const first = (await messages.next()).value ?? "";
  if (first.startsWith("HELLO")) await conn.write(clientFrame(alias));
  return { first, rest: messages };
}

Deno.test("[node] a trusted proxy's PROXY header names the client: logs, caps per /64, bans", async () => {
  await using s = await startServer("node", [
    "--trusted-proxy",
    "127.0.0.1",
    "--max-per-ip",
    "2",
  ]);
  using alice = await joinVia(s.port, v1("2001:db8:1:2::5", 40001), "alice");
  await s.logs.waitFor(
    /INFO join alias=alice addr=\[2001:db8:1:2::5\]:40001 online=1/,
  );
  // Version 2, another address of the same /64: the same subscriber.
  using _bob = await joinVia(
    s.port,
    v2([0x2001, 0xdb8, 1, 2, 0, 0, 0, 6]),
    "bob",
  );
  using third = await TestClient.viaProxy(
    s.port,
    v1("2001:db8:1:2:ffff::7"),
  );
  assert.deepEqual(await third.readToEnd(), [
    "BYE ip-limit Too many connections from 2001:db8:1:2::/64: at most 2",
  ]);
  await s.logs.waitFor(
    /INFO refused addr=\[2001:db8:1:2:ffff::7\]:5555 reason=ip-limit/,
  );
  // Another /64 through the same proxy is someone else.
  using _carol = await joinVia(s.port, v1("2001:db8:1:3::1"), "carol");
  // A ban names the real client, not the proxy.
  s.server.gate.moderation.add(
    "ban",
    { range: parseAddressRange("198.51.100.0/24")! },
    { durationMs: null, by: "op", reason: "spam" },
  );
  using banned = await TestClient.viaProxy(s.port, v1("198.51.100.9"));
  assert.deepEqual(await banned.readToEnd(), [
    "BYE banned Banned by op until lifted: spam",
  ]);
  using _dave = await joinVia(s.port, v1("203.0.113.7"), "dave");
  await alice.send("/who");
  assert.equal(await alice.expect(/^WHO /), "WHO 4 alice bob carol dave");
});

Deno.test("[node] the login limiter counts the client a trusted proxy names", async () => {
  await using s = await startServer("node", [
    "--trusted-proxy",
    "127.0.0.1",
    "--login-attempts",
    "1",
  ]);
  await s.server.gate.accounts.add("bob", "bob's password");
  await s.server.gate.accounts.add("carol", "carol's password");
  const guess = async (host: string, alias: string, password: string) => {
    using client = await TestClient.viaProxy(s.port, v1(host));
    await client.expect(/^HELLO /);
    await client.send(alias);
    await client.expect(/^PASSWORD /);
    await client.send(`/pass ${password}`);
    return await client.readLine();
  };
  assert.match(
    await guess("203.0.113.7", "bob", "wrong") ?? "",
    /^ERR login-failed/,
  );
  assert.match(
    await guess("203.0.113.7", "carol", "wrong") ?? "",
    /^BYE too-many-attempts Too many failed logins: try again in \d+ s$/,
  );
  // Another client behind the same proxy is not held back by that one.
  assert.match(
    await guess("203.0.113.8", "carol", "wrong") ?? "",
    /^ERR login-failed/,
  );
});

Deno.test("[node] a trusted proxy's connection without a valid PROXY header is refused", async () => {
  await using s = await startServer("node", [
    "--trusted-proxy",
    "127.0.0.0/8",
    "--handshake-timeout",
    "0.5",
  ]);
  // TLS at once, garbage, an oversize line: refused as soon as it shows.
  await assert.rejects(connectTls(s.port));
  await s.logs.waitFor(
    /WARN refused addr=127\.0\.0\.1:\d+ reason=proxy-header error="Invalid PROXY protocol header: not a PROXY protocol header"/,
  );
  for (
    const [bytes, error] of [
      ["PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", /malformed version 1/],
      [`PROXY TCP4 ${"9".repeat(120)}`, /longer than 107 bytes/],
      ["GET / HTTP/1.1\r\n\r\n", /not a PROXY/],
    ] as const
  ) {
    using raw = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await raw.write(encoder.encode(bytes));
    // Closed without a byte.
    assert.equal(await raw.read(new Uint8Array(64)).catch(() => null), null);
    // This connection's line (by its port): "not a PROXY" was logged for
    // the first one already, which a wait for any line took at once.
    const { port } = raw.localAddr as Deno.NetAddr;
    await s.logs.waitFor(
      new RegExp(
        `addr=127\\.0\\.0\\.1:${port} reason=proxy-header .*${error.source}`,
      ),
    );
  }
  // A header that never ends is cut off by the handshake deadline.
  using slow = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await slow.write(encoder.encode("PROXY TCP4 203.0.113.7"));
  assert.equal(await slow.read(new Uint8Array(64)).catch(() => null), null);
  await s.logs.waitFor(
    /DEBUG handshake-failed addr=127\.0\.0\.1:\d+ error=timeout/,
  );
  assert.equal(s.server.connections, 0);
  // The proxy's own connection (a health check, LOCAL) is the proxy's.
  using _local = await joinVia(s.port, "PROXY UNKNOWN\r\n", "checker");
  await s.logs.waitFor(/INFO join alias=checker addr=127\.0\.0\.1:\d+ /);
});

/**
 * A line connection through the "proxy" with `node:tls`, which can present
 * a client certificate over a socket it did not open (`Deno.startTls`
 * cannot): resolves to the first line, or the handshake's error.
 */
async function firstLineVia(
  port: number,
  header: string,
  identity?: { cert: string; key: string },
): Promise<string> {
  const { ca } = await testCertificates();
  const raw = net.connect({ host: "127.0.0.1", port });
  await once(raw, "connect");
  raw.write(header);
  const socket = tls.connect({
    socket: raw,
    servername: "localhost",
    ca: ca.cert,
    ...identity,
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let text = "";
      socket.on("data", (chunk) => {
        text += String(chunk);
        if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
      });
      socket.on("error", reject);
      socket.on("close", () => reject(new Error("closed")));
    });
    return line;
  } catch (error) {
    return (error as Error).message;
  } finally {
    socket.destroy();
    raw.destroy();
  }
}

Deno.test("[node] client certificates are verified behind a trusted proxy", async () => {
  const { ca } = await testCertificates();
  await using s = await startServer("node", ["--trusted-proxy", "127.0.0.1"], {
    clientCa: { ca: ca.cert, require: true },
  });
  await s.server.gate.accounts.add("alice", "alice's password");
  const alice = await issueClientCertificate(ca, "alice");
  assert.match(
    await firstLineVia(s.port, v1("203.0.113.7"), alice),
    /^HELLO /,
  );
  // Without one, or with one from another CA: no handshake.
  const stranger = await issueClientCertificate(
    await generateCa("another CA"),
    "alice",
  );
  for (const identity of [undefined, stranger]) {
    assert.doesNotMatch(
      await firstLineVia(s.port, v1("203.0.113.7"), identity),
      /^HELLO/,
    );
  }
  await s.logs.waitFor(/DEBUG handshake-failed addr=203\.0\.113\.7:5555 /);
});

Deno.test("[node] a PROXY header from a peer that is not trusted is not read", async () => {
  await using s = await startServer("node", ["--trusted-proxy", "192.0.2.1"]);
  // The header goes to TLS as it is, and the handshake fails.
  await assert.rejects(connectTls(s.port, v1("203.0.113.7")));
  await s.logs.waitFor(/DEBUG handshake-failed addr=127\.0\.0\.1:\d+/);
  assert.doesNotMatch(s.logs.toString(), /203\.0\.113\.7/);
  using _direct = await TestClient.join(s.port, "direct");
  await s.logs.waitFor(/INFO join alias=direct addr=127\.0\.0\.1:\d+ /);
});

Deno.test("[node] the web door takes a trusted proxy's PROXY header, counted with the TLS door", async () => {
  await using s = await startServer("node", [
    "--trusted-proxy",
    "127.0.0.1",
    "--max-per-ip",
    "2",
  ], { web: {} });
  using _tls = await joinVia(s.port, v1("203.0.113.7", 40001), "tessa");
  using conn = await connectTls(s.webPort, v1("203.0.113.7", 40002));
  const web = await webJoin(conn, s.webPort, {}, "webby");
  assert.match(web.first, /^HELLO /);
  assert.match((await web.rest.next()).value ?? "", /^WELCOME webby 2 /);
  await s.logs.waitFor(/INFO join alias=webby addr=203\.0\.113\.7:40002 /);
  // The third connection of that client, whatever the door, is refused.
  using third = await connectTls(s.webPort, v1("203.0.113.7", 40003));
  const refused = await webJoin(third, s.webPort, {}, "third");
  assert.equal(
    refused.first,
    "BYE ip-limit Too many connections from 203.0.113.7: at most 2",
  );
});

Deno.test("[node] the web door takes X-Forwarded-For from a trusted proxy that terminates TLS", async () => {
  await using s = await startServer("node", [
    "--trusted-proxy",
    "127.0.0.1",
    "--max-per-ip",
    "1",
  ], { web: {} });
  using conn = await connectTls(s.webPort);
  const web = await webJoin(conn, s.webPort, {
    "x-forwarded-for": "127.0.0.1, 203.0.113.7",
  }, "webby");
  assert.match(web.first, /^HELLO /);
  assert.match((await web.rest.next()).value ?? "", /^WELCOME webby 1 /);
  await s.logs.waitFor(/INFO join alias=webby addr=203\.0\.113\.7 /);
  // The same client again: over its cap (the proxy itself is not counted).
  using again = await connectTls(s.webPort);
  const refused = await webJoin(again, s.webPort, {
    "x-forwarded-for": "203.0.113.7",
  }, "again");
  assert.equal(
    refused.first,
    "BYE ip-limit Too many connections from 203.0.113.7: at most 1",
  );
  // A banned client is refused before HELLO.
  s.server.gate.moderation.add(
    "ban",
    { range: parseAddressRange("198.51.100.9")! },
    { durationMs: null, by: "op", reason: "" },
  );
  using banned = await connectTls(s.webPort);
  const ban = await webJoin(banned, s.webPort, {
    "x-forwarded-for": "198.51.100.9",
  }, "banned");
  assert.equal(ban.first, "BYE banned Banned by op until lifted");
  // No header, or one that names nobody: refused.
  const cases: Record<string, string>[] = [{}, {
    "x-forwarded-for": "unknown",
  }];
  for (const headers of cases) {
    using bad = await connectTls(s.webPort);
    const upgrade = await upgradeByHand(bad, s.webPort, headers);
    assert.equal(upgrade.status, "HTTP/1.1 400 Bad Request");
  }
  await s.logs.waitFor(
    /WARN refused door=web addr=127\.0\.0\.1:\d+ reason=forwarded-for/,
  );
});

Deno.test("[node] /healthz tells the counts to loopback clients only", async () => {
  await using s = await startServer("node", ["--trusted-proxy", "127.0.0.1"], {
    web: {},
  });
  using _tessa = await joinVia(s.port, v1("203.0.113.7"), "tessa");
  const health = async (header?: string, forwardedFor?: string) => {
    using conn = await connectTls(s.webPort, header);
    await conn.write(encoder.encode(
      `GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n${
        forwardedFor ? `x-forwarded-for: ${forwardedFor}\r\n` : ""
      }\r\n`,
    ));
    const text = await new Response(conn.readable).text();
    return JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
  };
  // A client elsewhere, behind the proxy (PROXY header, X-Forwarded-For).
  assert.deepEqual(await health(v1("203.0.113.7")), { status: "ok" });
  assert.deepEqual(await health(undefined, "203.0.113.7"), { status: "ok" });
  // The proxy terminating TLS names nobody: its address is not the
  // client's, so nothing says the request comes from the machine (before,
  // the proxy, on loopback, was taken for the client and told the counts).
  assert.deepEqual(await health(undefined), { status: "ok" });
  // Nor does a header naming the machine: a proxy that passes a client's
  // own X-Forwarded-For on would let anyone read the counts (before, this
  // was told them).
  assert.deepEqual(await health(undefined, "127.0.0.1"), { status: "ok" });
  // The machine itself, as the connection says: a loopback client named by
  // a PROXY header, or the proxy's own check.
  assert.deepEqual(await health(v1("127.0.0.1")), { status: "ok", online: 1 });
  assert.deepEqual(await health("PROXY UNKNOWN\r\n"), {
    status: "ok",
    online: 1,
  });
});

Deno.test("[node] a client named by X-Forwarded-For presents no certificate: the proxy's is not the client's", async () => {
  const { ca } = await testCertificates();
  const proxyIdentity = await issueClientCertificate(ca, "op");
  for (const require of [false, true]) {
    await using s = await startServer("node", [
      "--trusted-proxy",
      "127.0.0.1",
    ], { web: {}, clientCa: { ca: ca.cert, require } });
    const { accounts } = s.server.gate;
    await accounts.add("op", "op password");
    accounts.setOperator("op", true);
    // The proxy terminates TLS with a certificate that names "op".
    using conn = await connectTls(s.webPort, undefined, proxyIdentity);
    if (require) {
      // Every member must prove a certificate: one named by the header
      // cannot, so it is refused, and the log says why.
      const upgrade = await upgradeByHand(conn, s.webPort, {
        "x-forwarded-for": "203.0.113.7",
      });
      assert.equal(upgrade.status, "HTTP/1.1 403 Forbidden");
      await s.logs.waitFor(
        /WARN refused addr=203\.0\.113\.7 reason=client-certificate /,
      );
      continue;
    }
    const web = await webJoin(conn, s.webPort, {
      "x-forwarded-for": "203.0.113.7",
    }, "op");
    assert.match(web.first, /^HELLO /);
    assert.match(
      (await web.rest.next()).value ?? "",
      /^PASSWORD account "op" is a registered alias/,
    );
  }
});

Deno.test("[node] a proxied client over its cap is refused from its PROXY header, before any TLS", async () => {
  await using s = await startServer("node", [
    "--trusted-proxy",
    "127.0.0.1",
    "--max-per-ip",
    "1",
    "--max-refusals",
    "0",
    "--handshake-timeout",
    "60",
  ]);
  using _alice = await joinVia(s.port, v1("203.0.113.7", 40001), "alice");
  // A flood of handshakes from the same client: each sends its header and
  // nothing more. Each is closed at once, without a word (beyond
  // --max-refusals), and never waits for its TLS handshake.
  const closedAfterHeader = async (header: string) => {
    using raw = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await raw.write(encoder.encode(header));
    const read = raw.read(new Uint8Array(16)).catch(() => null);
    const late = AbortSignal.timeout(5000);
    return await Promise.race([
      read.then(() => true),
      new Promise<boolean>((resolve) =>
        late.addEventListener("abort", () => resolve(false))
      ),
    ]);
  };
  for (let i = 0; i < 3; i++) {
    assert.ok(
      await closedAfterHeader(v1("203.0.113.7", 40010 + i)),
      "closed after its header, before a handshake",
    );
  }
  await s.logs.waitFor(
    /INFO refused addr=203\.0\.113\.7:4001\d reason=ip-limit/,
    { count: 3 },
  );
  assert.equal(s.server.admission.connections, 1);
  // A banned client too (no certificate could let it pass: no --client-ca).
  s.server.gate.moderation.add(
    "ban",
    { range: parseAddressRange("192.0.2.0/24")! },
    { durationMs: null, by: "op", reason: "" },
  );
  assert.ok(await closedAfterHeader(v1("192.0.2.1", 40020)), "banned");
  await s.logs.waitFor(/INFO refused addr=192\.0\.2\.1:40020 reason=banned/);
  // Another client behind the same proxy is not held back.
  using _bob = await joinVia(s.port, v1("198.51.100.9"), "bob");
  assert.equal(s.server.admission.connections, 2);
});
