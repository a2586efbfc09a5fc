/**
 * Whether a Redis command that failed may have run all the same: Redis
 * answered it with an error, or it was never written (the link was down,
 * the command's deadline passed before it could be, or the connection
 * broke while it waited for node-redis's write), and then it surely did
 * not; otherwise (the connection broke, or the deadline passed, once it
 * was written) it may have.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import {
  ClientClosedError,
  ClientOfflineError,
  ErrorReply,
  TimeoutError,
} from "redis";

/**
 * A command's failure before it was written: the connection broke (or was
 * dropped) while the command waited for node-redis's next write. Its
 * message is the failure's, which is its `cause`.
 */
export class UnwrittenError extends Error {
  /** `cause`, the failure of a command that was never written. */
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "UnwrittenError";
  }
}

/**
 * Whether a failed command surely did not run: Redis answered it with an
 * error, or it was never written (the link was down, or could not take it
 * before the deadline, or broke before node-redis wrote it). Otherwise
 * (the deadline passed once it was written, the connection broke) it may
 * have run.
 */
export function surelyNotRun(error: unknown): boolean {
  return error instanceof ErrorReply || error instanceof ClientOfflineError ||
    error instanceof ClientClosedError || error instanceof TimeoutError ||
    error instanceof UnwrittenError;
}

/**
 * `client.sendCommand(args)`, its failure an {@linkcode UnwrittenError}
 * when it came before the command was written (unless it already tells
 * so, as a `ClientOfflineError`). node-redis takes a command
 * while its connection looks ready and writes it in an immediate
 * (`setImmediate`) scheduled by the time `sendCommand` returns; immediates
 * run in order, so until the one scheduled here has run, the command was
 * not written. A connection whose close is seen in between (Redis stopped
 * just before) rejects it with the error of one written and lost: without
 * this, an append refused for sure would be held in doubt (`--redis-retry`).
 */
export function sendTracked(
  client: { sendCommand(args: readonly string[]): Promise<unknown> },
  args: readonly string[],
): Promise<unknown> {
  const answer = client.sendCommand(args);
  let written = false;
  const mark = setImmediate(() => written = true);
  return answer.then((reply) => {
    clearImmediate(mark);
    return reply;
  }, (error) => {
    clearImmediate(mark);
    throw written || surelyNotRun(error) ? error : new UnwrittenError(error);
  });
}
