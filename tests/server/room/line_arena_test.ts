/** Tests of the shared line chunks: what a line takes of a chunk. */

import assert from "node:assert/strict";
import { LineArena } from "../../../lib/server/room/line_arena.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("LineArena fills a chunk to its last byte: a line takes the bytes it needs", () => {
  const arena = new LineArena(1024);
  // Eight lines of 127 bytes and their LFs are exactly 1,024 bytes.
  const lines = Array.from({ length: 8 }, () => arena.encode("x".repeat(127)));
  for (const line of lines) {
    assert.equal(line.buffer, lines[0]!.buffer, "all in one chunk");
    assert.equal(decode(line), `${"x".repeat(127)}\n`);
  }
  assert.equal(lines.at(-1)!.byteOffset + 128, 1024);
  // The chunk is full: even an empty line starts the next one.
  const empty = arena.encode("");
  assert.notEqual(empty.buffer, lines[0]!.buffer);
  assert.equal(decode(empty), "\n");
});

Deno.test("LineArena moves a line that does not fit whole to a new chunk, encoded once there", () => {
  const arena = new LineArena(16);
  const first = arena.encode("abcdefghij"); // 11 of 16 bytes
  const split = arena.encode("é€😀"); // 2 + 3 + 4 bytes and LF: not in the 5 left
  assert.notEqual(split.buffer, first.buffer);
  assert.equal(split.byteOffset, 0);
  assert.equal(decode(split), "é€😀\n");
  assert.equal(decode(first), "abcdefghij\n", "the first line is untouched");
  // A line longer than a chunk gets a buffer of exactly its bytes, its
  // own; the lines after it go on in the chunk.
  const long = arena.encode("x".repeat(40));
  assert.equal(decode(long), `${"x".repeat(40)}\n`);
  assert.equal(long.buffer.byteLength, 41, "not a worst-case 3 bytes a unit");
  const after = arena.encode("ok");
  assert.equal(decode(after), "ok\n");
  assert.equal(after.buffer, split.buffer);
  assert.equal(after.byteOffset, split.length);
  // Longer than a chunk in bytes only (3 bytes a unit): its own too.
  const wide = arena.encode("€".repeat(10));
  assert.equal(decode(wide), `${"€".repeat(10)}\n`);
  assert.equal(wide.buffer.byteLength, 31);
  assert.equal(decode(arena.encode("ok")), "ok\n");
});
