/**
 * `PacedSends`: lines from elsewhere go out in order, at once while the
 * room is ready, held while it is not, and dropped for members gone
 * meanwhile.
 */

import assert from "node:assert/strict";
import { PacedSends } from "../../../lib/server/room/paced_sends.ts";
import type { ServerLine } from "../../../lib/server_lines.ts";

const priv = (text: string): ServerLine => ({
  type: "PRIV",
  alias: "alice",
  text,
});

Deno.test("PacedSends sends at once while ready, holds in order while not, and drops lines for members gone", async () => {
  let wait: PromiseWithResolvers<void> | null = null;
  const here = new Set(["bob", "carol"]);
  const sent: string[] = [];
  const paced = new PacedSends<string>({
    ready: () => wait?.promise,
    send: (member, line) =>
      sent.push(`${member}:${"text" in line && line.text}`),
    has: (member) => here.has(member),
  });
  paced.send("bob", priv("1"));
  assert.deepEqual(sent, ["bob:1"], "sent in the same turn");
  wait = Promise.withResolvers();
  paced.send("bob", priv("2"));
  paced.send("carol", priv("3"));
  paced.send("bob", priv("4"));
  await Promise.resolve();
  assert.deepEqual(sent, ["bob:1"], "held while a queue is over its mark");
  here.delete("carol");
  const free = wait;
  wait = null;
  free.resolve();
  // The queue awaited it first: it went on before this does.
  await free.promise;
  assert.deepEqual(sent, ["bob:1", "bob:2", "bob:4"]);
  paced.send("bob", priv("5"));
  assert.deepEqual(sent.at(-1), "bob:5", "at once again");
});
