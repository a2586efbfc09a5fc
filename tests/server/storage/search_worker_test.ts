/** Tests of what a `/search` gets when the search index's worker fails or hangs: an answer, at once or by its deadline, never a wait on the next worker. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ProtocolError } from "../../../lib/protocol.ts";
import { IndexSearch } from "../../../lib/server/storage/indexer.ts";
import {
  type IndexedLine,
  SearchIndex,
} from "../../../lib/server/storage/search_index.ts";
import { searchMatch } from "../../../lib/server/storage/search_query.ts";
import workerSource from "../../../lib/server/storage/index_worker.js" with {
  type: "text",
};
import { FakeClock } from "../../_fakes.ts";
import { crashingOnce } from "./_worker_faults.ts";
import { withTempDir } from "../../_helpers.ts";

const line = (seq: number, text: string): IndexedLine => ({
  seq,
  time: seq,
  room: "",
  kind: "MSG",
  alias: "amy",
  text,
});

/** A worker that answers a find for `slow` only when asked to close (a hung find). */
const SLOW = `let held = false;
  self.addEventListener("message", (event) => {
    const { data } = event;
    if (data.op === "find" && data.match.includes("slow")) {
      held = true;
      event.stopImmediatePropagation();
    } else if (data.op === "close" && held) {
      self.postMessage({ op: "done", lines: [] });
    }
  });
  ${workerSource}`;

Deno.test("SearchIndex: a worker that ends answers the finds it had at once, with an error, and the next worker is not posted them", async () => {
  await withTempDir(async (dir) => {
    const clock = new FakeClock();
    const crashed = Promise.withResolvers<unknown>();
    const index = new SearchIndex({
      path: null,
      chat: null,
      epoch: () => "e1",
      clock,
      source: crashingOnce(join(dir, "crashed")),
      onError: crashed.resolve,
    });
    index.add([line(1, "crash")]);
    const finding = index.find(searchMatch(["crash"], [""])!, 50);
    assert.equal(index.finding, 1);
    assert.match(String(await crashed.promise), /fell over/);
    assert.equal(index.finding, 0, "not posted to the next worker");
    await assert.rejects(finding, /the search index stopped/);
    await clock.advance(0); // the next worker starts, given the line again
    const again = await index.find(searchMatch(["crash"], [""])!, 50);
    assert.deepEqual(again.map((l) => l.seq), [1]);
    await index.close();
  });
});

Deno.test("IndexSearch: a find its worker does not answer within searchTimeoutMs is ERR search-limit; the late answer is dropped", async () => {
  const clock = new FakeClock();
  const search = new IndexSearch({
    clock,
    epoch: () => "e1",
    path: null,
    chat: null,
    source: SLOW,
    searchTimeoutMs: 1_000,
  });
  const finding = search.find(["slow"], [""], 50);
  await clock.advance(999);
  assert.equal(search.index.finding, 1);
  await clock.advance(1);
  const closing = search.close(); // the worker answers the slow find now
  await assert.rejects(
    finding,
    (e) =>
      e instanceof ProtocolError && e.code === "search-limit" &&
      /try again/.test(e.message),
  );
  await closing;
  assert.equal(search.index.finding, 0);
});
