/**
 * Whether Redis answers, for `/readyz` and `/metrics`: one `XLEN` of the
 * cluster's stream within a deadline, not timed into the command histogram,
 * and the servers alive as the cluster's heartbeat last counted them.
 *
 * @module
 */

import { describeError } from "../../log.ts";
import type { Cluster } from "./cluster.ts";
import { type RedisLink, timed } from "./redis.ts";

/** The longest a probe waits for Redis (`/readyz`, `/metrics`). */
export const PROBE_DEADLINE_MS = 1_000;

/** What {@linkcode probeRedis} found. */
export interface RedisProbe {
  /** Why Redis did not answer in time; null: it did. */
  readonly down: string | null;
  /** Servers alive in the cluster at the last heartbeat. */
  readonly servers: number;
  /** Entries in the cluster's stream. */
  readonly streamEntries: number;
}

/**
 * Asks Redis, within `deadlineMs`, how long the cluster's stream is: its
 * answer says that it answers (`/readyz`). Not timed into the command
 * histogram (a scrape is not the chat's traffic); the servers alive are
 * the `cluster`'s heartbeat's count, no extra call.
 */
export async function probeRedis(
  link: RedisLink,
  cluster: Cluster,
  deadlineMs = PROBE_DEADLINE_MS,
): Promise<RedisProbe> {
  const servers = cluster.servers;
  try {
    const entries = await timed(
      link.commands.sendCommand(["XLEN", link.keys.events]),
      deadlineMs,
    );
    return { down: null, servers, streamEntries: Number(entries) };
  } catch (error) {
    return {
      down: `Redis did not answer (${describeError(error)})`,
      servers,
      streamEntries: 0,
    };
  }
}
