/**
 * Tests of the deno engine's reads: an idle connection waits in a small
 * buffer, a busy one reads into a large one from its listener's free list,
 * and the bytes come through whole whichever buffer they landed in. The
 * free list is tested without sockets; the reads over real TLS on loopback.
 */

import assert from "node:assert/strict";
import type { ByteConn } from "../../../lib/server/doors/byte_conn.ts";
import {
  IDLE_READ_BYTES,
  READ_BUFFER_BYTES,
  ReadBuffers,
} from "../../../lib/server/doors/deno_tls.ts";
import { listenTls } from "../../../lib/server/doors/transport.ts";
import { testCertificates } from "../../_helpers.ts";

Deno.test("ReadBuffers hands out large buffers, takes back what it keeps", () => {
  const buffers = new ReadBuffers(1);
  const a = buffers.take();
  const b = buffers.take();
  assert.equal(a.length, READ_BUFFER_BYTES);
  assert.notEqual(a, b);
  buffers.give(a);
  buffers.give(b); // beyond `keep`: dropped
  assert.equal(buffers.free, 1);
  assert.equal(buffers.take(), a);
  assert.equal(buffers.free, 0);
});

/** Reads until `length` bytes came; each chunk with its buffer's size. */
async function readBytes(
  conn: ByteConn,
  length: number,
): Promise<{ bytes: Uint8Array; buffers: number[] }> {
  const bytes = new Uint8Array(length);
  const buffers: number[] = [];
  let got = 0;
  while (got < length) {
    const chunk = await conn.read();
    assert.ok(chunk !== null, `ended after ${got} of ${length} bytes`);
    buffers.push(chunk.buffer.byteLength);
    bytes.set(chunk, got); // the view is valid until the next read
    got += chunk.length;
  }
  assert.equal(got, length);
  return { bytes, buffers };
}

Deno.test("deno engine: an idle connection reads into a small buffer, a busy one into a large one", async () => {
  const { ca, server } = await testCertificates();
  const listener = await listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: server.cert,
    key: server.key,
    engine: "deno",
  });
  const client = await Deno.connectTls({
    hostname: "localhost",
    port: listener.addr.port,
    caCerts: [ca.cert],
  });
  const conn = await listener.accept();
  try {
    await Promise.all([conn.handshake(), client.handshake()]);
    const send = async (text: string) => {
      const data = new TextEncoder().encode(text);
      for (let at = 0; at < data.length;) {
        at += await client.write(data.subarray(at));
      }
      return data;
    };

    // A chat line: one read, into the small buffer.
    let sent = await send("hi\n");
    let read = await readBytes(conn, sent.length);
    assert.deepEqual(read.bytes, sent);
    assert.deepEqual(read.buffers, [IDLE_READ_BYTES]);

    // A long line fills the small buffer, then flows into large ones.
    const long = Array.from({ length: 3000 }, (_, i) => "abcdefgh"[i % 8])
      .join("") + "\n";
    sent = await send(long);
    read = await readBytes(conn, sent.length);
    assert.deepEqual(read.bytes, sent);
    assert.equal(read.buffers[0], IDLE_READ_BYTES);
    assert.ok(
      read.buffers.slice(1).every((size) => size === READ_BUFFER_BYTES),
      `buffers ${read.buffers}`,
    );

    // The first read after it was waiting in a large buffer; a short one
    // there gives it back, and the next read waits in the small one again.
    sent = await send("ok\n");
    read = await readBytes(conn, sent.length);
    assert.deepEqual(read.bytes, sent);
    sent = await send("again\n");
    read = await readBytes(conn, sent.length);
    assert.deepEqual(read.bytes, sent);
    assert.deepEqual(read.buffers, [IDLE_READ_BYTES]);

    client.closeWrite();
    assert.equal(await conn.read(), null);
  } finally {
    client.close();
    await conn.close();
    listener.close();
  }
});
