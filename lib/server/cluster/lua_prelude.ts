/**
 * What every cluster script begins with (`scripts.ts`): the cluster's
 * fixed keys named in Lua (`K.events` is KEYS[1], in the order of
 * {@linkcode SCRIPT_KEYS}), the epoch check, the rooms' and resumes'
 * rules, and the helpers that append an event and remove a member.
 *
 * @module
 */

import { SCRIPT_KEYS } from "./keys.ts";
import { RESUME_LUA } from "./resume_scripts.ts";
import { ROOM_LUA } from "./room_scripts.ts";

/** The fixed keys by name, in Lua: `K.events` is KEYS[1], and so on. */
export const LUA_KEYS = `local K = {${
  SCRIPT_KEYS.map((key, i) => `${key} = KEYS[${i + 1}]`).join(", ")
}}`;

/**
 * Shared by the scripts: the keys by name, the epoch check (ARGV[3]: a
 * Redis that lost the cluster's state refuses every change, and the
 * servers start afresh), and an event appended with the next number.
 * ARGV[2] starts the key of a server's member set (the keys a script
 * finds by what it reads: a member's server, a room's recent list); the
 * rooms' rules and their ARGV[4..7] are room_scripts.ts's.
 */
export const PRELUDE = `
${LUA_KEYS}
if redis.call('GET', K.epoch) ~= ARGV[3] then
  return redis.error_reply('EPOCH the cluster state in Redis was lost')
end
${ROOM_LUA}${RESUME_LUA}
-- An event with the next number: its effect (room_log.ts, EventEffect) is
-- its kind and its value as JSON ('' for none), as stored_event.ts reads it;
-- its room ('' or nil: the default room); for a rename or a leave of the
-- server, reached: the rooms of its member (a list). Returns its number
-- and its entry (as JSON, as XRANGE gives it).
local function xadd(time, origin, line, effect, value, id, room, reached)
  local seq = redis.call('INCR', K.seq)
  local fields = {'t', time, 'o', origin, 'l', line}
  if room and room ~= '' then
    fields[#fields + 1] = 'r'
    fields[#fields + 1] = room
  end
  if reached then
    fields[#fields + 1] = 'rs'
    fields[#fields + 1] = listText(reached)
  end
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
  return seq, cjson.encode({seq .. '-0', fields})
end
local function serverSet(server)
  return ARGV[2] .. server
end
local function remove(key, reason, text, bye, time)
  local raw = redis.call('HGET', K.members, key)
  if not raw then return 0 end
  local m = cjson.decode(raw)
  dropToken(m, key)
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
  local reached = roomsOf(m.id) or {}
  leaveRooms(m.id, key)
  local online = redis.call('HLEN', K.members)
  xadd(time, m.id, cjson.encode({type = 'LEAVE', alias = m.alias,
    online = tostring(online), reason = reason, text = text}),
    bye ~= '' and 'bye' or '', cjson.encode(bye), nil, nil, reached)
  return 1
end
`;
