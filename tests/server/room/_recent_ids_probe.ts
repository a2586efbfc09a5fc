/**
 * A program for `recent_ids_deopt_test.ts`, run with V8's
 * `--allow-natives-syntax` and `--trace-deopt-verbose`: `RecentIds.has`
 * compiled by Maglev (V8's first optimizing tier) after two calls, then
 * 300,000 lookups in an empty window, which end on every cell of its
 * table (of 2,048), the first one too, about 150 times. Prints `probed`
 * and how many it found (none).
 *
 * @module
 */
// deno-lint-ignore-file no-console

import { RecentIds } from "../../../lib/server/room/recent_ids.ts";

/** V8's own functions: they parse only with `--allow-natives-syntax`. */
const prepare = new Function("f", "%PrepareFunctionForOptimization(f);") as (
  f: unknown,
) => void;
const optimizeOnNextCall = new Function(
  "f",
  "%OptimizeMaglevOnNextCall(f);",
) as (
  f: unknown,
) => void;

const ids = new RecentIds();
prepare(RecentIds.prototype.has);
ids.has("first");
ids.has("second");
optimizeOnNextCall(RecentIds.prototype.has);
let found = 0;
for (let i = 0; i < 300_000; i++) if (ids.has(`id-${i}`)) found++;
console.log("probed", found);
