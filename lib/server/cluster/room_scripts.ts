/**
 * The rooms in Redis, in Lua: a snapshot of what every server's replica
 * of the rooms holds (`rooms.ts`), kept by the cluster's scripts in the
 * same step as each event that changes it, only so that a server that
 * starts later can begin with it ({@linkcode ROOMS_SNAPSHOT}). Running
 * servers never read it: they change their replica as the log hands events
 * on, by the same rules. What is kept: each room's record (`rooms`), the
 * rooms of each member (`roomMembers`) and their sizes (`roomSizes`), where
 * each temporary room's current incarnation begins (`roomSince`), whom
 * each room's mutes hold (`roomMuted`, `mute_scripts.ts`: a message of
 * theirs is refused, `muted`), which
 * room holds each look-alike key (`roomSkeletons`: a room whose name looks
 * like one the log knows is refused in the same step, whichever server
 * asked), and each room's last messages and actions (a list per room, `--history` at
 * most), so that a quiet room keeps its history when a busy one trims the
 * stream.
 *
 * @module
 */

import { MUTE_LUA, SERVER_MUTE_LUA } from "./mute_scripts.ts";

/** The rooms' basics: their members, their guest operators. */
const ROOM_BASICS_LUA = `
-- A list of room names as JSON (cjson writes an empty one as {}).
local function listText(list)
  if #list == 0 then return '[]' end
  return cjson.encode(list)
end
-- The rooms member id is in (nil: it holds no entry).
local function roomsOf(id)
  local raw = redis.call('HGET', K.roomMembers, id)
  if not raw then return nil end
  local ok, rooms = pcall(cjson.decode, raw)
  if not ok or type(rooms) ~= 'table' then return {} end
  return rooms
end
-- The guest operator '~from' of room name goes (to: nil), or becomes
-- '~to'. Only the operators list of the record's JSON is rewritten:
-- cjson would turn the record's empty lists into objects.
local function guestOp(name, from, to)
  local raw = redis.call('HGET', K.rooms, name)
  if not raw or not from then return end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or type(rec.operators) ~= 'table' then
    return
  end
  local was, now, found = {}, {}, false
  for _, op in ipairs(rec.operators) do
    was[#was + 1] = cjson.encode(op)
    if op == '~' .. from then
      found = true
      if to then now[#now + 1] = cjson.encode('~' .. to) end
    else
      now[#now + 1] = cjson.encode(op)
    end
  end
  if not found then return end
  local old = '"operators":[' .. table.concat(was, ',') .. ']'
  local at = string.find(raw, old, 1, true)
  if not at then return end
  redis.call('HSET', K.rooms, name, string.sub(raw, 1, at - 1) ..
    '"operators":[' .. table.concat(now, ',') .. ']' ..
    string.sub(raw, at + #old))
end
-- Whether member id is in room name.
local function isIn(id, name)
  for _, r in ipairs(roomsOf(id) or {}) do
    if r == name then return true end
  end
  return false
end
-- The key of the ids of room name's members (a set; none for the default
-- room), under the recent lists' prefix: wiped with them.
local function idsKey(name)
  return ARGV[4] .. name .. ':in'
end
-- Member id enters room name (once).
local function enterRoom(id, name)
  local rooms = roomsOf(id) or {}
  for _, r in ipairs(rooms) do
    if r == name then return end
  end
  rooms[#rooms + 1] = name
  redis.call('HSET', K.roomMembers, id, listText(rooms))
  redis.call('HINCRBY', K.roomSizes, name, 1)
  if name ~= ARGV[5] then redis.call('SADD', idsKey(name), id) end
end
-- One member (alias key: key) fewer in room name.
local function outOf(name, key)
  if redis.call('HINCRBY', K.roomSizes, name, -1) <= 0 then
    redis.call('HDEL', K.roomSizes, name)
  end
  guestOp(name, key, nil)
end
`;

/**
 * The room events, after the mutes' rules ({@linkcode MUTE_LUA},
 * {@linkcode SERVER_MUTE_LUA}).
 */
