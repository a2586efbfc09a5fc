/** Tests of the bounded, coalescing outbound queue, with a fake writer. */

import assert from "node:assert/strict";
import { Outbox, writeAll } from "../lib/outbox.ts";

/** A writer that records writes and completes each one when told to. */
class FakeWriter {
  writes: string[] = [];
  #pending: (() => void)[] = [];
  maxBytes = Infinity;
  write(data: Uint8Array): Promise<number> {
    const n = Math.min(data.length, this.maxBytes);
    this.writes.push(new TextDecoder().decode(data.subarray(0, n)));
    return new Promise((resolve) => this.#pending.push(() => resolve(n)));
  }
  /** Completes the oldest write and lets the outbox react. */
  async complete(): Promise<void> {
    this.#pending.shift()?.();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

const line = (text: string) => new TextEncoder().encode(text);
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("Outbox.push() sends lines queued in one turn as one write", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(
    writer,
    1000,
    () => assert.fail("no error expected"),
  );
  outbox.push(line("a\n"));
  outbox.push(line("b\n"));
  outbox.push(line("c\n"));
  await turn();
  assert.deepEqual(writer.writes, ["a\nb\nc\n"]);
  // While that write is in flight, more lines queue up and go together.
  outbox.push(line("d\n"));
  outbox.push(line("e\n"));
  await writer.complete();
  assert.deepEqual(writer.writes, ["a\nb\nc\n", "d\ne\n"]);
  await writer.complete();
  await outbox.drained();
  assert.equal(outbox.bufferedBytes, 0);
});

Deno.test("Outbox.push() refuses a line over the limit, counting the write in flight", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 10, () => {});
  assert.equal(outbox.push(line("12345")), true);
  await turn(); // now in flight
  assert.equal(outbox.push(line("1234")), true);
  assert.equal(outbox.push(line("12")), false);
  assert.equal(outbox.bufferedBytes, 9);
  assert.equal(outbox.push(line("BYE"), { force: true }), true);
  await writer.complete();
  await writer.complete();
  await outbox.drained();
  assert.deepEqual(writer.writes, ["12345", "1234BYE"]);
});

Deno.test("Outbox.clear() drops queued lines but not the write in flight", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 100, () => {});
  outbox.push(line("sent"));
  await turn();
  outbox.push(line("dropped"));
  outbox.clear();
  assert.equal(outbox.bufferedBytes, 4);
  await writer.complete();
  await outbox.drained();
  assert.deepEqual(writer.writes, ["sent"]);
});

Deno.test("Outbox reports a failed write once and accepts nothing after", async () => {
  const errors: unknown[] = [];
  const failing = { write: () => Promise.reject(new Error("boom")) };
  const outbox = new Outbox(failing, 100, (e) => errors.push(e));
  outbox.push(line("x"));
  await outbox.drained();
  assert.equal(errors.length, 1);
  assert.equal(outbox.push(line("y")), true);
  assert.equal(outbox.bufferedBytes, 0);
  await turn();
  assert.equal(errors.length, 1);
});

Deno.test("writeAll() loops over partial writes", async () => {
  const writer = new FakeWriter();
  writer.maxBytes = 3;
  const done = writeAll(writer, line("abcdefgh"));
  for (let i = 0; i < 3; i++) await writer.complete();
  await done;
  assert.deepEqual(writer.writes, ["abc", "def", "gh"]);
});
