/** Tests of the bounded line splitter, without sockets. */

import assert from "node:assert/strict";
import { LINE_ENDLESS, LINE_TOO_LONG, LineFramer } from "../lib/framing.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
/** Pushes text; decodes each line before the next is framed, as required. */
const lines = (framer: LineFramer, text: string) =>
  Array.from(
    framer.push(bytes(text)),
    (line) => typeof line === "symbol" ? line : new TextDecoder().decode(line),
  );

Deno.test("LineFramer.push() splits lines across chunk boundaries", () => {
  const framer = new LineFramer(100);
  assert.deepEqual(lines(framer, "one\ntw"), ["one"]);
  assert.equal(framer.bufferedBytes, 2);
  assert.deepEqual(lines(framer, "o\nthree\n\nfour"), ["two", "three", ""]);
  assert.deepEqual(lines(framer, "\n"), ["four"]);
  assert.equal(framer.bufferedBytes, 0);
});

Deno.test("LineFramer.push() accepts LF and CRLF and keeps a lone CR", () => {
  const framer = new LineFramer(100);
  assert.deepEqual(lines(framer, "a\r\nb\nc\rd\r"), ["a", "b"]);
  assert.deepEqual(lines(framer, "\n"), ["c\rd"]);
});

Deno.test("LineFramer.push() accepts a line of exactly the limit, with or without CR", () => {
  const framer = new LineFramer(5);
  assert.deepEqual(lines(framer, "12345\n12345\r\n"), ["12345", "12345"]);
  assert.deepEqual(lines(framer, "123"), []);
  assert.deepEqual(lines(framer, "45\r"), []);
  assert.deepEqual(lines(framer, "\n"), ["12345"]);
});

Deno.test("LineFramer.push() rejects a line one byte over the limit", () => {
  const framer = new LineFramer(5);
  assert.deepEqual(lines(framer, "123456\nok\n"), [LINE_TOO_LONG, "ok"]);
  assert.deepEqual(lines(framer, "1234"), []);
  assert.deepEqual(lines(framer, "56\n"), [LINE_TOO_LONG]);
});

Deno.test("LineFramer.push() never buffers more than the limit of an endless line", () => {
  const framer = new LineFramer(1000);
  const chunk = bytes("x".repeat(700));
  const seen = [];
  for (let i = 0; i < 1000; i++) {
    seen.push(...framer.push(chunk));
    assert.ok(framer.bufferedBytes <= 1001, `buffered ${framer.bufferedBytes}`);
  }
  assert.deepEqual(seen, [LINE_TOO_LONG]);
  assert.deepEqual(lines(framer, "tail\nnext\n"), ["next"]);
});

Deno.test("LineFramer.flush() returns an unfinished last line once", () => {
  const framer = new LineFramer(10);
  assert.deepEqual(lines(framer, "a\nrest"), ["a"]);
  assert.deepEqual(
    new TextDecoder().decode(framer.flush() as Uint8Array),
    "rest",
  );
  assert.equal(framer.flush(), null);
  assert.deepEqual(lines(framer, "0123456789abc"), [LINE_TOO_LONG]);
  assert.equal(framer.flush(), null);
});

Deno.test("LineFramer() refuses a limit that is not a positive integer", () => {
  assert.throws(() => new LineFramer(0), RangeError);
  assert.throws(() => new LineFramer(1.5), RangeError);
});

Deno.test("LineFramer.push() reports an endless line once past maxSkipBytes", () => {
  const framer = new LineFramer(10, { maxSkipBytes: 100 });
  assert.deepEqual(lines(framer, "x".repeat(50)), [LINE_TOO_LONG]);
  assert.deepEqual(lines(framer, "x".repeat(50)), []);
  assert.deepEqual(lines(framer, "x".repeat(10)), [LINE_ENDLESS]);
  assert.deepEqual(lines(framer, "x".repeat(1000)), []);
  assert.deepEqual(lines(framer, "end\nok\n"), ["ok"]);
  // One chunk that holds a whole endless line, and the next line.
  assert.deepEqual(lines(framer, "y".repeat(200) + "\nfine\n"), [
    LINE_TOO_LONG,
    LINE_ENDLESS,
    "fine",
  ]);
});

Deno.test("LineFramer.push() reuses its buffer for lines that straddle chunks", () => {
  const framer = new LineFramer(1 << 20);
  const buffers = new Set<ArrayBufferLike>();
  for (let i = 0; i < 100; i++) {
    lines(framer, `line ${i} starts`);
    const [line] = [...framer.push(bytes(" and ends\n"))];
    assert.ok(line instanceof Uint8Array);
    assert.equal(new TextDecoder().decode(line), `line ${i} starts and ends`);
    buffers.add(line.buffer);
  }
  // One small buffer for all of them, not a fresh 1 MiB one per line.
  assert.equal(buffers.size, 1);
  assert.ok([...buffers][0]!.byteLength <= 4096);
});
