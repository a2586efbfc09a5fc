/**
 * Whom the rooms' mutes hold, in Redis (`roomMuted`: member id -> JSON
 * object, room name -> `ID TARGET` of the mute that holds it), in Lua for
 * the scripts' prelude: every member in a room that one of the room's
 * mutes covers, whatever server it is connected to, as the room's own
 * check (`room_record.ts`, `sanctionFor`) decides it there. Its claim
 * (`members`) gives its account, its address group (`group`, set by the
 * claim: `Cluster.claim`) and whether it is a server operator. Holds are
 * set in the step that stores the event that changes them: a `MOD` of a
 * mute, unmute, op or deop (for every member in the room: never by alias,
 * so a newcomer who took the muted member's alias before the line was
 * stored is held only if the mute covers it too; a claim of an earlier
 * release, which has no group, is also held by the mute that names it by
 * id, `target`), and a `JOIN` of a room (for the joiner). The `append` script refuses a message or action in a room
 * from a member a mute in force there holds (`mutedIn`): a line its server
 * sent before it read the mute. That check reads a speaker's holds once a
 * script call (and a room's mutes once, for a speaker held there), until a
 * line that may change them is stored; a `MOD` reads each room's mutes
 * once as it sets the holds.
 *
 * A member holds at most one hold per room it is in: its holds go when it
 * leaves the room or the server, or when its mute is gone. The server-wide
 * mutes (the default room's) hold the same way in their own hash
 * (`serverMuted`, {@linkcode SERVER_MUTE_LUA}), checked only while it has
 * anyone, so that the default room's lines cost nothing more otherwise.
 *
 * @module
 */

/**
 * The mutes' rules in Lua, after the rooms' basics (`roomsOf`, `isIn`:
 * `room_scripts.ts`) and before the room events that use them.
 */
