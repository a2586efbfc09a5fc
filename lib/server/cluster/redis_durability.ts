/**
 * At start, whether the cluster's Redis keeps what it acknowledged: its
 * persistence and eviction settings read with `CONFIG GET`, a warning for
 * each one that may lose what the room has echoed.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import type { RedisLink } from "./redis.ts";

/**
 * Warns when Redis may lose what it acknowledged (then an echo no longer
 * means "kept"): no AOF, AOF not synced on every write, or keys evicted
 * under memory pressure. A Redis that hides CONFIG is taken on trust.
 */
export async function checkDurability(
  link: RedisLink,
  log: Logger,
): Promise<void> {
  const wanted: Record<string, string> = {
    appendonly: "yes",
    appendfsync: "always",
    "maxmemory-policy": "noeviction",
  };
  try {
    for (const [name, value] of Object.entries(wanted)) {
      const reply = await link.command(["CONFIG", "GET", name]);
      const actual = Array.isArray(reply)
        ? reply[1]
        : (reply as Record<string, string>)[name];
      if (actual !== undefined && String(actual) !== value) {
        log.warn("redis-not-durable", {
          setting: name,
          is: String(actual),
          want: value,
          hint:
            "Redis may lose messages the room has echoed (README: Several servers)",
        });
      }
    }
  } catch {
    // CONFIG is disabled (managed Redis): nothing to check.
  }
}
