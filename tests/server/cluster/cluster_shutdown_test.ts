/**
 * Shutdown of cluster servers whose Redis is gone, with a real Redis and
 * real `server.ts` processes: told SIGTERM, each exits within its
 * `--shutdown-grace` for its clients plus its `--shutdown-grace` for Redis
 * (and a little), whether Redis hangs (paused: its connections stay open,
 * as a host that vanished) or was killed at the same moment; a line Redis
 * never took is logged, with a count, and so is the leave it did not take.
 */

import assert from "node:assert/strict";
import {
  type ServerProcess,
  testCertificates,
  TestClient,
} from "../../_helpers.ts";
import { withCluster } from "./_cluster.ts";

/** One second of grace for the clients, one for Redis. */
const GRACE = ["--shutdown-grace", "1"];

/** Well past both graces, well short of what a hang would take. */
const EXIT_WITHIN_MS = 4_000;

async function join(server: ServerProcess, alias: string) {
  const { ca } = await testCertificates();
  return await TestClient.join(server.port, alias, { ca: ca.cert });
}

/** SIGTERM; resolves to its exit code, failing past `EXIT_WITHIN_MS`. */
async function terminate(server: ServerProcess): Promise<number> {
  server.child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not exited within ${EXIT_WITHIN_MS} ms`)),
      EXIT_WITHIN_MS,
    );
  });
  try {
    return (await Promise.race([server.exited(), late])).code;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("Redis hangs (paused): cluster servers told SIGTERM exit in time, a line Redis never took logged with its count", async () => {
  // Redis has 0.3 s to answer; a line in doubt is sent again for 30 s.
  const args = [...GRACE, "--redis-timeout", "0.3", "--redis-retry", "30"];
  await withCluster(2, async ([s0, s1], redis) => {
    using alice = await join(s0!, "alice");
    redis.pause();
    try {
      await alice.send("never stored");
      await s0!.output.waitFor(/DEBUG history-in-doubt lines=1 /);
      const codes = await Promise.all([terminate(s0!), terminate(s1!)]);
      assert.deepEqual(codes, [0, 0]);
    } finally {
      redis.resume();
    }
    // Exited: its whole output is in.
    const said = String(s0!.output);
    assert.match(said, /ERROR history-failed what=shutdown lines=1 /);
    assert.match(said, /WARN redis-shutdown-cut /);
    assert.match(said, /WARN redis-leave-failed /);
  }, { args: [...args, "--log-level", "debug"] });
});

Deno.test("Redis killed as the servers are told SIGTERM: they exit in time", async () => {
  await withCluster(2, async ([s0, s1], redis) => {
    using _alice = await join(s0!, "alice");
    const killed = redis.kill();
    const codes = await Promise.all([terminate(s0!), terminate(s1!)]);
    assert.deepEqual(codes, [0, 0]);
    await killed;
  }, { args: GRACE });
});