export const MUTE_LUA = `
-- The mutes of a record's JSON raw (nil: none), each {'ID TARGET', mute}.
local function mutesOf(raw)
  local ok, rec = pcall(cjson.decode, raw or '')
  local named = {}
  if not ok or type(rec) ~= 'table' or type(rec.mutes) ~= 'table' then
    return named
  end
  for _, s in ipairs(rec.mutes) do
    named[#named + 1] = {tostring(s.id) .. ' ' .. tostring(s.target), s}
  end
  return named
end
-- The rooms' mutes that hold member id: room name -> 'ID TARGET'.
local function holdsOf(id)
  local ok, held = pcall(cjson.decode,
    redis.call('HGET', K.roomMuted, id) or '{}')
  if not ok or type(held) ~= 'table' then return {} end
  return held
end
-- The names ('ID TARGET') of room name's mutes, as a set; seen (nil: none)
-- keeps each room's for a step that changes no record meanwhile.
local function muteNames(name, seen)
  local names = seen and seen[name]
  if names then return names end
  names = {}
  for _, m in ipairs(mutesOf(redis.call('HGET', K.rooms, name))) do
    names[m[1]] = true
  end
  if seen then seen[name] = names end
  return names
end
-- Whether room name's record holds the mute named key ('ID TARGET');
-- seen: as muteNames's.
local function inForce(name, key, seen)
  return muteNames(name, seen)[key] == true
end
-- Member id's holds become held (room name -> key; empty: none).
local function keepHolds(id, held)
  if next(held) == nil then
    redis.call('HDEL', K.roomMuted, id)
  else
    redis.call('HSET', K.roomMuted, id, cjson.encode(held))
  end
end
-- Member id is held in room name by the mute named key (nil: by none
-- there); its other holds stay only while their mute is in force (seen:
-- as muteNames's).
local function hold(id, name, key, seen)
  local held = {}
  for r, k in pairs(holdsOf(id)) do
    if type(k) == 'string' and r ~= name and inForce(r, k, seen) then
      held[r] = k
    end
  end
  held[name] = key
  keepHolds(id, held)
end
-- Member id leaves room name: its hold there goes.
local function unhold(id, name)
  local held = holdsOf(id)
  if held[name] == nil then return end
  held[name] = nil
  keepHolds(id, held)
end
-- The claim of member id (members), or nil.
local function claimOf(id)
  local key = redis.call('HGET', K.ids, id)
  local raw = key and redis.call('HGET', K.members, key)
  if not raw then return nil end
  local ok, m = pcall(cjson.decode, raw)
  if not ok or type(m) ~= 'table' or m.id ~= id then return nil end
  return m
end
-- The mutes of room record rec (decoded) in force at time (ms).
local function inForceAt(rec, time)
  local found = {}
  if type(rec) ~= 'table' or type(rec.mutes) ~= 'table' then return found end
  for _, s in ipairs(rec.mutes) do
    local till = s['until']
    if type(till) ~= 'number' or till > tonumber(time) then
      found[#found + 1] = {tostring(s.id) .. ' ' .. tostring(s.target), s}
    end
  end
  return found
end
-- Room record rec (decoded) and its mutes (inForceAt's) as lookups, so
-- that judging a member costs the same whatever their number: operators
-- (a set), the position of the first mute naming each account (lower
-- case) and each address group.
local function muteIndex(rec, mutes)
  local ops, accounts, groups = {}, {}, {}
  for _, o in ipairs(type(rec.operators) == 'table' and rec.operators or {}) do
    if type(o) == 'string' then ops[o] = true end
  end
  for i, named in ipairs(mutes) do
    local s = named[2]
    if type(s.target) == 'string' and s.kind == 'account' then
      local a = string.lower(s.target)
      accounts[a] = accounts[a] or i
    elseif type(s.target) == 'string' and s.kind == 'address' then
      groups[s.target] = groups[s.target] or i
    end
  end
  return {ops = ops, accounts = accounts, groups = groups, mutes = mutes}
end
-- The key of the first mute of index (muteIndex's) that holds member
-- claim m, or nil: never a server operator; an account mute, by its
-- account; an address mute, by its address group (a claim of an earlier
-- release has none: its host, an IPv4 address's group), unless it
-- operates the room (room_record.ts, sanctionFor).
local function coveredBy(m, index)
  if m.operator == true then return nil end
  local account = type(m.account) == 'string' and string.lower(m.account)
  local group = type(m.group) == 'string' and m.group or m.host
  local op = account or ('~' .. string.lower(tostring(m.alias)))
  local first = account and index.accounts[account]
  local byGroup = not index.ops[op] and type(group) == 'string' and
    index.groups[group]
  if byGroup and (not first or byGroup < first) then first = byGroup end
  return first and index.mutes[first][1] or nil
end
-- The ids of the members in room name: its set (idsKey) when it holds as
-- many as roomSizes counts; else (a server of an earlier release keeps no
-- such set) a scan of the members' rooms (what each lists, as listText
-- wrote it, searched before it is decoded), which makes the set anew.
local function idsIn(name)
  local size = tonumber(redis.call('HGET', K.roomSizes, name) or '0')
  if redis.call('SCARD', idsKey(name)) == size then
    return redis.call('SMEMBERS', idsKey(name))
  end
  local ids, quoted = {}, cjson.encode(name)
  local all = redis.call('HGETALL', K.roomMembers)
  for i = 1, #all, 2 do
    if string.find(all[i + 1], quoted, 1, true) and isIn(all[i], name) then
      ids[#ids + 1] = all[i]
    end
  end
  redis.call('DEL', idsKey(name))
  for i = 1, #ids, 1000 do
    redis.call('SADD', idsKey(name), unpack(ids, i, math.min(i + 999, #ids)))
  end
  return ids
end
-- The key of the mute record rec (decoded) has that was (JSON) lacks.
local function addedMute(was, rec)
  local before = {}
  for _, m in ipairs(mutesOf(was)) do before[m[1]] = true end
  for _, m in ipairs(inForceAt(rec, 0)) do
    if not before[m[1]] then return m[1] end
  end
  return nil
end
local REHOLD = {mute = true, unmute = true, op = true, deop = true}
-- A MOD (line JSON, at time) of room name changed its record from was to
-- raw (JSON, just written): every member in the room a mute in force
-- covers is held by it (never by
-- its alias: a newcomer who took it is held only if covered itself); the
-- other holds of the room go. A member whose claim has no group (an
-- earlier release's, judged by its host) is held by a new mute that names
-- it by id (line.target), and keeps a hold while its mute is in force.
-- Each room's mutes are read once (no record changes meanwhile).
local function holdAll(name, line, was, raw, time)
  local ok, l = pcall(cjson.decode, line)
  if not ok or type(l) ~= 'table' or not REHOLD[l.action] then return end
  local okr, rec = pcall(cjson.decode, raw or '')
  if not okr or type(rec) ~= 'table' then return end
  local seen = {}
  local mutes, held = inForceAt(rec, time), {}
  if #mutes > 0 then
    local index = muteIndex(rec, mutes)
    for _, id in ipairs(idsIn(name)) do
      local m = claimOf(id)
      local key = m and coveredBy(m, index)
      if key then held[id] = key end
    end
  end
  local added = l.action == 'mute' and addedMute(was, rec)
  local named = added and type(l.target) == 'string' and claimOf(l.target)
  if named and named.group == nil and isIn(l.target, name) then
    held[l.target] = added
  end
  local holders = redis.call('HGETALL', K.roomMuted)
  for i = 1, #holders, 2 do
    local id = holders[i]
    local okh, holds = pcall(cjson.decode, holders[i + 1])
    local key = okh and type(holds) == 'table' and holds[name]
    if type(key) == 'string' and held[id] == nil then
      local m = claimOf(id)
      if m and m.group == nil and inForce(name, key, seen) then held[id] = key
      else unhold(id, name) end
    end
  end
  for id, key in pairs(held) do hold(id, name, key, seen) end
end
-- Member id joined room name at time: a mute in force there that covers
-- it holds it (its server may not have read that mute yet).
local function holdJoiner(id, name, time)
  local raw = redis.call('HGET', K.rooms, name)
  if not raw or string.find(raw, '"mutes":[]', 1, true) then return end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' then return end
  local mutes = inForceAt(rec, time)
  local m = #mutes > 0 and claimOf(id)
  local key = m and coveredBy(m, muteIndex(rec, mutes))
  if key then hold(id, name, key) end
end
-- Whether a mute of room name in force at time (ms) holds member id;
-- seen keeps what it read (seen.holds: each member's holds, seen.mutes:
-- each room's mutes) for the next lines of one append, until a line that
-- may change them is stored.
local function mutedIn(id, name, time, seen)
  local holds = seen.holds[id] or holdsOf(id)
  seen.holds[id] = holds
  local held = holds[name]
  if type(held) ~= 'string' then return false end
  local mutes = seen.mutes[name] or mutesOf(redis.call('HGET', K.rooms, name))
  seen.mutes[name] = mutes
  for _, m in ipairs(mutes) do
    if m[1] == held then
      local till = m[2]['until']
      return type(till) ~= 'number' or till > tonumber(time)
    end
  end
  return false
end
`;

