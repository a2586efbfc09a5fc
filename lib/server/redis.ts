/**
 * The link to Redis of a cluster of servers forming one room: three
 * connections (commands; a blocking stream reader; a subscriber for what
 * servers tell each other), the cluster's key names, and the Lua scripts
 * that make every change of the room's membership atomic with the event
 * that announces it. The room's order is a Redis Stream whose entry IDs
 * are `SEQ-0`, SEQ counted by the scripts from 1, with no gaps.
 *
 * Commands fail at once while Redis is unreachable (no offline queue): a
 * message that cannot be appended is reported, never held and sent late.
 * The client reconnects by itself, with a backoff.
 *
 * @module
 */

import { createClient } from "redis";
import { describeError, type Logger } from "../log.ts";
import { redact } from "./config.ts";

/** A node-redis client, as this module uses it. */
export interface RedisClient {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  sendCommand(args: readonly string[]): Promise<unknown>;
  subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "ready", listener: () => void): unknown;
  readonly isReady: boolean;
  duplicate(): RedisClient;
}

/** The cluster's keys in Redis, under `tlschat:{NAME}:`. */
export interface ClusterKeys {
  /** The stream of room events (the room's order). */
  readonly events: string;
  /** The last event number given. */
  readonly seq: string;
  /** Members by alias key: JSON {@linkcode MemberRecord}. */
  readonly members: string;
  /** Alias keys by look-alike skeleton. */
  readonly skeletons: string;
  /** Alias keys by join order (score: the JOIN's number). */
  readonly order: string;
  /** Servers by the time their heartbeat runs out (ms since the epoch). */
  readonly servers: string;
  /** Bans and mutes in force: JSON by id. */
  readonly sanctions: string;
  /** The room's topic: JSON `{ text, by }`. */
  readonly topic: string;
  /** A server's own members (alias keys). */
  serverMembers(server: string): string;
  /** What is said to one server (private messages, moderation). */
  channel(server: string): string;
  /** What is said to every server. */
  readonly everyone: string;
}

/** What Redis keeps about a member. */
export interface MemberRecord {
  /** Member id, unique in the cluster (`SERVER/N`). */
  readonly id: string;
  readonly server: string;
  readonly alias: string;
  readonly account: string | null;
  readonly host: string;
  readonly operator: boolean;
}

/** The keys of cluster `name`. */
export function clusterKeys(name: string): ClusterKeys {
  const base = `tlschat:{${name}}:`;
  return {
    events: `${base}events`,
    seq: `${base}seq`,
    members: `${base}members`,
    skeletons: `${base}skeletons`,
    order: `${base}order`,
    servers: `${base}servers`,
    sanctions: `${base}sanctions`,
    topic: `${base}topic`,
    serverMembers: (server) => `${base}server:${server}`,
    channel: (server) => `${base}to:${server}`,
    everyone: `${base}to:all`,
  };
}

// Shared by the scripts: an event appended with the next number.
const XADD_EVENT = `
local function xadd(time, origin, line, note)
  local seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], seq .. '-0',
    't', time, 'o', origin, 'l', line, 'n', note)
  return seq
end
local function remove(key, reason, text, note, time)
  local raw = redis.call('HGET', KEYS[3], key)
  if not raw then return 0 end
  local m = cjson.decode(raw)
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[5], key)
  redis.call('SREM', 'tlschat:{' .. ARGV[2] .. '}:server:' .. m.server, key)
  local skel = m.skeleton
  if skel and redis.call('HGET', KEYS[4], skel) == key then
    redis.call('HDEL', KEYS[4], skel)
  end
  local online = redis.call('HLEN', KEYS[3])
  xadd(time, m.id, cjson.encode({type = 'LEAVE', alias = m.alias,
    online = tostring(online), reason = reason, text = text}), note)
  return 1
end
`;

/**
 * The scripts. Every one takes KEYS = events, seq, members, skeletons,
 * order and ARGV[1] = the stream's MAXLEN, ARGV[2] = the cluster name.
 */
