/** Tests of the bounded, coalescing outbound queue, with a fake writer. */

import assert from "node:assert/strict";
import {
  chunkBytesFor,
  LineArena,
} from "../../../lib/server/room/line_arena.ts";
import { Outbox } from "../../../lib/server/doors/outbox.ts";

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
  assert.equal(outbox.heldBytes, 0);
  assert.equal(writer.count, 2);
});

Deno.test("Outbox writes adjacent arena lines as one range, without copying", async () => {
  const arena = new LineArena(256);
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
  assert.equal(outbox.heldBytes, 9);
  assert.equal(outbox.push(line("BYE"), { force: true }), true);
  writer.complete();
  assert.equal(await writer.nextWrite(), "1234BYE");
  writer.complete();
  await outbox.drained();
});

Deno.test("Outbox counts the arena chunks its lines pin, not only their bytes", () => {
  // A member that reads nothing gets one small line in each chunk, the rest
  // of which holds lines for others: each line keeps a whole chunk alive.
  const arena = new LineArena(1024);
  const never = { write: () => new Promise<number>(() => {}) };
  const slow = new Outbox(never, 8 * 1024, () => {});
  let accepted = 0;
  while (slow.push(arena.encode("MSG x hi"))) {
    accepted++;
    assert.ok(accepted < 1000, "the outbox never refused a line");
    // More than a chunk of them (25 × 48 bytes): the next line is in the
    // next chunk.
    for (let i = 0; i < 25; i++) arena.encode(`PRIV y ${"z".repeat(40)}`);
  }
  // 8 KiB of memory is 8 chunks of 1 KiB, however small the lines in them.
  assert.ok(accepted <= 8, `accepted ${accepted} lines`);
  assert.ok(slow.heldBytes <= 8 * 1024, `holds ${slow.heldBytes} bytes`);
});

Deno.test("Outbox takes the longest line at the smallest limit: twice the line, chunks of an eighth", () => {
  // --max-line-bytes 4096 --queue-bytes 8192 (the least it may be): the
  // arena's chunks are 1 KiB, and a whole 4 KiB line must still fit.
  const arena = new LineArena(chunkBytesFor(8192));
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 8192, () => {});
  assert.ok(outbox.push(arena.encode(`MSG bob ${"x".repeat(4088)}`)));
  assert.ok(outbox.push(arena.encode("MSG bob hi")));
  assert.ok(outbox.heldBytes <= 4097 + 1024, `holds ${outbox.heldBytes}`);
});

Deno.test("Outbox releases the chunks of a batch once it is written", async () => {
  const arena = new LineArena(1024);
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 4096, () => {});
  outbox.push(arena.encode("MSG a one"));
  assert.equal(outbox.heldBytes, 1024);
  await writer.nextWrite();
  writer.complete();
  await outbox.drained();
  assert.equal(outbox.heldBytes, 0);
  // Lines from several chunks are copied into one write, which releases
  // the chunks at once: only the copy is held while it is written.
  outbox.push(arena.encode("MSG a two"));
  outbox.push(new TextEncoder().encode("ERR x private\n"));
  outbox.push(arena.encode("MSG a three"));
  assert.equal(
    await writer.nextWrite(),
    "MSG a two\nERR x private\nMSG a three\n",
  );
  assert.equal(outbox.heldBytes, 36);
  writer.complete();
  await outbox.drained();
  assert.equal(outbox.heldBytes, 0);
});

Deno.test("Outbox reports a failed write once and accepts nothing after", async () => {
  const errors: unknown[] = [];
  const failing = { write: () => Promise.reject(new Error("boom")) };
  const outbox = new Outbox(failing, 100, (e) => errors.push(e));
  outbox.push(line("x"));
  await outbox.drained();
  assert.equal(errors.length, 1);
  assert.equal(outbox.push(line("y")), true);
  assert.equal(outbox.heldBytes, 0);
  await turn(); // nothing may be written or reported any more
  assert.equal(errors.length, 1);
});

/** Lines of the room's fan-out. */
const ROOM = { room: true };

/** Completes writes until `bytes` have been written; returns their sizes. */
async function drain(writer: FakeWriter, bytes: number): Promise<number[]> {
  const sizes: number[] = [];
  while (bytes > 0) {
    const size = (await writer.nextWrite()).length;
    sizes.push(size);
    bytes -= size;
    writer.complete();
  }
  return sizes;
}

Deno.test("Outbox writes at most 16 KiB at once, and tells its watcher of each crossing of half its limit when it happens", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 100_000, () => assert.fail("no error"));
  const seen: boolean[] = [];
  outbox.watch((above) => seen.push(above));
  // Below half: still written in slices.
  assert.equal(outbox.push(new Uint8Array(30_000), ROOM), true);
  assert.equal((await writer.nextWrite()).length, 16_384);
  assert.equal(outbox.push(new Uint8Array(30_000), ROOM), true);
  assert.deepEqual(seen, [true], "60,000 queued of 100,000");
  writer.complete();
  // 43,616 left to write: back below half after this slice, not at the
  // end of the batch.
  assert.equal((await writer.nextWrite()).length, 13_616);
  assert.deepEqual(seen, [true, false]);
  writer.complete();
  const sizes: number[] = [];
  while (sizes.reduce((a, b) => a + b, 0) < 30_000) {
    sizes.push((await writer.nextWrite()).length);
    writer.complete();
  }
  await outbox.drained();
  assert.deepEqual(sizes, [16_384, 13_616]);
  // Above half, the peer reading a slice is no crossing: nothing is told
  // until the queue is back down.
  outbox.push(new Uint8Array(90_000), ROOM);
  sizes.length = 0;
  while (sizes.reduce((a, b) => a + b, 0) < 90_000) {
    sizes.push((await writer.nextWrite()).length);
    if (sizes.length === 2) assert.deepEqual(seen, [true, false, true]);
    writer.complete();
  }
  await outbox.drained();
  assert.deepEqual(sizes, [16_384, 16_384, 16_384, 16_384, 16_384, 8080]);
  assert.deepEqual(seen, [true, false, true, false]);
  assert.equal(outbox.heldBytes, 0);
});

