/**
 * Tests of the test helpers themselves where they could make a test fail
 * by chance: the ports `freePort()` hands out, what a server that fails to
 * start leaves running for the next test, and a Redis whose port was taken
 * between being chosen and being bound.
 */

import assert from "node:assert/strict";
import { freePort, ServerProcess, withTempDir } from "./_helpers.ts";
import { Redis } from "./_redis.ts";

Deno.test("freePort() never hands out one port twice in a process, though both are free when drawn", () => {
  const random = Math.random;
  let draws = 0;
  // The same draw twice: a server's chat and web ports asked one after
  // the other, neither bound yet (bundle_test.ts).
  Math.random = () => draws++ < 2 ? 0.5 : random();
  try {
    const first = freePort();
    const second = freePort();
    assert.notEqual(second, first);
  } finally {
    Math.random = random;
  }
});

Deno.test("ServerProcess.start() of a server that exits before listening leaves no timer running into the next test", async () => {
  await withTempDir(async (dir) => {
    const script = `${dir}/exits.ts`;
    await Deno.writeTextFile(script, "console.log('bye');\nDeno.exit(3);\n");
    await assert.rejects(
      ServerProcess.start([], [], { script }),
      /Server exited before listening[^]*bye/,
    );
  });
});

/** What a plain `PING` on 127.0.0.1:`port` is answered with. */
async function ping(port: number): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("PING\r\n"));
  const buffer = new Uint8Array(64);
  const read = await conn.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, read ?? 0));
}

Deno.test("Redis.start() moves to another port when its port was taken after being chosen", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    {
      // Someone else binds the port the kit chose before redis-server can.
      using _taken = Deno.listen({ hostname: "127.0.0.1", port: redis.port });
      await redis.start();
    }
    assert.equal(await ping(redis.port), "+PONG\r\n");
  });
});

Deno.test("Redis.start() again on a port taken while it was stopped fails naming the port and redis-server's words", async () => {
  await withTempDir(async (dir) => {
    await using redis = new Redis(dir);
    await redis.start();
    const url = redis.url();
    await redis.stop();
    {
      // A restart keeps its port (servers hold its URL): it cannot move.
      using _taken = Deno.listen({ hostname: "127.0.0.1", port: redis.port });
      await assert.rejects(
        redis.start(),
        new RegExp(
          `redis-server on port ${redis.port} exited before it was ready[^]*Address already in use`,
        ),
      );
    }
    assert.equal(redis.url(), url);
    await redis.start();
    assert.equal(await ping(redis.port), "+PONG\r\n");
  });
});