export const SCRIPTS = {
  /**
   * ARGV[3..]: (time, origin, line JSON, note) quadruples. Returns the
   * first seq.
   */
  append: `${XADD_EVENT}
local first = nil
for i = 3, #ARGV, 4 do
  local seq = xadd(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  first = first or seq
end
return first`,
  /**
   * ARGV[3] key, [4] skeleton, [5] record JSON, [6] replace (1/0),
   * [7] time, [8] old key when renaming ('' to join). Returns
   * {'ok', online} or {'taken', alias} or {'lookalike', alias}.
   */
  claim: `${XADD_EVENT}
local key, skel, rec, replace, time, old = ARGV[3], ARGV[4], ARGV[5],
  ARGV[6] == '1', ARGV[7], ARGV[8]
local me = cjson.decode(rec)
local holder = redis.call('HGET', KEYS[3], key)
if holder then
  local h = cjson.decode(holder)
  if h.id ~= me.id then
    if not replace then return {'taken', h.alias} end
    remove(key, 'replaced', '',
      'Disconnected: "' .. h.alias .. '" logged in from another connection',
      time)
  end
end
if not replace then
  local other = redis.call('HGET', KEYS[4], skel)
  if other and other ~= key and other ~= old then
    local o = redis.call('HGET', KEYS[3], other)
    if o then return {'lookalike', cjson.decode(o).alias} end
  end
end
local was = nil
if old ~= '' then
  local raw = redis.call('HGET', KEYS[3], old)
  if raw then was = cjson.decode(raw) end
  if was and was.id == me.id then
    redis.call('HDEL', KEYS[3], old)
    redis.call('SREM', 'tlschat:{' .. ARGV[2] .. '}:server:' .. me.server, old)
    if was.skeleton and redis.call('HGET', KEYS[4], was.skeleton) == old then
      redis.call('HDEL', KEYS[4], was.skeleton)
    end
  else
    was = nil
  end
end
me.skeleton = skel
redis.call('HSET', KEYS[3], key, cjson.encode(me))
if not redis.call('HGET', KEYS[4], skel) then
  redis.call('HSET', KEYS[4], skel, key)
end
redis.call('SADD', 'tlschat:{' .. ARGV[2] .. '}:server:' .. me.server, key)
local online = tostring(redis.call('HLEN', KEYS[3]))
local seq
if was then
  local score = redis.call('ZSCORE', KEYS[5], old)
  redis.call('ZREM', KEYS[5], old)
  seq = xadd(time, me.id, cjson.encode({type = 'NICK', alias = was.alias,
    newAlias = me.alias, online = online}), '')
  redis.call('ZADD', KEYS[5], score or seq, key)
else
  seq = xadd(time, me.id, cjson.encode({type = 'JOIN', alias = me.alias,
    online = online}), '')
  redis.call('ZADD', KEYS[5], seq, key)
end
return {'ok', online}`,
  /**
   * ARGV[3] key, [4] member id ('' for whoever holds it), [5] reason,
   * [6] text, [7] BYE text for the one removed, [8] time. Returns 1 if
   * someone was removed.
   */
  leave: `${XADD_EVENT}
local key, id = ARGV[3], ARGV[4]
local raw = redis.call('HGET', KEYS[3], key)
if not raw then return 0 end
if id ~= '' and cjson.decode(raw).id ~= id then return 0 end
return remove(key, ARGV[5], ARGV[6], ARGV[7], ARGV[8])`,
  /**
   * Removes every member of server ARGV[3] (a server that stopped, or
   * lost), announcing each with reason ARGV[4]; ARGV[5] time. Returns how
   * many.
   */
  evict: `${XADD_EVENT}
local set = 'tlschat:{' .. ARGV[2] .. '}:server:' .. ARGV[3]
local count = 0
for _, key in ipairs(redis.call('SMEMBERS', set)) do
  local raw = redis.call('HGET', KEYS[3], key)
  if raw and cjson.decode(raw).server == ARGV[3] then
    count = count + remove(key, ARGV[4], '', '', ARGV[5])
  end
end
redis.call('DEL', set)
redis.call('ZREM', 'tlschat:{' .. ARGV[2] .. '}:servers', ARGV[3])
return count`,
} as const;

/** Connection attempts at start before giving up. */
const START_TRIES = 5;