Deno.test("Outbox goes on from where a short write stopped, counting each part written", async () => {
  const writer = new FakeWriter();
  writer.maxBytes = 1000;
  const outbox = new Outbox(writer, 100_000, () => assert.fail("no error"));
  const seen: boolean[] = [];
  outbox.watch((above) => seen.push(above));
  // Two ranges (one batch, copied together), then a room line over a slice.
  const text = (length: number, fill: string) => line(fill.repeat(length));
  outbox.push(text(700, "a"));
  outbox.push(text(600, "b"));
  const room = new Uint8Array(60_000).fill(0x63); // "c"
  outbox.push(room, ROOM);
  assert.deepEqual(seen, [true], "60,000 room bytes of 100,000");
  let written = "";
  const drained = outbox.drained().then(() => null);
  while (true) {
    const part = await Promise.race([writer.nextWrite(), drained]);
    if (part === null) break;
    assert.ok(part.length <= 1000);
    written += part;
    writer.complete();
    await turn();
    // Each part counts as soon as it is written: 10,000 room bytes gone
    // (at 11,300) is half the limit left.
    if (written.length === 10_300) assert.deepEqual(seen, [true]);
    if (written.length === 11_300) assert.deepEqual(seen, [true, false]);
  }
  await outbox.drained();
  assert.equal(written, "a".repeat(700) + "b".repeat(600) + "c".repeat(60_000));
  assert.deepEqual(seen, [true, false]);
  assert.equal(outbox.roomBytes, 0);
  assert.equal(outbox.heldBytes, 0);
});

Deno.test("Outbox fails a writer that says it wrote nothing, instead of asking again forever", async () => {
  const errors: unknown[] = [];
  let calls = 0;
  // (Past 100 calls it fails by itself: the test ends either way.)
  const stuck = {
    write: () =>
      ++calls > 100 ? Promise.reject(new Error("again")) : Promise.resolve(0),
  };
  const outbox = new Outbox(stuck, 100, (e) => errors.push(e));
  outbox.push(line("x\n"));
  await outbox.drained();
  assert.equal(calls, 1);
  assert.equal(errors.length, 1);
  assert.equal(outbox.heldBytes, 0);
});

Deno.test("Outbox counts only room lines toward its watermark, from the slice that writes them", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 100_000, () => assert.fail("no error"));
  const seen: boolean[] = [];
  outbox.watch((above) => seen.push(above));
  // A member's own replies or history: above half, but not the room's.
  assert.equal(outbox.push(new Uint8Array(60_000)), true);
  assert.equal(outbox.push(new Uint8Array(30_000), ROOM), true);
  assert.equal(outbox.roomBytes, 30_000);
  await drain(writer, 90_000);
  await outbox.drained();
  assert.deepEqual(seen, []);
  // Room lines behind a reply: written once the reply is, and below half
  // once the first slice of them is.
  outbox.push(new Uint8Array(10_000));
  outbox.push(new Uint8Array(55_000), ROOM);
  assert.deepEqual(seen, [true]);
  assert.equal((await writer.nextWrite()).length, 10_000);
  writer.complete();
  assert.equal((await writer.nextWrite()).length, 16_384);
  assert.equal(outbox.roomBytes, 55_000);
  writer.complete();
  await writer.nextWrite();
  assert.equal(outbox.roomBytes, 38_616);
  assert.deepEqual(seen, [true, false]);
  writer.complete();
  await drain(writer, 55_000 - 2 * 16_384);
  await outbox.drained();
  assert.equal(outbox.roomBytes, 0);
  assert.deepEqual(seen, [true, false]);
});

Deno.test("Outbox.watch() tells nothing until what was queued before it is written", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 100_000, () => assert.fail("no error"));
  const seen: boolean[] = [];
  outbox.push(new Uint8Array(30_000)); // a joiner's history
  outbox.watch((above) => seen.push(above));
  outbox.push(new Uint8Array(60_000), ROOM);
  assert.deepEqual(seen, [], "the history is not written yet");
  assert.deepEqual(await drain(writer, 30_000), [16_384, 13_616]);
  // The history is written; the room lines queued since are above half,
  // until their first slice is written.
  await writer.nextWrite();
  assert.deepEqual(seen, [true]);
  writer.complete();
  await writer.nextWrite();
  assert.deepEqual(seen, [true, false]);
  writer.complete();
  await drain(writer, 60_000 - 2 * 16_384);
  await outbox.drained();
  assert.deepEqual(seen, [true, false]);
});

Deno.test("Outbox takes at most 16 KiB of queued lines per write, so what it holds stays within a write of what is queued", async () => {
  const writer = new FakeWriter();
  const outbox = new Outbox(writer, 100_000, () => assert.fail("no error"));
  for (let i = 0; i < 6; i++) outbox.push(new Uint8Array(10_000), ROOM);
  assert.equal((await writer.nextWrite()).length, 10_000);
  writer.complete();
  assert.equal((await writer.nextWrite()).length, 10_000);
  // The first line is written and released; the rest wait as they were.
  assert.equal(outbox.roomBytes, 50_000);
  assert.equal(outbox.heldBytes, 50_000);
  writer.complete();
  await drain(writer, 40_000);
  await outbox.drained();
  assert.equal(outbox.heldBytes, 0);
});
