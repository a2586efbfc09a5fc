/**
 * Asking a person for a secret on a terminal, without echo, for the role
 * scripts (`users.ts`): raw mode, Backspace edits, Enter ends, Ctrl-C or
 * Ctrl-D gives up. Nothing typed is ever written back to the terminal.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Writes `question` to stderr and reads one line from the terminal on stdin
 * without echoing it. Resolves to null when the person gives up (Ctrl-C,
 * Ctrl-D, end of input). Stdin must be a terminal.
 */
export async function promptSecret(question: string): Promise<string | null> {
  await Deno.stderr.write(encoder.encode(question));
  Deno.stdin.setRaw(true);
  const typed: number[] = [];
  const buffer = new Uint8Array(64);
  try {
    while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return null;
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 0x03 || byte === 0x04) return null; // Ctrl-C, Ctrl-D
        if (byte === 0x0d || byte === 0x0a) {
          return decoder.decode(Uint8Array.from(typed));
        }
        if (byte === 0x7f || byte === 0x08) {
          // Backspace: drop the last character, all of its UTF-8 bytes.
          let last: number | undefined;
          do last = typed.pop(); while (
            last !== undefined && (last & 0xc0) === 0x80
          );
        } else if (byte >= 0x20) {
          typed.push(byte);
        }
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
}