/** Options of {@linkcode RedisLink.open}. */
export interface RedisLinkOptions {
  /** `redis://[:password@]host:port/db` or `rediss://` (TLS). */
  readonly url: string;
  /** Cluster name: servers with the same name form one room. */
  readonly cluster: string;
  /** Stream entries kept (`MAXLEN ~`). */
  readonly keep: number;
  readonly log: Logger;
}

/** Three connections to Redis and the scripts, for one server. */
export class RedisLink {
  readonly keys: ClusterKeys;
  readonly cluster: string;
  /** Commands (no blocking ones). */
  readonly commands: RedisClient;
  /** `XREAD BLOCK` only. */
  readonly reader: RedisClient;
  /** Subscriptions only. */
  readonly subscriber: RedisClient;
  #keep: number;
  /** Connected once: from then on, outages are logged (not errors at start). */
  #opened = false;
  #shas = new Map<keyof typeof SCRIPTS, string>();

  private constructor(commands: RedisClient, options: RedisLinkOptions) {
    this.cluster = options.cluster;
    this.keys = clusterKeys(options.cluster);
    this.#keep = options.keep;
    this.commands = commands;
    this.reader = commands.duplicate();
    this.subscriber = commands.duplicate();
    let down = false;
    for (const client of [this.commands, this.reader, this.subscriber]) {
      client.on("error", (error) => {
        if (down || !this.#opened) return;
        down = true;
        options.log.error("redis-unavailable", {
          error: describeError(error),
          hint: "reconnecting; new messages get ERR unavailable meanwhile",
        });
      });
      client.on("ready", () => {
        if (!down) return;
        down = false;
        options.log.info("redis-reconnected", {});
      });
    }
  }

  /**
   * Connects (throwing a clear error when Redis cannot be reached now) and
   * loads the scripts.
   */
  static async open(options: RedisLinkOptions): Promise<RedisLink> {
    // Until it is open, a few tries (about 3 s), then the error; once it
    // is open, reconnect for ever, backing off to a try every 2 s.
    let opened = false;
    const client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 5000,
        reconnectStrategy: (retries: number, cause: Error) =>
          !opened && retries >= START_TRIES
            ? cause
            : Math.min(100 * 2 ** retries, 2000),
      },
    }) as unknown as RedisClient;
    const link = new RedisLink(client, options);
    try {
      await Promise.all(
        [link.commands, link.reader, link.subscriber].map((c) => c.connect()),
      );
      await link.#load();
      opened = link.#opened = true;
    } catch (e) {
      link.destroy();
      throw new Error(
        `Cannot use Redis at ${redact(options.url)}: ${
          (e as Error).message
        }. Is it running, and is --redis right?`,
        { cause: e },
      );
    }
    return link;
  }

  /**
   * Runs a script with the cluster's keys; `args` follow MAXLEN and the
   * cluster name. Reloads the scripts once if Redis forgot them (a restart).
   */
  async run(
    script: keyof typeof SCRIPTS,
    args: readonly string[],
  ): Promise<unknown> {
    const k = this.keys;
    const call = () =>
      this.commands.sendCommand([
        "EVALSHA",
        this.#shas.get(script)!,
        "5",
        k.events,
        k.seq,
        k.members,
        k.skeletons,
        k.order,
        String(this.#keep),
        this.cluster,
        ...args,
      ]);
    try {
      return await call();
    } catch (e) {
      if (!/NOSCRIPT/.test((e as Error).message)) throw e;
      await this.#load();
      return await call();
    }
  }

  async #load(): Promise<void> {
    for (const [name, body] of Object.entries(SCRIPTS)) {
      const sha = await this.commands.sendCommand(["SCRIPT", "LOAD", body]);
      this.#shas.set(name as keyof typeof SCRIPTS, String(sha));
    }
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    await Promise.allSettled(
      [this.commands, this.reader, this.subscriber].map((c) => c.close()),
    );
  }

  /** Drops the connections at once. */
  destroy(): void {
    for (const client of [this.commands, this.reader, this.subscriber]) {
      try {
        client.destroy();
      } catch {
        // Never connected.
      }
    }
  }
}
