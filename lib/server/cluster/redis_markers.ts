/**
 * The {@linkcode ReadMarkers} of a cluster: a Redis hash per account
 * (`ClusterKeys.readMarkers`: room -> `EPOCH SEQ TURN`), changed by one
 * script so that two servers setting the same marker at once keep the
 * larger. A marker that grew is told to this server's listeners at once
 * and published (`ClusterKeys.reads`) to the others, which tell theirs.
 * Pub/sub may lose a message while a link is down: a device then misses
 * that one `READ` line, never the marker (the next login reads the hash).
 *
 * @module
 */

import { describeError, type Logger } from "../../log.ts";
import { aliasKey } from "../../protocol.ts";
import {
  isReadMarker,
  markersPerAccount,
  type ReadListener,
  type ReadMark,
  type ReadMarker,
  type ReadMarkers,
} from "../room/read_markers.ts";
import type { RedisLink } from "./redis.ts";

/**
 * Sets the marker of room ARGV[1] in hash KEYS[1] to epoch ARGV[2], number
 * ARGV[3] if it grows (`grows()` in `read_markers.ts`): 1 if it did, else
 * 0. A room new to a hash of ARGV[4] markers pushes out the one set
 * longest ago (the smallest TURN).
 */
const SET_MARKER = `
local room, epoch, seq, most = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
local turn, count, old, oldest, oldestTurn = 0, 0, nil, nil, nil
for i = 1, #all, 2 do
  local e, s, t = string.match(all[i + 1], '^(%S+) (%d+) (%d+)$')
  if e then
    t = tonumber(t)
    count = count + 1
    if t > turn then turn = t end
    if all[i] == room then
      old = {e, tonumber(s)}
    elseif not oldestTurn or t < oldestTurn then
      oldest, oldestTurn = all[i], t
    end
  end
end
if old and old[1] == epoch and old[2] >= seq then return 0 end
if not old and count >= most and oldest then redis.call('HDEL', KEYS[1], oldest) end
redis.call('HSET', KEYS[1], room, epoch .. ' ' .. ARGV[3] .. ' ' .. (turn + 1))
return 1`;

/** What a server publishes when a marker grew. */
interface ReadNews extends ReadMark {
  readonly server: string;
  readonly account: string;
}

/** Accounts' read markers in Redis, shared by the servers of a cluster. */
export class RedisReadMarkers implements ReadMarkers {
  #link: RedisLink;
  /** Put in what it publishes: its own news is not heard back. */
  #server: string;
  #most: number;
  #log: Logger;
  #listeners: ReadListener[] = [];

  private constructor(
    link: RedisLink,
    options: RedisReadMarkersOptions,
  ) {
    this.#link = link;
    this.#server = crypto.randomUUID();
    this.#most = markersPerAccount(options);
    this.#log = options.log;
  }

  /** The markers on `link`, hearing what the other servers set. */
  static async open(
    link: RedisLink,
    options: RedisReadMarkersOptions,
  ): Promise<RedisReadMarkers> {
    const markers = new RedisReadMarkers(link, options);
    await link.subscriber.subscribe(
      link.keys.reads,
      (raw) => markers.#heard(raw),
    );
    return markers;
  }

  /** See {@linkcode ReadMarkers.get}. */
  async get(account: string): Promise<ReadonlyMap<string, ReadMarker>> {
    const reply = await this.#link.command([
      "HGETALL",
      this.#link.keys.readMarkers(aliasKey(account)),
    ]);
    const markers = new Map<string, ReadMarker>();
    for (const [room, value] of fields(reply)) {
      const [epoch = "", seq = ""] = String(value).split(" ");
      const marker = { epoch, seq: /^\d{1,16}$/.test(seq) ? Number(seq) : -1 };
      if (isReadMarker(marker)) markers.set(room, marker);
    }
    return markers;
  }

  /** See {@linkcode ReadMarkers.set}. */
  async set(account: string, mark: ReadMark): Promise<boolean> {
    const key = aliasKey(account);
    const grew = await this.#link.command([
      "EVAL",
      SET_MARKER,
      "1",
      this.#link.keys.readMarkers(key),
      mark.room,
      mark.epoch,
      String(mark.seq),
      String(this.#most),
    ]);
    if (Number(grew) !== 1) return false;
    this.#tell(key, mark);
    const news: ReadNews = { ...mark, account: key, server: this.#server };
    await this.#link.command([
      "PUBLISH",
      this.#link.keys.reads,
      JSON.stringify(news),
    ]).catch((error) =>
      this.#log.warn("read-not-published", { error: describeError(error) })
    );
    return true;
  }

  /** See {@linkcode ReadMarkers.watch}: every server's markers. */
  watch(listener: ReadListener): void {
    this.#listeners.push(listener);
  }

  /** What another server published (this server's own echo ignored). */
  #heard(raw: string): void {
    let news: Partial<ReadNews> | null = null;
    try {
      news = JSON.parse(raw);
    } catch {
      return; // not from a server of ours
    }
    const { server, account, room, epoch, seq, by } = news ?? {};
    if (
      server === this.#server || typeof server !== "string" ||
      typeof account !== "string" || typeof room !== "string" ||
      typeof by !== "string" || typeof epoch !== "string" ||
      typeof seq !== "number" || !isReadMarker({ epoch, seq })
    ) return;
    this.#tell(account, { room, epoch, seq, by });
  }

  #tell(account: string, mark: ReadMark): void {
    for (const listener of this.#listeners) listener(account, mark);
  }
}

/** Options of {@linkcode RedisReadMarkers.open}. */
export interface RedisReadMarkersOptions {
  readonly maxRoomsPerMember: number;
  readonly log: Logger;
}

/**
 * A hash's fields and values from `HGETALL`: node-redis hands them as an
 * object (a flat list in earlier releases).
 */
function fields(reply: unknown): [string, unknown][] {
  if (!Array.isArray(reply)) {
    return Object.entries((reply ?? {}) as Record<string, unknown>);
  }
  const pairs: [string, unknown][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    pairs.push([String(reply[i]), reply[i + 1]]);
  }
  return pairs;
}
