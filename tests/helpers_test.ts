/**
 * Tests of the test helpers themselves where they could make a test fail
 * by chance: the ports `freePort()` hands out.
 */

import assert from "node:assert/strict";
import { freePort } from "./_helpers.ts";

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
