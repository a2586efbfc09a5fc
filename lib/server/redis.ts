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
  /** Alias keys by member id (a member leaves by id, whatever its alias). */
  readonly ids: string;
  /**
   * A random value set when the cluster's state is first written: a Redis
   * that lost its data has none, and every script refuses to run.
   */
  readonly epoch: string;
  /** Servers by the time their heartbeat runs out (ms since the epoch). */
  readonly servers: string;
  /** Bans and mutes in force: one JSON list. */
  readonly sanctions: string;
  /** The room's topic: JSON `{ text, by }`. */
  readonly topic: string;
  /** A server's own members (alias keys). */
  serverMembers(server: string): string;
  /** What is said to one server (private messages). */
  channel(server: string): string;
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
    ids: `${base}ids`,
    epoch: `${base}epoch`,
    servers: `${base}servers`,
    sanctions: `${base}sanctions`,
    topic: `${base}topic`,
    serverMembers: (server) => `${base}server:${server}`,
    channel: (server) => `${base}to:${server}`,
  };
}

// Shared by the scripts: the epoch check (ARGV[3]: a Redis that lost the
// cluster's state refuses every change, and the servers start afresh), and
// an event appended with the next number.
const PRELUDE = `
if redis.call('GET', KEYS[7]) ~= ARGV[3] then
  return redis.error_reply('EPOCH the cluster state in Redis was lost')
end
local function xadd(time, origin, line, note)
  local seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], seq .. '-0',
    't', time, 'o', origin, 'l', line, 'n', note)
  return seq
end
local function serverSet(server)
  return 'tlschat:{' .. ARGV[2] .. '}:server:' .. server
end
local function remove(key, reason, text, note, time)
  local raw = redis.call('HGET', KEYS[3], key)
  if not raw then return 0 end
  local m = cjson.decode(raw)
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[5], key)
  redis.call('SREM', serverSet(m.server), key)
  if redis.call('HGET', KEYS[6], m.id) == key then
    redis.call('HDEL', KEYS[6], m.id)
  end
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
 * order, ids, epoch and ARGV[1] = the stream's MAXLEN, ARGV[2] = the
 * cluster name, ARGV[3] = the epoch this server knows; their own arguments
 * follow.
 */
export const SCRIPTS = {
  /**
   * ARGV[4..]: (time, origin, line JSON, note) quadruples. Returns the
   * first seq. A `MOD` line's note (the sanctions in force after it) and
   * a `TOPIC` line's (the topic) are also kept, in the same step, for
   * servers that start later: what is kept is what the log says last.
   */
  append: `${PRELUDE}
