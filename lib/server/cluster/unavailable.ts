/**
 * What a member is told when the cluster cannot do what it asked: Redis
 * failing, or this server not beating in the cluster just now.
 *
 * @module
 */

import { ProtocolError } from "../../protocol.ts";
import { NotBeating } from "./cluster.ts";

/**
 * Runs `call`; when Redis fails it, the member is told (`ERR unavailable`)
 * and stays: an outage is never a reason to drop anyone.
 */
export async function orUnavailable<T>(
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    if (error instanceof NotBeating) {
      throw new ProtocolError(
        "unavailable",
        `Cannot ${what} now: this server is joining the room's other servers again; try again in a moment`,
        { cause: error },
      );
    }
    throw new ProtocolError(
      "unavailable",
      `Cannot ${what} now: the room's servers cannot reach each other; try again`,
      { cause: error },
    );
  }
}
