/**
 * Flow control across servers: what a server reads from the stream at
 * once (after a pause, up to 1,000 entries an `XREAD`), and the private
 * messages other servers sent it meanwhile, reach its members no faster
 * than they read them, so a member that keeps reading is never dropped as
 * slow, however much the other servers said meanwhile.
 */

import assert from "node:assert/strict";
import { testCertificates, TestClient } from "../../_helpers.ts";
import { FAST_BEATS, withCluster } from "./_cluster.ts";

/** Lines this long (bytes of text). */
const LONG = 3900;
/** This many of them: about 800 KB, over three times --queue-bytes. */
const COUNT = 200;

/**
 * Heartbeats as {@linkcode FAST_BEATS}, and a server counted lost only
 * after 30 s: the pause below lasts as long as sending the lines takes,
 * which a loaded machine may stretch past the default 5 s (bob would then
 * be put out, and get BYE instead of the lines).
 */
const ARGS = [...FAST_BEATS, "--lost-after", "30"];

Deno.test("a member that keeps reading gets everything said on another server while its own was paused, and is not dropped as slow", async () => {
  const { ca } = await testCertificates();
  await withCluster(2, async ([s0, s1]) => {
    using alice = await TestClient.join(s0!.port, "alice", { ca: ca.cert });
    using bob = await TestClient.join(s1!.port, "bob", { ca: ca.cert });
    await alice.expect(/^JOIN bob 2$/);
    const pad = "x".repeat(LONG);
    // Bob's server stops (a long GC pause, a frozen VM) for less than
    // --lost-after while alice talks: its reader finds it all in
    // the stream when it goes on.
    s1!.child.kill("SIGSTOP");
    try {
      for (let i = 0; i < COUNT; i++) await alice.send(`${i} ${pad}`);
      await alice.expect(new RegExp(`^MSG alice ${COUNT - 1} `), 20_000);
    } finally {
      s1!.child.kill("SIGCONT");
    }
    for (let i = 0; i < COUNT; i++) {
      const line = await bob.expect(/^(MSG alice \d+ |BYE )/, 20_000);
      assert.equal(line.slice(0, 30), `MSG alice ${i} ${pad}`.slice(0, 30));
    }
  }, { args: ARGS });
});

Deno.test("a member that keeps reading gets every private message sent from another server while its own was paused, and is not dropped as slow", async () => {
  const { ca } = await testCertificates();
  await withCluster(2, async ([s0, s1]) => {
    using alice = await TestClient.join(s0!.port, "alice", { ca: ca.cert });
    using bob = await TestClient.join(s1!.port, "bob", { ca: ca.cert });
    await alice.expect(/^JOIN bob 2$/);
    const pad = "y".repeat(LONG);
    s1!.child.kill("SIGSTOP");
    try {
      for (let i = 0; i < COUNT; i++) await alice.send(`/msg bob ${i} ${pad}`);
      // Redis took each one for bob's server: it reads them when it goes on.
      for (let i = 0; i < COUNT; i++) {
        assert.match(await alice.expect(/^(SENT|ERR) /), /^SENT bob /);
      }
    } finally {
      s1!.child.kill("SIGCONT");
    }
    for (let i = 0; i < COUNT; i++) {
      const line = await bob.expect(/^(PRIV alice \d+ |BYE )/, 20_000);
      assert.equal(line.slice(0, 30), `PRIV alice ${i} ${pad}`.slice(0, 30));
    }
  }, { args: ARGS });
});