const ROOM_EVENTS_LUA = `
-- Member id (alias key: key) leaves room name.
local function leaveRoom(id, key, name)
  local rooms = roomsOf(id)
  if not rooms then return end
  for i, r in ipairs(rooms) do
    if r == name then
      table.remove(rooms, i)
      redis.call('HSET', K.roomMembers, id, listText(rooms))
      redis.call('SREM', idsKey(name), id)
      outOf(name, key)
      unhold(id, name)
      return
    end
  end
end
-- Member id (alias key: key) leaves the server: every room it is in.
local function leaveRooms(id, key)
  for _, r in ipairs(roomsOf(id) or {}) do
    redis.call('SREM', idsKey(r), id)
    outOf(r, key)
  end
  redis.call('HDEL', K.roomMembers, id)
  redis.call('HDEL', K.roomMuted, id)
  redis.call('HDEL', K.serverMuted, id)
  serverHoldsChanged()
end
-- Member id renamed from alias key from to to: its guest rights follow.
local function renameOps(id, from, to)
  for _, r in ipairs(roomsOf(id) or {}) do guestOp(r, from, to) end
end
-- An empty temporary room goes, with its messages and its look-alike
-- key skel.
local function expire(name, skel)
  local raw = redis.call('HGET', K.rooms, name)
  if not raw or redis.call('HEXISTS', K.roomSizes, name) == 1 then return end
  local ok, rec = pcall(cjson.decode, raw)
  if ok and type(rec) == 'table' and rec.registeredBy ~= nil and
    rec.registeredBy ~= cjson.null then return end
  redis.call('HDEL', K.rooms, name)
  redis.call('HDEL', K.roomSince, name)
  redis.call('DEL', ARGV[4] .. name, idsKey(name))
  if redis.call('HGET', K.roomSkeletons, skel) == name then
    redis.call('HDEL', K.roomSkeletons, skel)
  end
end
-- The room the log knows whose name looks like room's (its look-alike key
-- skel), when a line with effect kind would make the log know room; nil
-- when there is none (or room is known already: it is no creation).
local function lookalikeRoom(room, kind, skel)
  if kind ~= 'room' or room == '' or skel == '' or
    redis.call('HEXISTS', K.rooms, room) == 1 then return nil end
  local other = redis.call('HGET', K.roomSkeletons, skel)
  if other and other ~= room and
    redis.call('HEXISTS', K.rooms, other) == 1 then return other end
  return nil
end
-- What an appended event (of line type ltype, in room: '' for the default
-- room, from member origin, its effect kind and value) does to the rooms;
-- entry: the stream entry as JSON, kept with the room's last messages;
-- seq: its number; skel: the room's look-alike key ('' unless kind is
-- room or expire); line: its JSON; time: its time (ms).
local function mirror(room, ltype, origin, kind, value, entry, seq, skel,
  line, time)
  if ltype == 'MSG' or ltype == 'ME' then
    local name = room ~= '' and room or ARGV[5]
    local keep = tonumber(room ~= '' and ARGV[6] or ARGV[7])
    if keep > 0 then
      redis.call('LPUSH', ARGV[4] .. name, entry)
      redis.call('LTRIM', ARGV[4] .. name, 0, keep - 1)
    end
    return
  end
  if room == '' then return end
  -- The default room's record is the servers' own (its topic, bans and
  -- mutes travel as their own effects): only its members are kept.
  if kind == 'room' and room ~= ARGV[5] then
    -- A room the log knows again begins anew (room_replica.ts).
    if redis.call('HEXISTS', K.rooms, room) == 0 then
      redis.call('HSET', K.roomSince, room, seq - 1)
      if skel ~= '' then redis.call('HSET', K.roomSkeletons, skel, room) end
    end
    if ltype == 'JOIN' then
      redis.call('HSETNX', K.rooms, room, value)
    else
      local was = redis.call('HGET', K.rooms, room)
      redis.call('HSET', K.rooms, room, value)
      if ltype == 'MOD' then holdAll(room, line, was, value, time) end
    end
  elseif kind == 'expire' then
    expire(room, skel)
  end
  if ltype == 'JOIN' then
    enterRoom(origin, room)
    if room ~= ARGV[5] then holdJoiner(origin, room, time) end
  elseif ltype == 'LEAVE' then
    leaveRoom(origin, redis.call('HGET', K.ids, origin), room)
  end
end
`;

/**
 * The room rules in Lua, for the scripts' prelude (after the keys, `K`).
 * Common ARGV: [4] starts the key of a room's recent list, [5] is the
 * default room's name, [6] how many messages and actions a room keeps,
 * [7] how many the default room keeps.
 */
export const ROOM_LUA = ROOM_BASICS_LUA + MUTE_LUA + SERVER_MUTE_LUA +
  ROOM_EVENTS_LUA;

/**
 * The rooms as a server that starts now begins with them, in one step
 * with the number of the last event (reading goes on after it): the last
 * number given, the `rooms` hash (name, record JSON, ...), everyone in the
 * rooms in the order they joined the cluster (member id, alias, rooms
 * JSON, ...), each room's last messages and actions (name, entries
 * newest first, ...), the default room's first, the `roomSince` hash
 * (name, number, ...) and the `roomMuted` hash (member id, holds JSON,
 * ...). Runs after the prelude.
 */
export const ROOMS_SNAPSHOT = `
local members = {}
for _, key in ipairs(redis.call('ZRANGE', K.order, 0, -1)) do
  local raw = redis.call('HGET', K.members, key)
  if raw then
    local m = cjson.decode(raw)
    local rooms = redis.call('HGET', K.roomMembers, m.id)
    if rooms then
      members[#members + 1] = m.id
      members[#members + 1] = m.alias
      members[#members + 1] = rooms
    end
  end
end
local rooms = redis.call('HGETALL', K.rooms)
local recent = {ARGV[5], redis.call('LRANGE', ARGV[4] .. ARGV[5], 0, -1)}
for i = 1, #rooms, 2 do
  if rooms[i] ~= ARGV[5] then
    recent[#recent + 1] = rooms[i]
    recent[#recent + 1] = redis.call('LRANGE', ARGV[4] .. rooms[i], 0, -1)
  end
end
return {redis.call('GET', K.seq) or '0', rooms, members, recent,
  redis.call('HGETALL', K.roomSince), redis.call('HGETALL', K.roomMuted)}`;
