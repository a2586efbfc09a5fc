/**
 * The bans, mutes and topic a cluster keeps in Redis for servers that
 * start later (running servers take each change from the room's log, in
 * its order): taken on by a server that starts, or given to a cluster
 * that has none yet (a new one, or one whose state Redis lost).
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import {
  type Moderation,
  readSharedSanctions,
  type SharedSanction,
  shareSanctions,
} from "../access/moderation.ts";
import type { Cluster } from "./cluster.ts";

/**
 * Takes on the cluster's bans and mutes (`take` applies them here) and
 * topic, or gives it this server's when it has none.
 */
export async function syncModeration(
  cluster: Pick<Cluster, "sanctions" | "setSanctions" | "topic" | "setTopic">,
  moderation: Moderation,
  take: (sanctions: readonly SharedSanction[]) => void,
  log: Logger,
): Promise<void> {
  const shared = await cluster.sanctions();
  if (shared !== null) {
    const sanctions = readSharedSanctions(shared);
    if (sanctions !== null) take(sanctions);
    else log.error("cluster-sanctions-unreadable", { bytes: shared.length });
  } else if (moderation.all().length > 0) {
    await cluster.setSanctions(shareSanctions(moderation.all()));
  }
  const topic = await cluster.topic();
  if (topic !== null) moderation.setTopic(topic);
  else if (moderation.topic !== null) await cluster.setTopic(moderation.topic);
}
