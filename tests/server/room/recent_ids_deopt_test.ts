/**
 * The window of ids's lookups stay small integers in V8's optimized code:
 * run in a process of its own with V8's deoptimization trace, none of its
 * functions is deoptimized for a number that is not one (a minus zero,
 * an overflow), which costs the busy server a compile again on its one
 * core (`docs/performance.md`, "Deoptimizations in c").
 */

import assert from "node:assert/strict";
import { runCommand } from "../../_helpers.ts";

/** Why V8 drops optimized code that took a number for a small integer. */
const NOT_A_SMALL_INTEGER =
  /reason: (overflow|minus zero|not a Smi|lost precision|NaN|not a Number)\)/;

Deno.test("RecentIds: no lookup is deoptimized for a number that is not a small integer", async () => {
  const { code, out } = await runCommand("deno", [
    "run",
    "--v8-flags=--allow-natives-syntax,--trace-deopt-verbose",
    "--allow-read",
    "tests/server/room/_recent_ids_probe.ts",
  ]);
  assert.equal(code, 0, out);
  assert.match(out, /probed 0/);
  const bailouts = out.split("[bailout (").slice(1)
    .filter((text) => text.includes("recent_ids.ts"))
    .map((text) => text.split("\n").slice(0, 2).join(" "));
  assert.deepEqual(
    bailouts.filter((text) => NOT_A_SMALL_INTEGER.test(`(${text}`)),
    [],
  );
});
