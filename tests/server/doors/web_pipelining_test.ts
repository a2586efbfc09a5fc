/**
 * The web door's plain HTTP against a client that pipes requests and
 * never reads the answers: a real HTTPS door in process (real TLS over
 * loopback). Before, one such connection took in 141 MB within a second
 * (Node's HTTP server pauses it, but on Deno a paused TLS socket keeps
 * reading) and held 255 MB of the server's memory; eight held 1.7 GB.
 */

import assert from "node:assert/strict";
import { SERVER_SETTINGS } from "../../../lib/server/config.ts";
import { connectTls, startServer, writeUntilStalled } from "../../_helpers.ts";

const encoder = new TextEncoder();

/** Reads what `conn` sends until it ends; the number of HTTP answers. */
async function answersUntilEnd(conn: Deno.TlsConn): Promise<number> {
  let text = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of conn.readable) {
      text += decoder.decode(chunk, { stream: true });
    }
  } catch {
    // A reset ends it too.
  }
  return text.match(/^HTTP\/1\.1 200 /gm)?.length ?? 0;
}

Deno.test(`web door closes a connection with more than ${SERVER_SETTINGS.httpPipelined} requests waiting for their answers, and serves others meanwhile`, async () => {
  await using s = await startServer("node", [], { web: {} });
  const request = "GET /app.js HTTP/1.1\r\nHost: localhost\r\n\r\n";
  const piper = await connectTls(s.webPort);
  // More than a read's worth of requests, never reading the answers.
  const written = await writeUntilStalled(
    piper,
    encoder.encode(request.repeat(1_000)),
    256 * 2 ** 20,
  );
  assert.ok(written < 16 * 2 ** 20, `${written} bytes taken in`);
  const answered = await answersUntilEnd(piper);
  assert.ok(
    answered <= SERVER_SETTINGS.httpPipelined,
    `${answered} answers before the connection closed`,
  );
  // Another client is served as ever.
  using other = await connectTls(s.webPort);
  await other.write(encoder.encode(
    "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
  ));
  assert.equal(await answersUntilEnd(other), 1);
});