local first = nil
for i = 4, #ARGV, 4 do
  local seq = xadd(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  first = first or seq
  if ARGV[i + 3] ~= '' then
    local kind = cjson.decode(ARGV[i + 2]).type
    if kind == 'MOD' or kind == 'TOPIC' then
      redis.call('SET', 'tlschat:{' .. ARGV[2] .. '}:' ..
        (kind == 'MOD' and 'sanctions' or 'topic'), ARGV[i + 3])
    end
  end
end
return first`,
  /**
   * ARGV[4] key, [5] skeleton, [6] record JSON, [7] replace (1/0),
   * [8] time, [9] old key when renaming ('' to join). Returns
   * {'ok', online, seq of its JOIN or NICK}, {'taken', alias},
   * {'lookalike', alias}, {'gone', ''}
   * when renaming a member that no longer holds its alias (removed
   * meanwhile), or {'notlive', ''} when the member's server is not beating
   * (not yet, or counted lost): nobody would ever evict what it claims.
   * Asked again after a reply was lost, it answers 'ok' and changes
   * nothing.
   */
  claim: `${PRELUDE}
local key, skel, rec, replace, time, old = ARGV[4], ARGV[5], ARGV[6],
  ARGV[7] == '1', ARGV[8], ARGV[9]
local me = cjson.decode(rec)
if not redis.call('ZSCORE', 'tlschat:{' .. ARGV[2] .. '}:servers', me.server) then
  return {'notlive', ''}
end
local online = function() return tostring(redis.call('HLEN', KEYS[3])) end
local holder = redis.call('HGET', KEYS[3], key)
if holder then
  local h = cjson.decode(holder)
  if h.id == me.id and key ~= old then
    return {'ok', online(), tostring(redis.call('ZSCORE', KEYS[5], key) or 0)}
  end
  if h.id ~= me.id then
    if not replace then return {'taken', h.alias} end
    remove(key, 'replaced', '',
      'Disconnected: "' .. h.alias .. '" logged in from another connection',
      time)
  end
end
local was = nil
if old ~= '' then
  local raw = redis.call('HGET', KEYS[3], old)
  if raw then was = cjson.decode(raw) end
  if not was or was.id ~= me.id then return {'gone', ''} end
end
if old == '' then
  -- A join by an id that still holds another alias (an earlier claim
  -- whose answer was lost): that one goes first.
  local stale = redis.call('HGET', KEYS[6], me.id)
  if stale and stale ~= key then remove(stale, 'disconnect', '', '', time) end
end
if not replace then
  local other = redis.call('HGET', KEYS[4], skel)
  if other and other ~= key and other ~= old then
    local o = redis.call('HGET', KEYS[3], other)
    if o then return {'lookalike', cjson.decode(o).alias} end
  end
end
if was then
  redis.call('HDEL', KEYS[3], old)
  redis.call('SREM', serverSet(me.server), old)
  if was.skeleton and redis.call('HGET', KEYS[4], was.skeleton) == old then
    redis.call('HDEL', KEYS[4], was.skeleton)
  end
end
me.skeleton = skel
redis.call('HSET', KEYS[3], key, cjson.encode(me))
redis.call('HSET', KEYS[6], me.id, key)
local other = redis.call('HGET', KEYS[4], skel)
if not other or not redis.call('HEXISTS', KEYS[3], other) then
  redis.call('HSET', KEYS[4], skel, key)
end
redis.call('SADD', serverSet(me.server), key)
local count = online()
if was then
  local score = redis.call('ZSCORE', KEYS[5], old)
  redis.call('ZREM', KEYS[5], old)
  local seq = xadd(time, me.id, cjson.encode({type = 'NICK',
    alias = was.alias, newAlias = me.alias, online = count}), '')
  redis.call('ZADD', KEYS[5], score or seq, key)
  return {'ok', count, tostring(seq)}
end
local seq = xadd(time, me.id, cjson.encode({type = 'JOIN',
  alias = me.alias, online = count}), '')
redis.call('ZADD', KEYS[5], seq, key)
return {'ok', count, tostring(seq)}`,
  /**
   * ARGV[4] key ('' for the alias member ARGV[5] holds now), [5] member id
   * ('' for whoever holds the key), [6] reason, [7] text, [8] BYE text for
   * the one removed, [9] time. Returns 1 if someone was removed.
   */
  leave: `${PRELUDE}
local key, id = ARGV[4], ARGV[5]
if key == '' then key = redis.call('HGET', KEYS[6], id) end
if not key then return 0 end
local raw = redis.call('HGET', KEYS[3], key)
if not raw then return 0 end
if id ~= '' and cjson.decode(raw).id ~= id then return 0 end
return remove(key, ARGV[6], ARGV[7], ARGV[8], ARGV[9])`,
  /**
   * Removes every member of server ARGV[4] (a server that stopped, or
   * lost), announcing each with reason ARGV[5]; ARGV[6] time. Unless
   * ARGV[7] is '1' (a server leaving by itself), only while its deadline
   * is past by Redis's clock: a beat that landed meanwhile saves it.
   * Returns how many, or -1 when it was saved.
   */
  evict: `${PRELUDE}
if ARGV[7] ~= '1' then
  local deadline = redis.call('ZSCORE', 'tlschat:{' .. ARGV[2] .. '}:servers',
    ARGV[4])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if not deadline or tonumber(deadline) > now then return -1 end
end
local set = serverSet(ARGV[4])
local count = 0
for _, key in ipairs(redis.call('SMEMBERS', set)) do
  local raw = redis.call('HGET', KEYS[3], key)
  if raw and cjson.decode(raw).server == ARGV[4] then
    count = count + remove(key, ARGV[5], '', '', ARGV[6])
  end
end
redis.call('DEL', set)
redis.call('ZREM', 'tlschat:{' .. ARGV[2] .. '}:servers', ARGV[4])
return count`,
  /**
   * Server ARGV[4] is alive for ARGV[5] ms more, by Redis's clock (the
   * servers' clocks may differ). Returns whether it was missing (1: it
   * had been counted lost, or is new), then the servers whose time ran
   * out, except for ARGV[5] ms after nobody at all beat for ARGV[6] ms
   * (Redis paused or down: everyone gets time to beat again first).
   */
  beat: `${PRELUDE}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local base = 'tlschat:{' .. ARGV[2] .. '}:'
local last = tonumber(redis.call('GET', base .. 'lastbeat') or '0')
local calm = tonumber(redis.call('GET', base .. 'calm') or '0')
if last > 0 and now - last > tonumber(ARGV[6]) then
  calm = now + tonumber(ARGV[5])
  redis.call('SET', base .. 'calm', calm)
end
redis.call('SET', base .. 'lastbeat', now)
local added = redis.call('ZADD', base .. 'servers', now + tonumber(ARGV[5]),
  ARGV[4])
if now < calm then return {added} end
local lost = redis.call('ZRANGEBYSCORE', base .. 'servers', '-inf', now)
table.insert(lost, 1, added)
return lost`,
} as const;

/** How long one command may wait for Redis's answer. */
const COMMAND_TIMEOUT_MS = 5000;

/** `promise`, or a failure once `ms` have passed without it settling. */
function timed<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => {}); // its answer after the deadline is no news
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Redis did not answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Takes the cluster's epoch: KEYS[1] the epoch key; ARGV[1] the cluster
 * name, [2] the epoch this server knew ('' at start), [3] a new value,
 * [4] '1' when Redis went back in time under the epoch it knew. When there
 * is none (a new cluster, or Redis lost it), or on such a rollback while
 * no other server has renewed it yet, whatever is left of the cluster's
 * state is wiped and the new value set. Returns the epoch in force.
 */
const NEW_EPOCH = `
local current = redis.call('GET', KEYS[1])
if not current or (ARGV[4] == '1' and current == ARGV[2]) then
  local base = 'tlschat:{' .. ARGV[1] .. '}:'
  for _, name in ipairs({'events', 'seq', 'members', 'skeletons', 'order',
      'ids', 'servers', 'sanctions', 'topic', 'lastbeat', 'calm'}) do
    redis.call('DEL', base .. name)
  end
  for _, key in ipairs(redis.call('KEYS', base .. 'server:*')) do
    redis.call('DEL', key)
  end
  redis.call('SET', KEYS[1], ARGV[3])
  current = ARGV[3]
end
return current`;

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
  #log: Logger;
  /** Connected once: from then on, outages are logged (not errors at start). */
  #opened = false;
  #shas = new Map<keyof typeof SCRIPTS, string>();
  /** The cluster's epoch as this server knows it (see `ClusterKeys.epoch`). */
  #epoch = "";
  /** A renewal of the epoch under way (one at a time). */
  #renewing: Promise<void> | undefined;
  #onReset: (() => void)[] = [];

  private constructor(commands: RedisClient, options: RedisLinkOptions) {
    this.cluster = options.cluster;
    this.keys = clusterKeys(options.cluster);
    this.#keep = options.keep;
    this.#log = options.log;
    this.commands = commands;
    this.reader = commands.duplicate();
    this.subscriber = commands.duplicate();
    // One outage, logged once: down from the first connection that fails
    // until all three are back.
    const down = new Set<RedisClient>();
    for (const client of [this.commands, this.reader, this.subscriber]) {
      client.on("error", (error) => {
        if (!this.#opened || down.has(client)) return;
        down.add(client);
        if (down.size > 1) return;
        options.log.error("redis-unavailable", {
          error: describeError(error),
          hint: "reconnecting; new messages get ERR unavailable meanwhile",
        });
      });
      client.on("ready", () => {
        if (!down.delete(client) || down.size > 0) return;
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
      // A Redis that hangs (stopped, or a network black hole) fails each
      // command after 5 s instead of holding it: appends and claims are
      // reported, never held for minutes.
      commandOptions: { timeout: COMMAND_TIMEOUT_MS },
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
      await link.#adoptEpoch();
      await link.#checkDurability();
      opened = link.#opened = true;
    } catch (e) {
      link.destroy();
      throw new Error(
        `Cannot use Redis at ${redact(options.url)}: ${
          (e as Error).message.replace(/\.+$/, "")
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
      this.command([
        "EVALSHA",
        this.#shas.get(script)!,
        "7",
        k.events,
        k.seq,
        k.members,
        k.skeletons,
        k.order,
        k.ids,
        k.epoch,
        String(this.#keep),
        this.cluster,
        this.#epoch,
        ...args,
      ]);
    try {
      try {
        return await call();
      } catch (e) {
        if (!/NOSCRIPT/.test((e as Error).message)) throw e;
        await this.#load();
        return await call();
      }
    } catch (e) {
      if (/^EPOCH/.test((e as Error).message)) await this.renewEpoch();
      throw e;
    }
  }

  /**
   * Sends a command on the commands connection. It fails if Redis has not
   * answered within 5 s (node-redis's own timeout ends once a command is
   * written, so a paused Redis would hold it for as long as TCP lasts).
   */
  command(args: readonly string[]): Promise<unknown> {
    return timed(this.commands.sendCommand(args), COMMAND_TIMEOUT_MS);
  }

  /** Sends a blocking read (`XREAD BLOCK blockMs`), with the same limit. */
  read(args: readonly string[], blockMs: number): Promise<unknown> {
    return timed(this.reader.sendCommand(args), blockMs + COMMAND_TIMEOUT_MS);
  }

  /** Calls `listener` when the cluster's state in Redis was found lost. */
  onReset(listener: () => void): void {
    this.#onReset.push(listener);
  }

  /**
   * Checks that Redis still holds the cluster's state this server knows,
   * having handed on events up to number `handedOn`. If it does not (Redis
   * restarted empty, was flushed, or came back with older data: numbers
   * behind what was handed on), the cluster starts afresh.
   */
  async checkEpoch(handedOn = 0): Promise<void> {
    const [epoch, seq] = await this.command([
      "MGET",
      this.keys.epoch,
      this.keys.seq,
    ]) as [string | null, string | null];
    if (epoch === this.#epoch && Number(seq ?? 0) >= handedOn) return;
    await this.renewEpoch(epoch === this.#epoch);
  }

  /**
   * The cluster's state in Redis was lost (or, with `rollback`, went back
   * in time): takes a new epoch (the first server to notice wipes what is
   * left and sets it) and tells the listeners, once per loss.
   */
  renewEpoch(rollback = false): Promise<void> {
    this.#renewing ??= (async () => {
      const before = this.#epoch;
      await this.#adoptEpoch(rollback);
      if (this.#epoch === before) return;
      this.#log.error("redis-state-lost", {
        hint:
          "Redis lost the room's state (restarted without its data?); members here are asked to join again",
      });
      for (const listener of this.#onReset) listener();
    })().finally(() => this.#renewing = undefined);
    return this.#renewing;
  }

  /**
   * Warns when Redis may lose what it acknowledged (then an echo no longer
   * means "kept"): no AOF, AOF not synced on every write, or keys evicted
   * under memory pressure. A Redis that hides CONFIG is taken on trust.
   */
  async #checkDurability(): Promise<void> {
    const wanted: Record<string, string> = {
      appendonly: "yes",
      appendfsync: "always",
      "maxmemory-policy": "noeviction",
    };
    try {
      for (const [name, value] of Object.entries(wanted)) {
        const reply = await this.command(["CONFIG", "GET", name]);
        const actual = Array.isArray(reply)
          ? reply[1]
          : (reply as Record<string, string>)[name];
        if (actual !== undefined && String(actual) !== value) {
          this.#log.warn("redis-not-durable", {
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

  async #adoptEpoch(rollback = false): Promise<void> {
    this.#epoch = String(
      await this.command([
        "EVAL",
        NEW_EPOCH,
        "1",
        this.keys.epoch,
        this.cluster,
        this.#epoch,
        crypto.randomUUID(),
        rollback ? "1" : "0",
      ]),
    );
  }

  async #load(): Promise<void> {
    for (const [name, body] of Object.entries(SCRIPTS)) {
      const sha = await this.command(["SCRIPT", "LOAD", body]);
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
