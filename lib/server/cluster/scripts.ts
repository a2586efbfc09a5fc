/**
 * The Lua scripts that make every change of the room's membership in Redis
 * atomic with the event that announces it, and the one that takes the
 * cluster's epoch. Each receives the cluster's fixed keys as KEYS, in the
 * order of `SCRIPT_KEYS` (`keys.ts`), and names them in Lua (`K.events`,
 * `K.seq`, ...): no key name is written in the Lua text.
 *
 * @module
 */

import { LUA_KEYS, PRELUDE } from "./lua_prelude.ts";
import { MARK, TAKEOVER } from "./resume_scripts.ts";
import { ROOMS_SNAPSHOT } from "./room_scripts.ts";

/**
 * The scripts. Every one takes KEYS = the cluster's fixed keys (in the
 * order of `SCRIPT_KEYS`) and ARGV[1] = the stream's MAXLEN, ARGV[2] =
 * the start of a server's member set key, ARGV[3] = the epoch this server
 * knows, ARGV[4] = the start of a room's recent list key, ARGV[5] = the
 * default room's name, ARGV[6] and [7] = how many messages and actions a
 * room and the default room keep; their own arguments follow, from
 * ARGV[8].
 */
export const SCRIPTS = {
  /**
   * ARGV[8]: how many line ids to keep; ARGV[9..]: (time, origin member
   * id, the alias it speaks as, line JSON, effect kind ('' for none),
   * effect value JSON, line id, line sign, append tag, room ('' for the
   * default room), line type, the room's look-alike key ('' unless its
   * effect is `room` or `expire`) for each line. Stores each line whose id
   * it does not hold yet,
   * if its member still holds its claim under that alias and its server is
   * alive (not counted lost), all in one step. Returns the last number
   * given, then for each line: its number (stored now, or by an earlier
   * try of the same append: same id, sign and tag), 'duplicate:N:T' (the
   * same line, stored by another append as N at T, '' once trimmed), 'reused'
   * (another line holds its id), 'gone' (its member left or was removed,
   * or its server was counted lost), 'alias' (it speaks under an alias
   * it no longer holds), 'outside' (a message or action in a room its
   * member is not in: its server had not read its kick, ban or part yet),
   * 'muted' (a message or action in a room whose mute, stored before it,
   * holds its member, or in any room from a member a server-wide mute
   * stored before it holds: its server had not read the mute yet;
   * `mute_scripts.ts`)
   * or 'lookalike:NAME' (it would make the log know a
   * room whose name looks like room NAME's, which it knows). A `sanctions` effect (the bans and mutes in force
   * after a `MOD` line; its mutes hold the members they cover from then
   * on) and a `topic` effect are also kept, for servers
   * that start later: what is kept is what the log says last; so are the
   * rooms (`room_scripts.ts`). An `expire` line is the servers' own (no
   * member speaks it): it is stored whoever its origin.
   */
  append: `${PRELUDE}
-- Each speaker's alias (false: none) and claim (decoded), read once.
local speakers, claims = {}, {}
local function speaker(origin)
  if speakers[origin] == nil then
    speakers[origin] = false
    local key = redis.call('HGET', K.ids, origin)
    local raw = key and redis.call('HGET', K.members, key)
    if raw then
      local m = cjson.decode(raw)
      if m.id == origin and redis.call('ZSCORE', K.servers, m.server) then
        speakers[origin], claims[origin] = m.alias, m
      end
    end
  end
  return speakers[origin]
end
-- What the room lines' checks read (each speaker's rooms, as a set, and
-- holds; each room's mutes), kept for the next lines until a line that
-- may change them (any but a message or action) is stored.
local seen = {rooms = {}, holds = {}, mutes = {}}
local function speaksIn(origin, room)
  local set = seen.rooms[origin]
  if not set then
    set = {}
    for _, r in ipairs(roomsOf(origin) or {}) do
      if type(r) == 'string' then set[r] = true end
    end
    seen.rooms[origin] = set
  end
  return set[room] == true
end
local out = {0}
for i = 9, #ARGV, 12 do
  local time, origin, alias, line, effect, value, id, sign, tag, room,
    ltype, skel = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3],
    ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8],
    ARGV[i + 9], ARGV[i + 10], ARGV[i + 11]
  local held = redis.call('ZSCORE', K.lineIds, id)
  local other = lookalikeRoom(room, effect, skel)
  local holds = effect == 'expire' and alias or speaker(origin)
  if held then
    local was = redis.call('HGET', K.lineSigns, id)
    if was == sign .. ':' .. tag then
      out[#out + 1] = tonumber(held)
    elseif was and string.sub(was, 1, #sign + 1) ~= sign .. ':' then
      out[#out + 1] = 'reused'
    else
      local e = redis.call('XRANGE', K.events, held .. '-0', held .. '-0')[1]
      out[#out + 1] = 'duplicate:' .. held .. ':' .. (e and e[2][2] or '')
    end
  elseif not holds then
    out[#out + 1] = 'gone'
  elseif holds ~= alias then
    out[#out + 1] = 'alias'
  elseif room ~= '' and (ltype == 'MSG' or ltype == 'ME') and
    not speaksIn(origin, room) then
    out[#out + 1] = 'outside'
  elseif room ~= '' and room ~= ARGV[5] and (ltype == 'MSG' or ltype == 'ME')
    and mutedIn(origin, room, time, seen) then
    out[#out + 1] = 'muted'
  elseif (ltype == 'MSG' or ltype == 'ME') and
    serverMutedAt(origin, claims[origin], time) then
    out[#out + 1] = 'muted'
  elseif other then
    out[#out + 1] = 'lookalike:' .. other
  else
    -- A JOIN's record counts only while the log knows no such room
    -- (room_replica.ts, mirror's HSETNX): once it does, it is stored bare.
    if ltype == 'JOIN' and effect == 'room' and
      redis.call('HEXISTS', K.rooms, room) == 1 then
      effect, value = '', ''
    end
    local seq, entry = xadd(time, origin, line, effect, value, id, room)
    mirror(room, ltype, origin, effect, value, entry, seq, skel, line, time)
    redis.call('ZADD', K.lineIds, seq, id)
    redis.call('HSET', K.lineSigns, id, sign .. ':' .. tag)
    out[#out + 1] = seq
    if ltype ~= 'MSG' and ltype ~= 'ME' then
      seen = {rooms = {}, holds = {}, mutes = {}}
    end
    if effect == 'sanctions' then
      redis.call('SET', K.sanctions, value)
      holdServerWide(value, time)
    end
    if effect == 'topic' then redis.call('SET', K.topic, value) end
  end
end
local extra = redis.call('ZCARD', K.lineIds) - tonumber(ARGV[8])
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', K.lineIds, 0, extra - 1)) do
    redis.call('HDEL', K.lineSigns, old)
  end
  redis.call('ZREMRANGEBYRANK', K.lineIds, 0, extra - 1)
end
out[1] = tonumber(redis.call('GET', K.seq) or '0')
return out`,
  /**
   * ARGV[8] key, [9] skeleton, [10] record JSON, [11] replace (1/0),
   * [12] time, [13] old key when renaming ('' to join). A join puts the
   * member in the default room; a rename takes its guest rights along
   * (`room_scripts.ts`); a server-wide mute in force that covers the
   * claim holds its member (`mute_scripts.ts`). Returns
   * {'ok', online, seq of its JOIN or NICK}, {'taken', alias},
   * {'lookalike', alias}, {'gone', ''}
   * when renaming a member that no longer holds its alias (removed
   * meanwhile), or {'notlive', ''} when the member's server is not beating
   * (not yet, or counted lost): nobody would ever evict what it claims.
   * Asked again after a reply was lost, it answers 'ok' and changes
   * nothing.
   */
  claim: `${PRELUDE}
local key, skel, rec, replace, time, old = ARGV[8], ARGV[9], ARGV[10],
  ARGV[11] == '1', ARGV[12], ARGV[13]
local me = cjson.decode(rec)
local online = function() return tostring(redis.call('HLEN', K.members)) end
-- The answer when the alias's holder decides it ('ok': me already; 'taken'),
-- or nil; with replace, another holder is removed first.
local function byHolder()
  local holder = redis.call('HGET', K.members, key)
  if not holder then return nil end
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
  return nil
end
-- The alias of someone else that looks like this one, or nil.
local function lookalike()
  local other = redis.call('HGET', K.skeletons, skel)
  if other and other ~= key and other ~= old then
    local o = redis.call('HGET', K.members, other)
    if o then return cjson.decode(o).alias end
  end
  return nil
end
-- Frees the renamer's old alias (and its skeleton, if it was the owner).
local function free(was)
  -- Its token and whether it is held go with it (resume_scripts.ts).
  if was.resume then redis.call('HSET', K.tokens, was.resume, key) end
  me.resume, me.away = was.resume, was.away
  redis.call('HDEL', K.members, old)
  redis.call('SREM', serverSet(me.server), old)
  if was.skeleton and redis.call('HGET', K.skeletons, was.skeleton) == old then
    redis.call('HDEL', K.skeletons, was.skeleton)
  end
end
-- Stores me under key; returns the online count.
local function store()
  me.skeleton = skel
  redis.call('HSET', K.members, key, cjson.encode(me))
  redis.call('HSET', K.ids, me.id, key)
  local other = redis.call('HGET', K.skeletons, skel)
  if not other or not redis.call('HEXISTS', K.members, other) then
    redis.call('HSET', K.skeletons, skel, key)
  end
  redis.call('SADD', serverSet(me.server), key)
  holdClaim(me, time)
  return online()
end
-- The NICK of a rename (keeping its place in the join order) or the JOIN.
local function announce(was, count)
  if was then
    local score = redis.call('ZSCORE', K.order, old)
    redis.call('ZREM', K.order, old)
    local seq = xadd(time, me.id, cjson.encode({type = 'NICK',
      alias = was.alias, newAlias = me.alias, online = count}), '', '',
      nil, nil, roomsOf(me.id) or {})
    redis.call('ZADD', K.order, score or seq, key)
    renameOps(me.id, old, key)
    return {'ok', count, tostring(seq)}
  end
  local seq = xadd(time, me.id, cjson.encode({type = 'JOIN',
    alias = me.alias, online = count}), '', '')
  redis.call('ZADD', K.order, seq, key)
  enterRoom(me.id, ARGV[5])
  return {'ok', count, tostring(seq)}
end
if not redis.call('ZSCORE', K.servers, me.server) then
  return {'notlive', ''}
end
local answer = byHolder()
if answer then return answer end
local was = nil
if old ~= '' then
  local raw = redis.call('HGET', K.members, old)
  if raw then was = cjson.decode(raw) end
  if not was or was.id ~= me.id then return {'gone', ''} end
else
  -- A join by an id that still holds another alias (an earlier claim
  -- whose answer was lost): that one goes first.
  local stale = redis.call('HGET', K.ids, me.id)
  if stale and stale ~= key then remove(stale, 'disconnect', '', '', time) end
end
if not replace then
  local alias = lookalike()
  if alias then return {'lookalike', alias} end
end
if was then free(was) end
return announce(was, store())`,
  /**
   * ARGV[8] key ('' for the alias member ARGV[9] holds now), [9] member id
   * ('' for whoever holds the key), [10] reason, [11] text, [12] BYE text
   * for the one removed, [13] time, [14] its server ('' for any: a kick;
   * a member's own server leaves it only while its claim is there, not
   * taken over by another). Returns 1 if someone was removed (out of
   * every room too).
   */
  leave: `${PRELUDE}
local key, id = ARGV[8], ARGV[9]
if key == '' then key = redis.call('HGET', K.ids, id) end
if not key then return 0 end
local raw = redis.call('HGET', K.members, key)
if not raw then return 0 end
local m = cjson.decode(raw)
if id ~= '' and m.id ~= id then return 0 end
if (ARGV[14] or '') ~= '' and m.server ~= ARGV[14] then return 0 end
return remove(key, ARGV[10], ARGV[11], ARGV[12], ARGV[13])`,
  /**
   * Removes every member of server ARGV[8] (a server that stopped, or
   * lost), announcing each with reason ARGV[9] and BYE text ARGV[12]
   * (out of every room too); ARGV[10] time. Unless ARGV[11] is '1' (a server leaving by itself),
   * only while its deadline is past by Redis's clock: a beat that landed
   * meanwhile saves it. Returns how many, or -1 when it was saved.
   */
  evict: `${PRELUDE}
if ARGV[11] ~= '1' then
  local deadline = redis.call('ZSCORE', K.servers, ARGV[8])
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if not deadline or tonumber(deadline) > now then return -1 end
end
local set = serverSet(ARGV[8])
local count = 0
for _, key in ipairs(redis.call('SMEMBERS', set)) do
  local raw = redis.call('HGET', K.members, key)
  if raw and cjson.decode(raw).server == ARGV[8] then
    count = count + remove(key, ARGV[9], '', ARGV[12] or '', ARGV[10])
  end
end
redis.call('DEL', set)
redis.call('ZREM', K.servers, ARGV[8])
return count`,
  /**
   * Server ARGV[8] is alive for ARGV[9] ms more, by Redis's clock (the
   * servers' clocks may differ). Returns whether it was missing (1: it
   * had been counted lost, or is new), how many servers' time has not run
   * out, then the servers whose time ran out, except for ARGV[11] ms (the
   * heartbeat's grace) after nobody at all beat for ARGV[10] ms (Redis
   * paused or down: everyone gets time to reconnect and beat again first).
   */
  beat: `${PRELUDE}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', K.lastbeat) or '0')
local calm = tonumber(redis.call('GET', K.calm) or '0')
if last > 0 and now - last > tonumber(ARGV[10]) then
  calm = now + tonumber(ARGV[11])
  redis.call('SET', K.calm, calm)
end
redis.call('SET', K.lastbeat, now)
local added = redis.call('ZADD', K.servers, now + tonumber(ARGV[9]), ARGV[8])
local live = redis.call('ZCOUNT', K.servers, '(' .. now, '+inf')
if now < calm then return {added, live} end
local lost = redis.call('ZRANGEBYSCORE', K.servers, '-inf', now)
table.insert(lost, 1, live)
table.insert(lost, 1, added)
return lost`,
  /** A member's token's hash and whether it is held: `resume_scripts.ts`. */
  mark: `${PRELUDE}${MARK}`,
  /** A member's claim taken over by another server: `resume_scripts.ts`. */
  takeover: `${PRELUDE}${TAKEOVER}`,
  /** The rooms as a server that starts now begins with them: {@linkcode ROOMS_SNAPSHOT}. */
  snapshot: `${PRELUDE}${ROOMS_SNAPSHOT}`,
} as const;

