/**
 * Small timing helpers shared by the server parts: an abortable delay. They
 * leave no timer behind once settled, so tests with the op sanitizer pass.
 *
 * @module
 */

/**
 * Waits `ms` milliseconds. Resolves to true when the time passed, or to false
 * as soon as `signal` aborts (immediately if it already has).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { delay } from "./async.ts";
 *
 * assert.equal(await delay(1), true);
 * assert.equal(await delay(60_000, AbortSignal.abort()), false);
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
