/**
 * A room's `JOIN` in a cluster's stream carries the room's record only
 * while the log knows no such room (its creation): every later `JOIN`
 * would carry the whole record (a long topic, up to 100 bans and 100
 * mutes with their reasons) to no one, as replicas and Redis ignore it.
 */

import assert from "node:assert/strict";
import {
  type ServerProcess,
  testCertificates,
  TestClient,
} from "../../_helpers.ts";
import type { Redis } from "../../_redis.ts";
import { streamEntries, withCluster } from "./_cluster.ts";

/** A client with `rooms` on `server`, joined as `alias`. */
async function member(server: ServerProcess, alias: string) {
  const { ca } = await testCertificates();
  const client = await TestClient.connect(server.port, "127.0.0.1", ca.cert);
  await client.expect(/^HELLO /);
  await client.send("/cap rooms");
  await client.expect(/^CAP rooms$/);
  await client.send(alias);
  await client.expect(/^CURRENT #lobby$/);
  return client;
}

/** Each `JOIN` of `room` in the stream: its alias and its entry's size. */
async function joins(redis: Redis, room: string) {
  return (await streamEntries(redis)).flatMap(([, fields]) => {
    const field = (name: string) => fields[fields.indexOf(name) + 1];
    const line = JSON.parse(field("l")!);
    if (field("r") !== room || line.type !== "JOIN") return [];
    return [{
      alias: line.alias as string,
      record: fields.includes("v"),
      bytes: fields.join("").length,
    }];
  });
}

Deno.test("a JOIN of a room the log knows carries no record: its stream entry stays small however long the topic", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using op = await member(s0!, "op");
    await op.send("/join #big");
    await op.expect(/^CURRENT #big$/);
    const topic = "t".repeat(3900);
    await op.send(`#big /topic ${topic}`);
    await op.expect(/^#big TOPIC op /);
    using bob = await member(s1!, "bob");
    for (let i = 0; i < 3; i++) {
      await bob.send("/join #big");
      // The replica on bob's server has the room's record all the same.
      assert.equal(await bob.expect(/^#big TOPIC /), `#big TOPIC op ${topic}`);
      await bob.expect(/^CURRENT #big$/);
      await bob.send("#big /who");
      assert.equal(await bob.expect(/^#big WHO /), "#big WHO 2 bob @op");
      await bob.send("/part #big");
      await op.expect(/^#big LEAVE bob /);
    }
    const seen = await joins(redis, "#big");
    assert.deepEqual(seen.map((j) => [j.alias, j.record]), [
      ["op", true],
      ["bob", false],
      ["bob", false],
      ["bob", false],
    ]);
    // It carried the 3,900-byte topic each time.
    for (const { bytes } of seen.slice(1)) assert.ok(bytes < 500, `${bytes}`);
  }, { args: ["--room-create", "any"] });
});
