/**
 * Resume in a cluster of two `server.ts` processes on a real Redis: the
 * numbers come from the one stream, so a client that was on one server
 * catches up on the other, and both servers say the same epoch.
 */

import assert from "node:assert/strict";
import {
  type ServerProcess,
  testCertificates,
  TestClient,
} from "../../_helpers.ts";
import { withCluster } from "./_cluster.ts";

/** Connects to `server` with `resume` on, sends `resume`, joins as `alias`. */
async function resumer(server: ServerProcess, alias: string, resume?: string) {
  const { ca } = await testCertificates();
  const client = await TestClient.connect(server.port, "127.0.0.1", ca.cert);
  const hello = await client.expect(/^HELLO /);
  const epoch = /,epoch=([\w-]+)/.exec(hello)![1]!;
  await client.send("/cap resume");
  await client.expect(/^CAP seq resume$/);
  if (resume !== undefined) await client.send(resume);
  await client.send(alias);
  await client.expect(new RegExp(`^WELCOME ${alias} `));
  return { client, epoch };
}

Deno.test("a cluster: a client that was on one server catches up with what it missed on the other", async () => {
  await withCluster(2, async ([s0, s1]) => {
    const amy = await resumer(s0!, "amy");
    const { ca } = await testCertificates();
    using bob = await TestClient.connect(s1!.port, "127.0.0.1", ca.cert);
    await bob.expect(/^HELLO /);
    await bob.send("bob");
    await bob.expect(/^WELCOME bob /);
    await bob.send("before");
    const seen = await amy.client.expect(/^@seq=\d+;time=\S+ MSG bob before$/);
    const last = Number(/^@seq=(\d+)/.exec(seen)![1]);
    amy.client.server.close();
    await bob.expect(/^LEAVE amy /);
    await bob.send("missed one");
    await bob.send("missed two");
    await bob.expect(/^MSG bob missed two$/);
    const back = await resumer(s1!, "amy", `/resume ${amy.epoch} ${last}`);
    assert.equal(back.epoch, amy.epoch, "one epoch for the cluster");
    const resumed = await back.client.expect(/^RESUMED /);
    const caught = back.client.received.filter((l) => l.startsWith("@seq="));
    assert.deepEqual(
      caught.map((l) => l.replace(/^@seq=\d+;time=\S+ /, "")).filter((l) =>
        l.startsWith("MSG")
      ),
      [
        "MSG bob missed one",
        "MSG bob missed two",
      ],
    );
    assert.match(resumed, /^RESUMED \d+ 0 /);
    await bob.send("live");
    await back.client.expect(/^@seq=\d+;time=\S+ MSG bob live$/);
    back.client.server.close();
  }, { args: ["--history", "3", "--resume-grace", "0"] });
});

Deno.test("a cluster: a member held on a server that then stops is taken over on another with its token at once; /msg to it meanwhile is refused as away; nobody sees it leave or join", async () => {
  await withCluster(2, async ([a, b]) => {
    const { ca } = await testCertificates();
    const alice = await resumer(a!, "alice");
    const token = /^RESUME (\S+) /.exec(
      await alice.client.expect(/^RESUME /),
    )![1]!;
    using amy = await TestClient.connect(a!.port, "127.0.0.1", ca.cert);
    await amy.expect(/^HELLO /);
    await amy.send("amy");
    await amy.expect(/^WELCOME amy /);
    using bob = await TestClient.connect(b!.port, "127.0.0.1", ca.cert);
    await bob.expect(/^HELLO /);
    await bob.send("bob");
    await bob.expect(/^WELCOME bob /);
    const last = Number(
      /^@seq=(\d+)/.exec(
        await alice.client.expect(/^@seq=\d+\S* JOIN bob /),
      )![1],
    );
    // Alice's connection drops: its server holds it.
    alice.client.server.close();
    await a!.output.waitFor(/ INFO held alias=alice/);
    // Its server tells Redis right after: until then a /msg goes through.
    let answer = "";
    for (let tries = 0; !answer.startsWith("ERR") && tries < 50; tries++) {
      await bob.send("/msg alice are you there?");
      answer = await bob.expect(/^(ERR|SENT) /);
    }
    assert.equal(answer, "ERR away alice is reconnecting; try again shortly");
    await bob.send("said while alice was away");
    await bob.expect(/^MSG bob said while/);
    // Its server stops too; alice comes back on the other one at once.
    a!.child.kill("SIGSTOP");
    try {
      using back = await TestClient.connect(b!.port, "127.0.0.1", ca.cert);
      await back.expect(/^HELLO /);
      await back.send("/cap resume");
      await back.expect(/^CAP seq resume$/);
      await back.send(`/resume ${alice.epoch} ${last} ${token}`);
      assert.match(await back.expect(/^(WELCOME|ERR) /), /^WELCOME alice 3 /);
      await back.expect(
        /^@seq=\d+;time=\S+ MSG bob said while alice was away$/,
      );
      assert.match(await back.expect(/^RESUMED /), /^RESUMED \d+ 0 /);
      const renewed = await back.expect(/^RESUME /);
      assert.notEqual(renewed.split(" ")[1], token);
      await back.send("back, on the other server");
      await bob.expect(/^MSG alice back, on the other server$/);
      a!.child.kill("SIGCONT");
      // Its old server let it go unannounced: amy there sees it speak on.
      await amy.expect(/^MSG alice back, on the other server$/);
      await bob.send("/who");
      assert.equal(await bob.expect(/^WHO /), "WHO 3 alice amy bob");
      await amy.send("/who");
      assert.equal(await amy.expect(/^WHO /), "WHO 3 alice amy bob");
      for (const watcher of [amy, bob]) {
        assert.deepEqual(
          watcher.received.filter((l) => /^(JOIN|LEAVE) alice/.test(l)),
          [],
        );
      }
      await a!.output.waitFor(/ INFO moved alias=alice/);
      for (const server of [a!, b!]) {
        assert.ok(!server.output.lines.some((line) => line.includes(token)));
      }
    } finally {
      a!.child.kill("SIGCONT");
    }
  }, { args: ["--history", "3", "--resume-grace", "30"] });
});
