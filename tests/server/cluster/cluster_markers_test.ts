/**
 * Read markers across a cluster: two `server.ts` processes on one real
 * Redis, the account on both. A `/read` on one server reaches the
 * account's connection on the other as `READ` (pub/sub), and the marker is
 * in Redis for both.
 */

import assert from "node:assert/strict";
import { TestClient } from "../../_helpers.ts";
import { addAccount, withCluster } from "./_cluster.ts";

/** Logs into account alice with `/cap seq`, renamed to `alias` if not alice. */
async function device(port: number, alias: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await client.expect(/^HELLO .*epoch=/);
  await client.send("/cap seq");
  await client.expect(/^CAP seq$/);
  await client.send("alice");
  await client.expect(/^PASSWORD account /);
  await client.send("/pass alice's password");
  await client.expect(/^WELCOME alice /);
  if (alias !== "alice") {
    await client.send(`/nick ${alias}`);
    await client.expect(new RegExp(`NICK alice ${alias} `));
  }
  return client;
}

Deno.test("cluster: a /read on one server reaches the account's connection on the other as READ", async () => {
  await withCluster(2, async ([s0, s1]) => {
    using phone = await device(s0!.port, "alice_phone");
    using laptop = await device(s1!.port, "alice");
    using guest = await TestClient.join(s0!.port, "gus");
    await guest.send("hello");
    await guest.expect(/^MSG gus hello$/);
    const line = await phone.expect(/MSG gus hello$/);
    const seq = Number(/@seq=(\d+)/.exec(line)![1]);
    await laptop.expect(/MSG gus hello$/);
    await phone.send(`/read ${seq}`);
    assert.equal(await laptop.expect(/^READ /), `READ ${seq}`);
  }, {
    before: async (dir) => {
      await addAccount(dir, "s0", "alice");
      await addAccount(dir, "s1", "alice");
    },
  });
});
