/**
 * End-to-end tests of what `client.ts` (a real process, on a terminal and
 * in a pipe) says of a line the room could not store: an in-process
 * server whose database is full answers it `ERR unavailable`, and the
 * client shows the line with the server's reason; a pipe exits 3.
 */

import assert from "node:assert/strict";
import { openStore, type Store } from "../../lib/server/storage/store.ts";
import {
  PipeClient,
  startServer,
  TerminalClient,
  TestClient,
  withClientFlags,
  withTempDir,
} from "../_helpers.ts";

/**
 * Lets the database grow no more, then has `client` send tiny messages
 * until one is refused: every line after it is refused too.
 */
async function fill(store: Store, client: TestClient): Promise<void> {
  const { page_count: pages } = store.db.prepare("PRAGMA page_count")
    .get() as { page_count: number };
  store.db.exec(`PRAGMA max_page_count = ${pages}`);
  for (let i = 0;; i++) {
    assert.ok(i < 5000, "the database never filled up");
    await client.send("x");
    const got = await client.expect(/^(MSG al x|ERR unavailable .*)$/);
    if (got.startsWith("ERR ")) return;
  }
}

const WHY = "the room cannot store messages right now; try again later";

Deno.test("client.ts shows a line the room could not store with the server's reason, on a terminal and in a pipe (which exits 3)", async () => {
  await withTempDir(async (dir) => {
    using store = openStore(dir);
    await using s = await startServer("node", [], { store });
    await withClientFlags(s.port, async (permissions, flags) => {
      const args = (alias: string) => [
        ...flags,
        "--no-reconnect",
        "--alias",
        alias,
      ];
      await using term = new TerminalClient(permissions, args("tina"));
      let at = await term.waitFor(/tina #lobby> /);
      await using bot = new PipeClient(permissions, args("bot"));
      await bot.output.waitFor(/^-!- Welcome, bot! /);
      using al = await TestClient.join(s.port, "al");
      await fill(store, al);
      await term.type("hi there\r");
      at = await term.waitFor(
        new RegExp(`! Not sent: hi there \\(${WHY}\\)\n`),
        at,
      );
      await bot.send("from a script");
      const code = await bot.finish();
      const said = bot.output.lines.join("\n");
      assert.ok(
        bot.output.lines.includes(`! Not sent: from a script (${WHY})`),
        said,
      );
      assert.equal(code, 3, said);
      assert.ok(
        bot.output.lines.includes(
          '1 line refused or perhaps not sent (the "!" lines above): exit status 3',
        ),
        said,
      );
      await term.type("/quit\r");
      assert.equal(await term.exited(), 0);
    });
  });
});