/**
 * Takes the cluster's epoch: KEYS = the fixed keys (as for every script);
 * ARGV[1] the pattern of the servers' member sets, [2] the epoch this
 * server knew ('' at start), [3] a new value, [4] '1' when Redis went back
 * in time under the epoch it knew, [5] the state format this server
 * writes, [6] the pattern of the rooms' recent lists, [7] the older
 * formats it upgrades (`1,2`). When there is none (a new cluster, or Redis
 * lost it), or on such a rollback while no other server has renewed it
 * yet, whatever is left of the cluster's state is wiped and the new value
 * set, with the format. State of an older format (none: format 1) takes
 * this format once no server is alive by Redis's clock. Returns the epoch
 * in force and the state's format.
 */
export const NEW_EPOCH = `
${LUA_KEYS}
local current = redis.call('GET', K.epoch)
if not current or (ARGV[4] == '1' and current == ARGV[2]) then
  for _, key in ipairs(KEYS) do redis.call('DEL', key) end
  for _, pattern in ipairs({ARGV[1], ARGV[6]}) do
    for _, key in ipairs(redis.call('KEYS', pattern)) do
      redis.call('DEL', key)
    end
  end
  redis.call('SET', K.epoch, ARGV[3])
  redis.call('SET', K.format, ARGV[5])
  current = ARGV[3]
end
local format = redis.call('GET', K.format) or '1'
if string.find(',' .. ARGV[7] .. ',', ',' .. format .. ',', 1, true) then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if redis.call('ZCOUNT', K.servers, '(' .. now, '+inf') > 0 then
    return {current, format}
  end
  redis.call('SET', K.format, ARGV[5])
  format = ARGV[5]
end
return {current, format}`;
