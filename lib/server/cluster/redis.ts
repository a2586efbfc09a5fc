/**
 * The link to Redis of a cluster of servers forming one room: three
 * connections (commands; a blocking stream reader; a subscriber for what
 * servers tell each other), the cluster's key names, and the Lua scripts
 * that make every change of the room's membership atomic with the event
 * that announces it. The room's order is a Redis Stream whose entry IDs
 * are `SEQ-0`, SEQ counted by the scripts from 1, with no gaps.
 *
 * Commands fail at once while Redis is unreachable (no offline queue), and
 * after a deadline when it does not answer; {@linkcode surelyNotRun} tells
 * a command that cannot have run from one that may have run all the same
 * (written before the deadline passed, or before the connection broke).
 * The client reconnects by itself, with a backoff.
 *
 * @module
 */

import {
  ClientClosedError,
  ClientOfflineError,
  createClient,
  ErrorReply,
  TimeoutError,
} from "redis";
import { describeError, type Logger, redact } from "../../log.ts";

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

/**
 * The cluster's fixed keys, in the order every script receives them as
 * KEYS (its Lua names them `K.events`, `K.seq`, ...).
 */
const SCRIPT_KEYS = [
  "events",
  "seq",
  "members",
  "skeletons",
  "order",
  "ids",
  "epoch",
  "servers",
  "sanctions",
  "topic",
  "lastbeat",
  "calm",
  "lineIds",
  "lineSigns",
  "format",
] as const;

/**
 * The format of the cluster's state in Redis this release writes and reads
 * (kept in `format`, see {@linkcode ClusterKeys.format}). Format 1, the
 * previous release's, had no such key and a note (`n`) where events now
 * have an effect (`e`, `v`): its stream is read, and upgraded once no
 * server of that release is running.
 */
export const STATE_FORMAT = "2";

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
  /** When the last heartbeat of any server landed, by Redis's clock. */
  readonly lastbeat: string;
  /** Until when nobody is judged lost (after the whole cluster fell silent). */
  readonly calm: string;
  /**
   * The ids of the last appended lines, scored by their number: a line
   * whose id is here is not stored again (a bounded set).
   */
  readonly lineIds: string;
  /**
   * Each kept line id's `SIGN:TAG`: the line's sign (what it is) and the
   * tag of the append that stored it (so that a retried append knows its
   * own line).
   */
  readonly lineSigns: string;
  /**
   * The format of the state ({@linkcode STATE_FORMAT}), set with the
   * epoch: a server refuses a format it does not know.
   */
  readonly format: string;
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

/** The keys of cluster `name`: the only place their names are made. */
export function clusterKeys(name: string): ClusterKeys {
  const base = `tlschat:{${name}}:`;
  const fixed = Object.fromEntries(
    SCRIPT_KEYS.map((key) => [key, `${base}${key}`]),
  ) as Record<(typeof SCRIPT_KEYS)[number], string>;
  return {
    ...fixed,
    serverMembers: (server) => `${base}server:${server}`,
    channel: (server) => `${base}to:${server}`,
  };
}

/** The fixed keys by name, in Lua: `K.events` is KEYS[1], and so on. */
const LUA_KEYS = `local K = {${
  SCRIPT_KEYS.map((key, i) => `${key} = KEYS[${i + 1}]`).join(", ")
}}`;

// Shared by the scripts: the keys by name, the epoch check (ARGV[3]: a
// Redis that lost the cluster's state refuses every change, and the
// servers start afresh), and an event appended with the next number.
// ARGV[2] starts the key of a server's member set (the one key a script
// finds by what it reads: a member's server).
const PRELUDE = `
${LUA_KEYS}
if redis.call('GET', K.epoch) ~= ARGV[3] then
  return redis.error_reply('EPOCH the cluster state in Redis was lost')
end
-- An event with the next number: its effect (room_log.ts, EventEffect) is
-- its kind and its value as JSON ('' for none), as stored_event.ts reads it.
local function xadd(time, origin, line, effect, value, id)
  local seq = redis.call('INCR', K.seq)
  local fields = {'t', time, 'o', origin, 'l', line}
  if effect ~= '' then
    fields[#fields + 1] = 'e'
    fields[#fields + 1] = effect
    fields[#fields + 1] = 'v'
    fields[#fields + 1] = value
  end
  if id then
    fields[#fields + 1] = 'i'
    fields[#fields + 1] = id
  end
  redis.call('XADD', K.events, 'MAXLEN', '~', ARGV[1], seq .. '-0',
    unpack(fields))
  return seq
end
local function serverSet(server)
  return ARGV[2] .. server
end
local function remove(key, reason, text, bye, time)
  local raw = redis.call('HGET', K.members, key)
  if not raw then return 0 end
  local m = cjson.decode(raw)
  redis.call('HDEL', K.members, key)
  redis.call('ZREM', K.order, key)
  redis.call('SREM', serverSet(m.server), key)
  if redis.call('HGET', K.ids, m.id) == key then
    redis.call('HDEL', K.ids, m.id)
  end
  local skel = m.skeleton
  if skel and redis.call('HGET', K.skeletons, skel) == key then
    redis.call('HDEL', K.skeletons, skel)
  end
  local online = redis.call('HLEN', K.members)
  xadd(time, m.id, cjson.encode({type = 'LEAVE', alias = m.alias,
    online = tostring(online), reason = reason, text = text}),
    bye ~= '' and 'bye' or '', cjson.encode(bye))
  return 1
end
`;

