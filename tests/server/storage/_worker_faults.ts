/**
 * The search index's worker with a fault put in front of it, for tests: a
 * worker program that ends (throws) once, on a given message.
 */

import workerSource from "../../../lib/server/storage/index_worker.js" with {
  type: "text",
};

/**
 * The worker's program, ending once (the file `flag` says it did) at the
 * first message `op` (an `add` only if one of its lines says `text`),
 * before handling it.
 */
export function endingOnce(flag: string, op: string, text?: string): string {
  return `self.addEventListener("message", (event) => {
    const { data } = event;
    if (data.op !== ${JSON.stringify(op)}) return;
    if (${JSON.stringify(text ?? null)} !== null &&
      !data.lines.some((l) => l.text === ${JSON.stringify(text)})) return;
    try { Deno.statSync(${
    JSON.stringify(flag)
  }); return; } catch { /* first */ }
    Deno.writeTextFileSync(${JSON.stringify(flag)}, "");
    event.stopImmediatePropagation();
    throw new Error("the worker fell over");
  });
  ${workerSource}`;
}

/** The worker's program, ending once at the first line `crash` added. */
export const crashingOnce = (flag: string): string =>
  endingOnce(flag, "add", "crash");
