/** Tests of the bounded, coalescing outbound queue, with a fake writer. */

import assert from "node:assert/strict";
import { LineArena, Outbox, writeAll } from "../lib/outbox.ts";

/**
 * A writer that records each write and completes it only when told to, so
 * tests decide when the network "drains".
 */
class FakeWriter {
  maxBytes = Infinity;
  #writes: string[] = [];
  #seen = 0;
  #pending: (() => void)[] = [];
  #waiter: (() => void) | null = null;

  write(data: Uint8Array): Promise<number> {
    const n = Math.min(data.length, this.maxBytes);
    this.#writes.push(new TextDecoder().decode(data.subarray(0, n)));
    this.#waiter?.();
    return new Promise((resolve) => this.#pending.push(() => resolve(n)));
  }

  /** Resolves with the text of the next write not yet returned. */
  async nextWrite(): Promise<string> {
    while (this.#seen === this.#writes.length) {
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
    return this.#writes[this.#seen++]!;
  }

  /** Completes the oldest write in flight. */
  complete(): void {
    this.#pending.shift()!();
  }

  get count(): number {
    return this.#writes.length;
  }
}

const line = (text: string) => new TextEncoder().encode(text);
/** One macrotask turn: enough for any pending microtask work to finish. */
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
  assert.equal(await writer.nextWrite(), "a\nb\nc\n");
  // While that write is in flight, more lines queue up and go together.
  outbox.push(line("d\n"));
  outbox.push(line("e\n"));
  writer.complete();
  assert.equal(await writer.nextWrite(), "d\ne\n");
  writer.complete();
  await outbox.drained();
  assert.equal(outbox.bufferedBytes, 0);
  assert.equal(writer.count, 2);
});

Deno.test("Outbox writes adjacent arena lines as one range, without copying", async () => {
  const arena = new LineArena();
  const written: Uint8Array[] = [];
  const outbox = new Outbox(
    {
      write: (data) => (written.push(data), Promise.resolve(data.length)),
    },
    1000,
    () => {},
  );
  const a = arena.encode("MSG a 1");
  outbox.push(a);
  outbox.push(arena.encode("MSG a 2"));
  outbox.push(line("ERR private\n")); // not adjacent: a second range
  outbox.push(arena.encode("MSG a 3"));
  await outbox.drained();
  assert.equal(written.length, 1);
  assert.equal(
    new TextDecoder().decode(written[0]),
    "MSG a 1\nMSG a 2\nERR private\nMSG a 3\n",
  );
  // A batch of adjacent lines only is the arena's own memory: no copy.
  const only: Uint8Array[] = [];
  const direct = new Outbox(
    { write: (d) => (only.push(d), Promise.resolve(d.length)) },
    1000,
    () => {},
  );
  direct.push(arena.encode("MSG b 1"));
  direct.push(arena.encode("MSG b 2"));
  await direct.drained();
  assert.equal(only[0]!.buffer, a.buffer);
  assert.equal(new TextDecoder().decode(only[0]), "MSG b 1\nMSG b 2\n");
});

Deno.test("Outbox.push() refuses a line over the limit, counting the write in flight", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 10, () => {});
  assert.equal(outbox.push(line("12345")), true);
  assert.equal(await writer.nextWrite(), "12345"); // now in flight
  assert.equal(outbox.push(line("1234")), true);
  assert.equal(outbox.push(line("12")), false);
  assert.equal(outbox.bufferedBytes, 9);
  assert.equal(outbox.push(line("BYE"), { force: true }), true);
  writer.complete();
  assert.equal(await writer.nextWrite(), "1234BYE");
  writer.complete();
  await outbox.drained();
});

Deno.test("Outbox.clear() drops queued lines but not the write in flight", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 100, () => {});
  outbox.push(line("sent"));
  assert.equal(await writer.nextWrite(), "sent");
  outbox.push(line("dropped"));
  outbox.clear();
  assert.equal(outbox.bufferedBytes, 4);
  writer.complete();
  await outbox.drained();
  assert.equal(writer.count, 1);
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
  await turn(); // nothing may be written or reported any more
  assert.equal(errors.length, 1);
});

Deno.test("writeAll() loops over partial writes", async () => {
  const writer = new FakeWriter();
  writer.maxBytes = 3;
  const done = writeAll(writer, line("abcdefgh"));
  for (const expected of ["abc", "def", "gh"]) {
    assert.equal(await writer.nextWrite(), expected);
    writer.complete();
  }
  await done;
});
