/**
 * How the `Indexer` has the index take again the lines it dropped (a gap):
 * only once the index wrote everything posted to it before, after what it
 * posts, `fillLines` numbers at a time, again a timer later while some are
 * left or `chat.db` does not hold them yet, never after the numbering
 * started again, never at close. Against a fake index, on a fake clock.
 */

import assert from "node:assert/strict";
import type { RoomEvent } from "../../../lib/server/room/room_log.ts";
import { Indexer } from "../../../lib/server/storage/indexer.ts";
import type {
  IndexedLine,
  SearchIndex,
} from "../../../lib/server/storage/search_index.ts";
import { FakeClock } from "../../_fakes.ts";

/** A message numbered `seq`. */
function message(seq: number): RoomEvent {
  return {
    seq,
    time: 1_000 + seq,
    line: { type: "MSG", alias: "amy", text: `note ${seq}` },
    origin: "1",
  };
}

/**
 * What the indexer posts, in order (`add 1-2`, `behind 3`, `fill 3-4 rest
 * null`); `unwritten` is what it says is not written yet; each fill waits
 * for `answer`.
 */
class FakeIndex {
  posted: string[] = [];
  unwritten = 0;
  unwrittenBytes = 0;
  #fills: PromiseWithResolvers<boolean>[] = [];

  add(lines: readonly IndexedLine[]): void {
    this.posted.push(`add ${lines[0]!.seq}-${lines.at(-1)!.seq}`);
  }
  behind(seq: number): void {
    this.posted.push(`behind ${seq}`);
  }
  clear(): void {
    this.posted.push("clear");
  }
  fill(from: number, through: number, rest: number | null): Promise<boolean> {
    this.posted.push(`fill ${from}-${through} rest ${rest}`);
    const answer = Promise.withResolvers<boolean>();
    this.#fills.push(answer);
    return answer.promise;
  }
  /** Answers the oldest fill. */
  answer(filled: boolean): void {
    this.#fills.shift()!.resolve(filled);
  }
  /** What was posted since last asked. */
  take(): string[] {
    return this.posted.splice(0);
  }
}

/** An indexer over a fake index that holds two lines at most. */
function indexer(
  options: { fillLines?: number; epoch?: () => string } = {},
) {
  const clock = new FakeClock();
  const index = new FakeIndex();
  const fed = new Indexer(index as unknown as SearchIndex, {
    clock,
    epoch: () => "e1",
    maxPending: 2,
    flushMs: 100,
    ...options,
  });
  return { clock, index, fed };
}

Deno.test("Indexer posts a gap's fill after the lines and the behind it posts, once the index wrote all it was posted", async () => {
  const { clock, index, fed } = indexer();
  for (let seq = 1; seq <= 4; seq++) fed.take(message(seq));
  index.unwritten = 5; // still writing what came before
  fed.flush();
  assert.deepEqual(index.take(), ["add 1-2", "behind 3"], "busy: no fill");
  await clock.advance(100);
  assert.deepEqual(index.take(), [], "still busy");
  index.unwritten = 0;
  await clock.advance(100); // asked again a timer later
  assert.deepEqual(index.take(), ["fill 3-4 rest null"]);
  index.unwritten = 2;
  fed.take(message(5)); // dropped while 3 and 4 are taken again
  index.unwritten = 0;
  fed.flush();
  assert.deepEqual(index.take(), ["behind 5"], "one fill at a time");
  index.answer(true);
  await clock.advance(100);
  assert.deepEqual(index.take(), ["fill 5-5 rest null"]);
  index.answer(true);
  await clock.advance(1_000);
  assert.deepEqual(index.take(), [], "filled: nothing more");
  assert.equal(clock.pending, 0);
});

Deno.test("Indexer fills a gap fillLines numbers at a time, and a fill not done yet again with what was dropped since", async () => {
  const { clock, index, fed } = indexer({ fillLines: 3 });
  for (let seq = 1; seq <= 7; seq++) fed.take(message(seq));
  fed.flush();
  assert.deepEqual(index.take(), [
    "add 1-2",
    "behind 3",
    "fill 3-5 rest 6",
  ]);
  index.answer(true);
  await clock.advance(0); // the next step at once
  assert.deepEqual(index.take(), ["fill 6-7 rest null"]);
  index.unwritten = 2;
  for (let seq = 8; seq <= 10; seq++) fed.take(message(seq)); // all dropped
  index.answer(false); // chat.db does not hold 7 yet
  await clock.advance(0);
  assert.deepEqual(index.take(), [], "a timer later");
  await clock.advance(100);
  assert.deepEqual(index.take(), ["behind 8"], "busy");
  index.unwritten = 0;
  await clock.advance(100);
  assert.deepEqual(index.take(), ["fill 6-8 rest 9"], "6 to 10 are left");
  index.answer(true);
  await clock.advance(0);
  assert.deepEqual(index.take(), ["fill 9-10 rest null"]);
  index.answer(true);
  await clock.advance(1_000);
  assert.deepEqual(index.take(), []);
  assert.equal(fed.dropped, 8);
});

Deno.test("Indexer forgets a gap when the numbering starts again, and fills none at close", async () => {
  let epoch = "e1";
  const { clock, index, fed } = indexer({ epoch: () => epoch });
  for (let seq = 1; seq <= 4; seq++) fed.take(message(seq));
  fed.flush();
  assert.deepEqual(index.take(), ["add 1-2", "behind 3", "fill 3-4 rest null"]);
  epoch = "e2";
  fed.take(message(1)); // another epoch, while the fill is under way
  index.answer(false); // of the old numbers: not taken up again
  await clock.advance(1_000);
  assert.deepEqual(index.take(), ["clear", "add 1-1"]);
  for (let seq = 2; seq <= 5; seq++) fed.take(message(seq)); // 4, 5 dropped
  fed.close();
  assert.deepEqual(index.take(), ["add 2-3", "behind 4"], "no fill");
  await clock.advance(1_000);
  assert.deepEqual(index.take(), []);
  assert.equal(clock.pending, 0);
});
