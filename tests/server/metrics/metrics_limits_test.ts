/**
 * Tests of the metrics listener's limits over raw loopback TCP: a request
 * sent half is answered 408 and closed once the request timeout passed,
 * connections over the caps (in total, from one address) are closed as
 * they come, and so is one piping more requests than `httpPipelined` ahead
 * of their answers, and one whose request announces a body (answered 413);
 * a head over 16 KiB is answered 431, and what follows it read only so far.
 */

import assert from "node:assert/strict";
import { createLogger } from "../../../lib/log.ts";
import { openMetricsListener } from "../../../lib/server/metrics/metrics_http.ts";
import { ServerMetrics } from "../../../lib/server/metrics/server_metrics.ts";
import { SERVER_SETTINGS } from "../../../lib/server/config.ts";
import { Admission } from "../../../lib/server/doors/admission.ts";
import { BODY_REFUSED } from "../../../lib/http_bodies.ts";

const silent = createLogger("error", () => {});

/** The listener on a free loopback port with these limits. */
function openLimited(limits: {
  maxConnections: number;
  requestTimeoutMs: number;
}) {
  return openMetricsListener({
    hostname: "127.0.0.1",
    port: 0,
    httpPipelined: SERVER_SETTINGS.httpPipelined,
    httpMaxHeaderBytes: SERVER_SETTINGS.httpMaxHeaderBytes,
    httpDiscardBytes: SERVER_SETTINGS.httpDiscardBytes,
    requestTimeoutMs: limits.requestTimeoutMs,
    admission: new Admission({
      maxClients: limits.maxConnections,
      maxPerIp: 0,
      maxRefusals: 0,
    }, silent),
    renderMs: SERVER_SETTINGS.metricsRenderMs,
    closeGraceMs: 2_000,
    log: silent,
    server: {
      metrics: new ServerMetrics(),
      stopping: false,
      connections: 0,
      admission: { stats: { accepted: 0 } },
      room: { size: 0, router: { rooms: { size: 0 } } },
    },
    backend: {
      probe: () =>
        Promise.resolve({
          unwritable: null,
          redis: null,
          databaseBytes: 0,
          search: { waiting: 0, dropped: 0 },
        }),
    },
    engine: "node",
    clustered: false,
    certificateExpiresMs: null,
  });
}

/** Everything the peer sends until it closes. */
async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16_384);
  for (;;) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return chunks.join("");
    chunks.push(decoder.decode(buffer.subarray(0, n), { stream: true }));
  }
}

const encoder = new TextEncoder();

Deno.test("the metrics port closes a connection whose request does not arrive within the request timeout", async () => {
  await using listener = await openLimited({
    maxConnections: 32,
    requestTimeoutMs: 200,
  });
  using conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const started = performance.now();
  await conn.write(encoder.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  const answer = await readAll(conn);
  const tookMs = performance.now() - started;
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.ok(tookMs >= 150, `not before the timeout: ${tookMs}`);
  assert.ok(tookMs < 1_000, `within twice the timeout: ${tookMs}`);
});

Deno.test("the metrics port holds at most maxConnections open: the next is closed unanswered", async () => {
  await using listener = await openLimited({
    maxConnections: 2,
    requestTimeoutMs: 5_000,
  });
  const { port } = listener.addr;
  const request = encoder.encode(
    "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
  );
  /** Sends a request and reads its answer's first bytes; "" when closed. */
  const ask = async (conn: Deno.Conn) => {
    await conn.write(request).catch(() => {});
    const buffer = new Uint8Array(1024);
    const n = await conn.read(buffer).catch(() => null);
    return n === null ? "" : new TextDecoder().decode(buffer.subarray(0, n));
  };
  using first = await Deno.connect({ hostname: "127.0.0.1", port });
  using second = await Deno.connect({ hostname: "127.0.0.1", port });
  // Answered, and kept open (keep-alive): both count.
  assert.match(await ask(first), /^HTTP\/1\.1 200 /);
  assert.match(await ask(second), /^HTTP\/1\.1 200 /);
  using third = await Deno.connect({ hostname: "127.0.0.1", port });
  assert.equal(await ask(third), "");
  assert.match(await ask(first), /^HTTP\/1\.1 200 /, "the others still served");
});

Deno.test(`the metrics port closes a connection piping more than ${SERVER_SETTINGS.httpPipelined} requests ahead of their answers: it renders no more of them`, async () => {
  await using listener = await openLimited({
    maxConnections: 32,
    requestTimeoutMs: 5_000,
  });
  using conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  // Before, each was rendered and held: 5.4 MB of them blocked the room
  // 9 s and took 2.6 GB.
  await conn.write(
    encoder.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100)),
  );
  const answers = (await readAll(conn)).match(/^HTTP\/1\.1 200 /gm) ?? [];
  assert.ok(
    answers.length <= SERVER_SETTINGS.httpPipelined,
    `${answers.length} answers`,
  );
});

Deno.test("the metrics port answers a request announcing a body and closes it, the body unread", async () => {
  await using listener = await openLimited({
    maxConnections: 32,
    requestTimeoutMs: 5_000,
  });
  const data = "x".repeat(65_536);
  const requests: [string, RegExp][] = [
    [
      "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n" +
      data,
      /^HTTP\/1\.1 405 [^]*\r\n\r\nMethod not allowed\n$/,
    ],
    [
      // Answered at once: before, invited with "HTTP/1.1 100 Continue".
      "POST /metrics HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10000000000\r\n\r\n",
      /^HTTP\/1\.1 405 [^]*\r\n\r\nMethod not allowed\n$/,
    ],
    [
      "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      `10000\r\n${data}\r\n`,
      new RegExp(`^HTTP/1\\.1 413 [^]*\r\n\r\n${BODY_REFUSED}\n$`),
    ],
  ];
  for (const [request, expected] of requests) {
    using conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    // Before, the body was read after the answer for as long as it came:
    // the connection was held past the request timeout.
    const answer = readAll(conn);
    await conn.write(encoder.encode(request));
    const text = await answer;
    assert.match(text, expected);
    assert.match(text, /\r\nconnection: close\r\n/i);
  }
});

Deno.test("the metrics port answers a request head over 16 KiB with 431 before it closes", async () => {
  await using listener = await openLimited({
    maxConnections: 32,
    requestTimeoutMs: 5_000,
  });
  for (const size of [17_000, 1_000_000]) {
    using conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
    });
    const answer = readAll(conn);
    await conn.write(encoder.encode(
      `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(size)}\r\n\r\n`,
    )).catch(() => {}); // closed while writing: what came back tells
    assert.match(
      await answer,
      /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/,
    );
  }
});

Deno.test("the metrics port reads at most httpDiscardBytes of what follows a refused head before it closes", async () => {
  await using listener = await openLimited({
    maxConnections: 32,
    requestTimeoutMs: 5_000,
  });
  using conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  await conn.write(encoder.encode(
    `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(17_000)}\r\n\r\n`,
  ));
  // Sent on as fast as it is taken, until the listener closes it.
  const chunk = new Uint8Array(65_536);
  let sent = 0;
  try {
    while (sent < 256 * 1024 * 1024) sent += await conn.write(chunk);
  } catch {
    // Closed by the listener: what it took is the answer.
  }
  // 1 MiB read, and what the kernel's buffers take (a few MiB); before,
  // it was read on for the whole close grace (256 MB taken within it).
  assert.ok(sent < 32 * 1024 * 1024, `sent ${sent} bytes after a 431`);
});
