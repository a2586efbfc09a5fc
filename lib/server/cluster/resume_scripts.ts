/**
 * Short drops across the cluster, in Lua (`hold.ts` is the one-server
 * side): what Redis keeps, with each member's claim, of a member that may
 * be held: the SHA-256 of its resume token (`resume`, hex; never the token
 * itself) and whether it is held now (`away`: `/msg` from any server is
 * refused), and the one step in which another server takes its claim
 * over by that hash or by its account's login. A race between two
 * servers is decided there, once: the first takes it, the hash is used up.
 * The tokens' index (`tokens`: hash -> alias key) goes with the claim.
 *
 * @module
 */

/**
 * For the scripts' prelude (after the keys, `K`): `dropToken(m, key)`
 * forgets the token of member record `m` (claim `key`) in the index.
 */
export const RESUME_LUA = `
local function dropToken(m, key)
  if m.resume and redis.call('HGET', K.tokens, m.resume) == key then
    redis.call('HDEL', K.tokens, m.resume)
  end
end
`;

/**
 * ARGV[8] member id, [9] its server, [10] its new token's hash ('' for
 * the same, '-' for none: used up), [11] '1' held now, '0' not, [12] '1' when it has `rooms`.
 * Changes nothing unless that member still holds its claim on that
 * server. Returns 1 if changed.
 */
export const MARK = `
local id, server, hash = ARGV[8], ARGV[9], ARGV[10]
local key = redis.call('HGET', K.ids, id)
local raw = key and redis.call('HGET', K.members, key)
if not raw then return 0 end
local m = cjson.decode(raw)
if m.id ~= id or m.server ~= server then return 0 end
if hash ~= '' then
  dropToken(m, key)
  m.resume = nil
end
if hash ~= '' and hash ~= '-' then
  m.resume = hash
  redis.call('HSET', K.tokens, hash, key)
end
if ARGV[11] == '1' then m.away = true else m.away = nil end
if ARGV[12] == '1' then m.rooms = true else m.rooms = nil end
redis.call('HSET', K.members, key, cjson.encode(m))
return 1`;

/**
 * ARGV[8] a token's hash ('' for an account's login), [9] the account's
 * alias key and [10] its name (an account's login), [11] the server that
 * takes it over, [12] the start of a server's channel, [13] '1' when the
 * taker has `rooms`. The claim of the token's member (or of the account's
 * own alias, held by a member logged into it with a token: `resume`) on
 * another server, with `rooms` as the taker (as on one server), moves to
 * server ARGV[11], its token used up, and that server is told (`moved`)
 * in the same step. Returns {'ok', record JSON}, {'none', ''}, or
 * {'notlive', ''} when server ARGV[11] is not beating.
 */
export const TAKEOVER = `
local hash, server = ARGV[8], ARGV[11]
if not redis.call('ZSCORE', K.servers, server) then return {'notlive', ''} end
local key = ARGV[9]
if hash ~= '' then key = redis.call('HGET', K.tokens, hash) end
local raw = key and redis.call('HGET', K.members, key)
if not raw then return {'none', ''} end
local m = cjson.decode(raw)
if not m.resume or m.server == server then return {'none', ''} end
if hash ~= '' and m.resume ~= hash then return {'none', ''} end
if hash == '' and m.account ~= ARGV[10] then return {'none', ''} end
if (m.rooms and '1' or '0') ~= ARGV[13] then return {'none', ''} end
dropToken(m, key)
local old = m.server
m.resume = nil
m.away = nil
m.server = server
redis.call('HSET', K.members, key, cjson.encode(m))
redis.call('SREM', serverSet(old), key)
redis.call('SADD', serverSet(server), key)
redis.call('PUBLISH', ARGV[12] .. old,
  cjson.encode({kind = 'moved', id = m.id}))
return {'ok', cjson.encode(m)}`;
