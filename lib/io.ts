/**
 * Byte I/O helpers shared by the server and the client. A writer may write
 * only part of a buffer (as `Deno.Conn.write` does); {@linkcode writeAll}
 * loops until everything is written.
 *
 * @module
 */

/** Where bytes go: `write` may write only part of `data`. */
export interface ByteWriter {
  write(data: Uint8Array): Promise<number>;
}

/**
 * Writes all of `data`, looping over partial writes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./io.ts";
 *
 * const seen: number[] = [];
 * const twoAtATime = {
 *   write: (data: Uint8Array) => {
 *     seen.push(...data.subarray(0, 2));
 *     return Promise.resolve(Math.min(2, data.length));
 *   },
 * };
 * await writeAll(twoAtATime, new Uint8Array([1, 2, 3, 4, 5]));
 * assert.deepEqual(seen, [1, 2, 3, 4, 5]);
 * ```
 */
export async function writeAll(
  writer: ByteWriter,
  data: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += await writer.write(data.subarray(written));
  }
}
