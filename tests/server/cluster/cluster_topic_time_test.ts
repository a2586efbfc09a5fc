/**
 * Who set a topic or a ban, and when, across servers: an operator on one
 * server sets the default room's topic, a room's topic and a room ban; a
 * server started later reads them from Redis (the topic key, the rooms'
 * snapshot), and an IRC client there gets 333 and 367 with the setter
 * and the time they were set (before: no 333, and the mask alone).
 * Real processes, real Redis, real TLS.
 */

import assert from "node:assert/strict";
import { testCertificates, TestClient } from "../../_helpers.ts";
import { addAccount, startServer, withCluster } from "./_cluster.ts";

/** Seconds since the epoch of a time in ms, as IRC gives set times. */
const seconds = (ms: number) => Math.floor(ms / 1000);

/** Reads the 333 right after a 332; returns its time (seconds). */
async function topicTime(
  irc: TestClient,
  room: string,
  text: string,
): Promise<number> {
  assert.match(
    await irc.expect(/ 33[12] /),
    new RegExp(` 332 ann ${room} :${text}$`),
  );
  const line = (await irc.readLine()) ?? "";
  const [, time] = new RegExp(` 333 ann ${room} op :?(\\d+)$`).exec(line) ??
    assert.fail(`Not a 333 after 332: ${line}`);
  return Number(time);
}

Deno.test("a server started later gives an IRC client 333 and 367 with the setter and time of a topic and a ban set on another server", async () => {
  const { ca } = await testCertificates();
  await withCluster(1, async ([s0], redis, dir) => {
    const before = Date.now();
    using op = await TestClient.connect(s0!.port, "localhost", ca.cert);
    await op.expect(/^HELLO /);
    await op.send("/cap rooms");
    await op.expect(/^CAP rooms$/);
    await op.send("op");
    await op.expect(/^PASSWORD /);
    await op.send("/pass op's password");
    await op.expect(/^CURRENT #lobby$/);
    await op.send("/topic Lobby topic");
    await op.expect(/^#lobby TOPIC op Lobby topic$/);
    await op.send("/join #ops");
    await op.expect(/^CURRENT #ops$/);
    await op.send("#ops /topic Ops topic");
    await op.expect(/^#ops TOPIC op Ops topic$/);
    await op.send("#ops /roomban mallory spam");
    await op.expect(/^#ops MOD ban mallory op /);
    const after = Date.now();
    const setAt = (time: number) =>
      assert.ok(
        time >= seconds(before) && time <= seconds(after),
        `${time} is not between ${seconds(before)} and ${seconds(after)}`,
      );
    await using s1 = await startServer(dir, "s1", redis, ["--irc-port", "0"]);
    try {
      const listening = await s1.output.waitFor(/INFO listening /);
      const ircPort = Number(/ irc=127\.0\.0\.1:(\d+)/.exec(listening)![1]);
      using irc = await TestClient.connect(ircPort, "localhost", ca.cert);
      for (
        const line of ["PASS :ann's password", "NICK ann", "USER u 0 * :A"]
      ) {
        await irc.send(line);
      }
      setAt(await topicTime(irc, "#lobby", "Lobby topic"));
      await irc.send("JOIN #ops");
      setAt(await topicTime(irc, "#ops", "Ops topic"));
      await irc.send("MODE #ops b");
      const ban = await irc.expect(/ 36[78] /);
      const [, time] = / 367 ann #ops mallory!\*@\* op :?(\d+)$/.exec(ban) ??
        assert.fail(`Not a 367 with setter and time: ${ban}`);
      setAt(Number(time));
    } catch (e) {
      (e as Error).message += `\n--- server 1 ---\n${s1.output}`;
      throw e;
    }
  }, {
    before: async (dir) => {
      await addAccount(dir, "s0", "op", true);
      await addAccount(dir, "s0", "mallory");
      await addAccount(dir, "s1", "ann", true);
    },
  });
});