/**
 * The server-wide mutes (the default room's: the `sanctions` the last
 * `MOD` with that effect left), in Lua after {@linkcode MUTE_LUA}: whom
 * they hold (`serverMuted`: member id -> the end of the last mute that
 * covers it, ms, '' until lifted), by its claim as the server's own check
 * decides it (`Gate.sanctionFor`): an account mute by its account, an
 * address mute by its address group (a mute names one: `moderator.ts`;
 * an earlier release's claim has none, its host then), never a server
 * operator. Set for every member as a `sanctions` effect is stored
 * (`holdServerWide`) and for one member as it claims an alias
 * (`holdClaim`), dropped as it leaves the server, as its mutes end (at its
 * next line) and at every `sanctions` effect: at most one per member. A
 * message or action in any room (a server-wide mute silences a member in
 * every room) from a member held is refused (`serverMutedAt`) while
 * `sanctions` still has a mute in force at the line's time that covers it:
 * holds only say whom to check, so one left by a change an earlier release
 * stored (which sets no holds) silences nobody. Cost: one `EXISTS` a
 * script call (at its first message or action), nothing more per line
 * while nobody is held; else one `HGET` a speaker a call, and while a
 * speaker is held one `GET` of `sanctions` a call. Of `sanctions`, only its
 * mutes are decoded (`serverMutes`), not its bans, however many.
 */
