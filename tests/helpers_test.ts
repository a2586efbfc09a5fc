/**
 * Tests of the test helpers themselves where they could make a test fail
 * by chance: the ports `freePort()` hands out, and what a server that
 * fails to start leaves running for the next test.
 */

import assert from "node:assert/strict";
import { freePort, ServerProcess, withTempDir } from "./_helpers.ts";

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
