/**
 * Tests of the WebSocket door's framing without sockets: `textFrame()`
 * builds RFC 6455 text frames, and a door's {@linkcode TextFramer} frames a
 * broadcast once for all its members, sharing nothing with other doors.
 */

import assert from "node:assert/strict";
import {
  textFrame,
  TextFramer,
} from "../../../lib/server/doors/ws_connection.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("textFrame() frames a line without its LF, with the length in 7, 16 or 64 bits", () => {
  assert.deepEqual(
    textFrame(encode("hi\n")),
    Uint8Array.of(0x81, 2, 0x68, 0x69),
  );
  const medium = textFrame(encode(`${"a".repeat(200)}\n`));
  assert.deepEqual([...medium.subarray(0, 4)], [0x81, 126, 0, 200]);
  assert.equal(medium.length, 4 + 200);
  const long = textFrame(encode(`${"b".repeat(70_000)}\n`));
  assert.deepEqual(
    [...long.subarray(0, 10)],
    [0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70],
  );
  assert.equal(long.length, 10 + 70_000);
});

Deno.test("textFrame() makes a new frame each time: it keeps nothing", () => {
  const line = encode("hello\n");
  const first = textFrame(line);
  line.set(encode("HELLO"));
  const second = textFrame(line);
  assert.notEqual(first, second);
  assert.deepEqual(second.subarray(2), encode("HELLO"));
});

Deno.test("TextFramer.frame() frames a broadcast line once, and each door its own", () => {
  const framer = new TextFramer();
  const line = encode("MSG alice hi\n");
  const frame = framer.frame(line);
  assert.equal(framer.frame(line), frame, "the same line: the same frame");
  const other = encode("MSG bob hi\n");
  assert.deepEqual(framer.frame(other).subarray(2), encode("MSG bob hi"));
  const another = new TextFramer();
  assert.notEqual(another.frame(line), frame, "another door frames anew");
  assert.deepEqual(another.frame(line), frame);
});