/**
 * The scripts. Every one takes KEYS = the cluster's fixed keys (in the
 * order of `SCRIPT_KEYS`) and ARGV[1] = the stream's MAXLEN, ARGV[2] =
 * the start of a server's member set key, ARGV[3] = the epoch this server
 * knows; their own arguments follow.
 */
export const SCRIPTS = {
  /**
   * ARGV[4]: how many line ids to keep; ARGV[5..]: (time, origin member
   * id, the alias it speaks as, line JSON, effect kind ('' for none),
   * effect value JSON, line id, line sign, append tag) nonuples. Stores each line whose id it does not hold yet,
   * if its member still holds its claim under that alias and its server is
   * alive (not counted lost), all in one step. Returns the last number
   * given, then for each line: its number (stored now, or by an earlier
   * try of the same append: same id, sign and tag), 'duplicate' (the same
   * line under its id, from another append: not stored again), 'reused'
   * (another line holds its id), 'gone' (its member left or was removed,
   * or its server was counted lost) or 'alias' (it speaks under an alias
   * it no longer holds). A `sanctions` effect (the bans and mutes in force
   * after a `MOD` line) and a `topic` effect are also kept, for servers
   * that start later: what is kept is what the log says last.
   */
  append: `${PRELUDE}
local speakers = {}
local function speaker(origin)
  if speakers[origin] == nil then
    speakers[origin] = false
    local key = redis.call('HGET', K.ids, origin)
    local raw = key and redis.call('HGET', K.members, key)
    if raw then
      local m = cjson.decode(raw)
      if m.id == origin and redis.call('ZSCORE', K.servers, m.server) then
        speakers[origin] = m.alias
      end
    end
  end
  return speakers[origin]
end
local out = {0}
for i = 5, #ARGV, 9 do
  local time, origin, alias, line, effect, value, id, sign, tag = ARGV[i],
    ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5],
    ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local held = redis.call('ZSCORE', K.lineIds, id)
  local holds = speaker(origin)
  if held then
    local was = redis.call('HGET', K.lineSigns, id)
    if was == sign .. ':' .. tag then
      out[#out + 1] = tonumber(held)
    elseif was and string.sub(was, 1, #sign + 1) ~= sign .. ':' then
      out[#out + 1] = 'reused'
    else
      out[#out + 1] = 'duplicate'
    end
  elseif not holds then
    out[#out + 1] = 'gone'
  elseif holds ~= alias then
    out[#out + 1] = 'alias'
  else
    local seq = xadd(time, origin, line, effect, value, id)
    redis.call('ZADD', K.lineIds, seq, id)
    redis.call('HSET', K.lineSigns, id, sign .. ':' .. tag)
    out[#out + 1] = seq
    if effect == 'sanctions' then redis.call('SET', K.sanctions, value) end
    if effect == 'topic' then redis.call('SET', K.topic, value) end
  end
end
local extra = redis.call('ZCARD', K.lineIds) - tonumber(ARGV[4])
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', K.lineIds, 0, extra - 1)) do
    redis.call('HDEL', K.lineSigns, old)
  end
  redis.call('ZREMRANGEBYRANK', K.lineIds, 0, extra - 1)
end
out[1] = tonumber(redis.call('GET', K.seq) or '0')
return out`,
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
if not redis.call('ZSCORE', K.servers, me.server) then
  return {'notlive', ''}
end
local online = function() return tostring(redis.call('HLEN', K.members)) end
local holder = redis.call('HGET', K.members, key)
if holder then
  local h = cjson.decode(holder)
  if h.id == me.id and key ~= old then
    return {'ok', online(), tostring(redis.call('ZSCORE', K.order, key) or 0)}
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
  local raw = redis.call('HGET', K.members, old)
  if raw then was = cjson.decode(raw) end
  if not was or was.id ~= me.id then return {'gone', ''} end
end
if old == '' then
  -- A join by an id that still holds another alias (an earlier claim
  -- whose answer was lost): that one goes first.
  local stale = redis.call('HGET', K.ids, me.id)
  if stale and stale ~= key then remove(stale, 'disconnect', '', '', time) end
end
if not replace then
  local other = redis.call('HGET', K.skeletons, skel)
  if other and other ~= key and other ~= old then
    local o = redis.call('HGET', K.members, other)
    if o then return {'lookalike', cjson.decode(o).alias} end
  end
end
if was then
  redis.call('HDEL', K.members, old)
  redis.call('SREM', serverSet(me.server), old)
  if was.skeleton and redis.call('HGET', K.skeletons, was.skeleton) == old then
    redis.call('HDEL', K.skeletons, was.skeleton)
  end
end
me.skeleton = skel
redis.call('HSET', K.members, key, cjson.encode(me))
redis.call('HSET', K.ids, me.id, key)
local other = redis.call('HGET', K.skeletons, skel)
if not other or not redis.call('HEXISTS', K.members, other) then
  redis.call('HSET', K.skeletons, skel, key)
end
redis.call('SADD', serverSet(me.server), key)
local count = online()
if was then
  local score = redis.call('ZSCORE', K.order, old)
  redis.call('ZREM', K.order, old)
  local seq = xadd(time, me.id, cjson.encode({type = 'NICK',
    alias = was.alias, newAlias = me.alias, online = count}), '', '')
  redis.call('ZADD', K.order, score or seq, key)
  return {'ok', count, tostring(seq)}
end
local seq = xadd(time, me.id, cjson.encode({type = 'JOIN',
  alias = me.alias, online = count}), '', '')
redis.call('ZADD', K.order, seq, key)
return {'ok', count, tostring(seq)}`,
  /**
   * ARGV[4] key ('' for the alias member ARGV[5] holds now), [5] member id
   * ('' for whoever holds the key), [6] reason, [7] text, [8] BYE text for
   * the one removed, [9] time. Returns 1 if someone was removed.
   */
  leave: `${PRELUDE}
local key, id = ARGV[4], ARGV[5]
if key == '' then key = redis.call('HGET', K.ids, id) end
if not key then return 0 end
local raw = redis.call('HGET', K.members, key)
if not raw then return 0 end
if id ~= '' and cjson.decode(raw).id ~= id then return 0 end
return remove(key, ARGV[6], ARGV[7], ARGV[8], ARGV[9])`,
  /**
   * Removes every member of server ARGV[4] (a server that stopped, or
   * lost), announcing each with reason ARGV[5] and BYE text ARGV[8];
   * ARGV[6] time. Unless ARGV[7] is '1' (a server leaving by itself),
   * only while its deadline is past by Redis's clock: a beat that landed
   * meanwhile saves it. Returns how many, or -1 when it was saved.
   */
  evict: `${PRELUDE}
if ARGV[7] ~= '1' then
  local deadline = redis.call('ZSCORE', K.servers, ARGV[4])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if not deadline or tonumber(deadline) > now then return -1 end
end
local set = serverSet(ARGV[4])
local count = 0
for _, key in ipairs(redis.call('SMEMBERS', set)) do
  local raw = redis.call('HGET', K.members, key)
  if raw and cjson.decode(raw).server == ARGV[4] then
    count = count + remove(key, ARGV[5], '', ARGV[8] or '', ARGV[6])
  end
end
redis.call('DEL', set)
redis.call('ZREM', K.servers, ARGV[4])
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
local last = tonumber(redis.call('GET', K.lastbeat) or '0')
local calm = tonumber(redis.call('GET', K.calm) or '0')
if last > 0 and now - last > tonumber(ARGV[6]) then
  calm = now + tonumber(ARGV[5])
  redis.call('SET', K.calm, calm)
end
redis.call('SET', K.lastbeat, now)
local added = redis.call('ZADD', K.servers, now + tonumber(ARGV[5]), ARGV[4])
if now < calm then return {added} end
local lost = redis.call('ZRANGEBYSCORE', K.servers, '-inf', now)
table.insert(lost, 1, added)
return lost`,
} as const;

/**
 * Whether a failed command surely did not run: Redis answered it with an
 * error, or it was never written (the link was down, or could not take it
 * before the deadline). Otherwise (the deadline passed once it was
 * written, the connection broke) it may have run.
 */
export function surelyNotRun(error: unknown): boolean {
  return error instanceof ErrorReply || error instanceof ClientOfflineError ||
    error instanceof ClientClosedError || error instanceof TimeoutError;
}

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
 * Takes the cluster's epoch: KEYS = the fixed keys (as for every script);
 * ARGV[1] the pattern of the servers' member sets, [2] the epoch this
 * server knew ('' at start), [3] a new value, [4] '1' when Redis went back
 * in time under the epoch it knew, [5] the state format this server
 * writes. When there is none (a new cluster, or Redis lost it), or on such
 * a rollback while no other server has renewed it yet, whatever is left of
 * the cluster's state is wiped and the new value set, with the format.
 * State without a format was written by the previous release (format 1):
 * it takes this format once no server is alive by Redis's clock. Returns
 * the epoch in force and the state's format.
 */
const NEW_EPOCH = `
${LUA_KEYS}
local current = redis.call('GET', K.epoch)
if not current or (ARGV[4] == '1' and current == ARGV[2]) then
  for _, key in ipairs(KEYS) do redis.call('DEL', key) end
  for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
    redis.call('DEL', key)
  end
  redis.call('SET', K.epoch, ARGV[3])
  redis.call('SET', K.format, ARGV[5])
  current = ARGV[3]
end
local format = redis.call('GET', K.format)
if not format then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if redis.call('ZCOUNT', K.servers, '(' .. now, '+inf') > 0 then
    return {current, '1'}
  end
  redis.call('SET', K.format, ARGV[5])
  format = ARGV[5]
end
return {current, format}`;

/**
 * The error of a server that finds the cluster's state in a format it
 * does not read (see {@linkcode STATE_FORMAT}); its message says what to do.
 */
export class StateFormatError extends Error {
  /** The format found in Redis. */
  readonly format: string;

  /** Explains format `format`, found for cluster `cluster`. */
  constructor(cluster: string, format: string) {
    super(
      format === "1"
        ? `Cannot join cluster "${cluster}": servers of the previous release (state format 1) are running in it; stop them all, then start this release (it reads their history and upgrades the state)`
        : `Cannot join cluster "${cluster}": its state in Redis has format "${format}", which this release does not know (it reads format ${STATE_FORMAT}); run the release that wrote it, or a newer one`,
    );
    this.name = "StateFormatError";
    this.format = format;
  }
}

/** Options of {@linkcode RedisLink.open}. */
export interface RedisLinkOptions {
  /** `redis://[:password@]host:port/db` or `rediss://` (TLS). */
  readonly url: string;
  /** Cluster name: servers with the same name form one room. */
  readonly cluster: string;
  /** Stream entries kept (`MAXLEN ~`), every kind of event counted. */
  readonly streamEntries: number;
  /** How long a command may wait for Redis's answer (`--redis-timeout`). */
  readonly redisTimeoutMs: number;
  /** How long connecting may take (the server's config names each limit). */
  readonly redisConnectTimeoutMs: number;
  /** Connection attempts at start before giving up. */
  readonly redisStartTries: number;
  /** The longest wait between two reconnection attempts. */
  readonly redisReconnectMaxMs: number;
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
  #streamEntries: number;
  #timeoutMs: number;
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
    this.#streamEntries = options.streamEntries;
    this.#timeoutMs = options.redisTimeoutMs;
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
      // A command that cannot even be written (a socket that takes no
      // more) fails after the deadline instead of being held.
      commandOptions: { timeout: options.redisTimeoutMs },
      socket: {
        connectTimeout: options.redisConnectTimeoutMs,
        reconnectStrategy: (retries: number, cause: Error) =>
          !opened && retries >= options.redisStartTries
            ? cause
            : Math.min(100 * 2 ** retries, options.redisReconnectMaxMs),
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
      if (e instanceof StateFormatError) throw e;
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
    const call = () =>
      this.command([
        "EVALSHA",
        this.#shas.get(script)!,
        ...this.#scriptKeys(),
        String(this.#streamEntries),
        this.keys.serverMembers(""),
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

  /** The number of fixed keys, then the keys, as `EVAL` takes them. */
  #scriptKeys(): string[] {
    return [
      String(SCRIPT_KEYS.length),
      ...SCRIPT_KEYS.map((key) => this.keys[key]),
    ];
  }

  /**
   * Sends a command on the commands connection. It fails if Redis has not
   * answered within the deadline (node-redis's own timeout ends once a
   * command is written, so a paused Redis would hold it for as long as
   * TCP lasts).
   */
  command(args: readonly string[]): Promise<unknown> {
    return timed(this.commands.sendCommand(args), this.#timeoutMs);
  }

  /** Sends a blocking read (`XREAD BLOCK blockMs`), with the same limit. */
  read(args: readonly string[], blockMs: number): Promise<unknown> {
    return timed(this.reader.sendCommand(args), blockMs + this.#timeoutMs);
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

  /** Takes the epoch in force; throws if the state's format is unknown. */
  async #adoptEpoch(rollback = false): Promise<void> {
    const [epoch, format] = await this.command([
      "EVAL",
      NEW_EPOCH,
      ...this.#scriptKeys(),
      this.keys.serverMembers("*"),
      this.#epoch,
      crypto.randomUUID(),
      rollback ? "1" : "0",
      STATE_FORMAT,
    ]) as [string, string];
    if (format !== STATE_FORMAT) {
      throw new StateFormatError(this.cluster, String(format));
    }
    this.#epoch = String(epoch);
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
