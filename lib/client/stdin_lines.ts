/**
 * The lines a piped client reads from stdin: decoded UTF-8, framed on
 * bytes with a cap, so that a line longer than the cap is skipped (and
 * said so) without ever being buffered whole.
 *
 * @module
 */

import { LineFramer } from "../framing.ts";

/**
 * Lines of `readable`, decoded, without their line ends (LF or CRLF); a
 * last line without one too. A line over `maxLineBytes` is not yielded:
 * `skipped` is called instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readLines } from "./stdin_lines.ts";
 *
 * const bytes = new TextEncoder().encode("hi\r\nthis is too long\nbye");
 * let skipped = 0;
 * const lines = await Array.fromAsync(
 *   readLines(ReadableStream.from([bytes]), 8, () => skipped++),
 * );
 * assert.deepEqual(lines, ["hi", "bye"]);
 * assert.equal(skipped, 1);
 * ```
 */
export async function* readLines(
  readable: ReadableStream<Uint8Array>,
  maxLineBytes: number,
  skipped: () => void,
): AsyncGenerator<string> {
  const framer = new LineFramer(maxLineBytes);
  const decoder = new TextDecoder();
  for await (const chunk of readable) {
    for (const line of framer.push(chunk)) {
      if (typeof line === "symbol") {
        skipped();
        continue;
      }
      yield decoder.decode(line);
    }
  }
  const last = framer.flush();
  if (last === null) return;
  if (typeof last === "symbol") skipped();
  else yield decoder.decode(last);
}
