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
  readTopic,
  type SharedSanction,
  shareSanctions,
  type Topic,
} from "../access/moderation.ts";
import type { RedisLink } from "./redis.ts";

/** The bans, mutes and topic kept in Redis for servers that start later. */
export class SharedModeration {
  #link: RedisLink;

  /** Keeps them through `link`. */
  constructor(link: RedisLink) {
    this.#link = link;
  }

  /**
   * The bans and mutes in force in the cluster, as one JSON text
   * (`shareSanctions`); null when none were ever shared.
   */
  async sanctions(): Promise<string | null> {
    const raw = await this.#link.command([
      "GET",
      this.#link.keys.sanctions,
    ]);
    return raw === null ? null : String(raw);
  }

  /** Keeps the bans and mutes in force (JSON) for servers that start later. */
  async setSanctions(shared: string): Promise<void> {
    await this.#link.command([
      "SET",
      this.#link.keys.sanctions,
      shared,
    ]);
  }

  /** The cluster's topic, read as any stored topic is (`readTopic`). */
  async topic(): Promise<Topic | null> {
    const raw = await this.#link.command([
      "GET",
      this.#link.keys.topic,
    ]);
    return raw === null ? null : readTopic(JSON.parse(String(raw)));
  }

  /** Keeps the room's topic (and its time) for servers that start later. */
  async setTopic(topic: Topic): Promise<void> {
    await this.#link.command([
      "SET",
      this.#link.keys.topic,
      JSON.stringify(topic),
    ]);
  }
}

/** What {@linkcode syncModeration} uses of a {@linkcode SharedModeration}. */
export type ModerationKept = Pick<
  SharedModeration,
  "sanctions" | "setSanctions" | "topic" | "setTopic"
>;

/**
 * Takes on the cluster's bans and mutes (`take` applies them here) and
 * topic, or gives it this server's when it has none.
 */
export async function syncModeration(
  cluster: ModerationKept,
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
