/**
 * The {@linkcode SharedAccountRooms} of a cluster: one Redis string per
 * account (`ClusterKeys.accountRooms`, by its alias key), the JSON list of
 * the rooms it is in (`[{"room":"#ops","since":42}]`), written whole by the
 * server where it joined, parted, was kicked or banned, and read by the
 * server it logs into. A value that is not such a list is taken as none
 * (each server's own copy then stands).
 *
 * @module
 */

import { aliasKey } from "../../protocol.ts";
import type { AccountRoom, SharedAccountRooms } from "../room/room_store.ts";
import type { RedisLink } from "./redis.ts";

/** Accounts' rooms in Redis, shared by the servers of a cluster. */
export class RedisAccountRooms implements SharedAccountRooms {
  #link: RedisLink;

  /** The lists on `link`. */
  constructor(link: RedisLink) {
    this.#link = link;
  }

  /** See {@linkcode SharedAccountRooms.get}. */
  async get(account: string): Promise<AccountRoom[] | null> {
    const reply = await this.#link.command([
      "GET",
      this.#link.keys.accountRooms(aliasKey(account)),
    ]);
    return typeof reply === "string" ? parseAccountRooms(reply) : null;
  }

  /** See {@linkcode SharedAccountRooms.set}. */
  async set(account: string, rooms: readonly AccountRoom[]): Promise<void> {
    const list = rooms.map(({ room, since }) => ({ room, since }));
    await this.#link.command([
      "SET",
      this.#link.keys.accountRooms(aliasKey(account)),
      JSON.stringify(list),
    ]);
  }
}

/**
 * An account's rooms as stored (`[{room, since}]`, `since` a number or
 * null); null for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAccountRooms } from "./account_rooms.ts";
 *
 * assert.deepEqual(parseAccountRooms('[{"room":"#ops","since":4}]'), [
 *   { room: "#ops", since: 4 },
 * ]);
 * assert.equal(parseAccountRooms('{"room":"#ops"}'), null);
 * ```
 */
export function parseAccountRooms(raw: string): AccountRoom[] | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null; // not written by a server of ours
  }
  if (!Array.isArray(value)) return null;
  const rooms: AccountRoom[] = [];
  for (const entry of value as { room?: unknown; since?: unknown }[]) {
    const { room, since } = entry ?? {};
    const sinceOk = since === null || Number.isSafeInteger(since);
    if (typeof room !== "string" || !sinceOk) return null;
    rooms.push({ room, since: since as number | null });
  }
  return rooms;
}
