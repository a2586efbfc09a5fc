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