export const SERVER_MUTE_LUA = `
-- In one call: whether anyone is held (nil: not read yet), each
-- speaker's hold read (false: none), the mutes in force (nil: not read).
local anyServerHeld, serverHeld, serverMutesNow = nil, {}, nil
-- Holds or mutes may have changed: read again at the next line.
local function serverHoldsChanged()
  anyServerHeld, serverHeld, serverMutesNow = nil, {}, nil
end
-- The mutes of sanctions JSON raw (a list of flat objects), without
-- decoding its bans: in one pass over it, each object that begins
-- '{"type":"mute"' (as servers write them) is decoded alone, up to the
-- next '{"' (in JSON text a quote inside a string is escaped: '{"' only
-- begins an object). A mute written otherwise, or one that does not
-- decode alone: the whole list is decoded.
local function serverMutes(raw)
  local found, list = {}, {}
  local at = raw and string.find(raw, 'mute"', 1, true)
  while at do
    local key = string.sub(raw, at - 9, at - 1)
    if key == '{"type":"' then
      local after = string.find(raw, '{"', at, true)
      local text = string.match(string.sub(raw, at - 9, (after or 0) - 1),
        '^(.*})')
      local ok, s = pcall(cjson.decode, text or '')
      if not ok then list = nil break end
      list[#list + 1] = s
    elseif string.sub(key, 2) == '"type":"' then
      list = nil
      break
    end
    at = string.find(raw, 'mute"', at + 5, true)
  end
  if list == nil then
    local ok, all = pcall(cjson.decode, raw)
    if not ok or type(all) ~= 'table' then return found end
    list = all
  end
  for _, s in ipairs(list) do
    if type(s) == 'table' and s.type == 'mute' and
      type(s.target) == 'string' then found[#found + 1] = s end
  end
  return found
end
-- How long mutes in force at time (ms) hold member claim m (decoded): ''
-- until lifted, the latest end (ms, as text), or nil when none covers it.
local function serverHoldOf(m, mutes, time)
  if type(m) ~= 'table' or type(m.id) ~= 'string' or m.operator == true then
    return nil
  end
  local account = type(m.account) == 'string' and string.lower(m.account)
  local group = type(m.group) == 'string' and m.group or m.host
  local last = nil
  for _, s in ipairs(mutes) do
    local till = s['until']
    if (type(till) ~= 'number' or till > tonumber(time)) and
      ((s.kind == 'account' and account and
        account == string.lower(s.target)) or
      (s.kind == 'address' and group == s.target)) then
      if type(till) ~= 'number' then return '' end
      last = math.max(last or 0, till)
    end
  end
  return last and string.format('%.0f', last) or nil
end
-- Sanctions JSON raw were stored at time (ms): the members its mutes
-- cover are held, nobody else.
local function holdServerWide(raw, time)
  serverHoldsChanged()
  redis.call('DEL', K.serverMuted)
  local mutes = serverMutes(raw)
  if #mutes == 0 then return end
  local all = redis.call('HGETALL', K.members)
  for i = 2, #all, 2 do
    local ok, m = pcall(cjson.decode, all[i])
    local till = ok and serverHoldOf(m, mutes, time)
    if till then redis.call('HSET', K.serverMuted, m.id, till) end
  end
end
-- Member claim m (decoded) was stored at time (ms): held while a mute in
-- force covers it.
local function holdClaim(m, time)
  serverHoldsChanged()
  local mutes = serverMutes(redis.call('GET', K.sanctions))
  local till = #mutes > 0 and serverHoldOf(m, mutes, time)
  if till then redis.call('HSET', K.serverMuted, m.id, till)
  else redis.call('HDEL', K.serverMuted, m.id) end
end
-- Whether a server-wide mute in force at time (ms) holds member id, whose
-- claim (decoded) is m; a hold no mute justifies any more goes.
local function serverMutedAt(id, m, time)
  if anyServerHeld == nil then
    anyServerHeld = redis.call('EXISTS', K.serverMuted) == 1
  end
  if not anyServerHeld then return false end
  if serverHeld[id] == nil then
    serverHeld[id] = redis.call('HGET', K.serverMuted, id) or false
  end
  local till = serverHeld[id]
  if not till then return false end
  if till == '' or tonumber(till) > tonumber(time) then
    serverMutesNow = serverMutesNow or
      serverMutes(redis.call('GET', K.sanctions))
    if serverHoldOf(m, serverMutesNow, time) then return true end
  end
  -- Its mutes ended, or were lifted by a change that set no holds (an
  -- earlier release's): the hold goes.
  redis.call('HDEL', K.serverMuted, id)
  serverHeld[id] = false
  return false
end
`;
