package session

import "github.com/redis/go-redis/v9"

// The Lua scripts of RedisStore. Each touches the keys of one slot only
// (a session's hash and its tombstone share a hash tag), except where a
// comment says it derives other keys: those run only on a single server or
// Sentinel, never on a Cluster.
//
// A tombstone (key <session hash>:t) is a short string: "e created seen idle
// abs exp" (milliseconds) while the session lives, kept until exp + linger so
// that an expired session is reported as such; "r at", "d at" or "v at"
// once it was renewed, deleted or revoked at that time.

// redisLuaLib holds the Lua helpers the scripts share.
const redisLuaLib = `
local function enc(s)
  return (string.gsub(s, '[^A-Za-z0-9_.@-]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end
local function ms(n) return string.format('%.0f', n) end
-- tombOf writes the expiry tombstone of the live hash h to t.
local function tombOf(h, t)
  local f = redis.call('HMGET', h, 'created', 'seen', 'idle', 'abs', 'exp', 'linger')
  if not f[5] then return end
  redis.call('SET', t, 'e ' .. f[1] .. ' ' .. f[2] .. ' ' .. f[3] .. ' ' .. f[4] .. ' ' .. f[5])
  redis.call('PEXPIREAT', t, ms(tonumber(f[5]) + tonumber(f[6] or '0')))
end
-- endHash deletes the hash h and leaves the tombstone kind at time at in t
-- for the hash's linger.
local function endHash(h, t, kind, at)
  local l = tonumber(redis.call('HGET', h, 'linger') or '0') or 0
  redis.call('DEL', h)
  if l > 0 then
    redis.call('SET', t, kind .. ' ' .. ms(at))
    redis.call('PEXPIREAT', t, ms(at + l))
  else
    redis.call('DEL', t)
  end
end
local function batch(cmd, h, list, from, to)
  while from <= to do
    local last = math.min(from + 999, to)
    redis.call(cmd, h, unpack(list, from, last))
    from = last + 1
  end
end
`

// genScript returns, for a session hash that exists, the current generation
// of its user ("" when anonymous or never revoked), and for one that does
// not, "t" followed by its tombstone ("t" alone when there is none). Load
// pipelines it after a plain HGETALL of the session, so the whole read is
// one round trip; HGETALL stays outside Lua, where it is several times
// cheaper on the server.
//
// KEYS[1] session hash, KEYS[2] its tombstone; ARGV[1] generation key
// prefix. The generation key is derived from the hash's user field (single
// server and Sentinel only).
var genScript = redis.NewScript(redisLuaLib + `
local u = redis.call('HGET', KEYS[1], 'user')
if not u then return 't' .. (redis.call('GET', KEYS[2]) or '') end
if u == '' then return '' end
return redis.call('GET', ARGV[1] .. enc(u) .. '}') or ''
`)

// updateScript merges one request's delta into a session hash: the whole
// commit of a request in one round trip, atomic, and only while the hash
// exists (and, with ARGV[1], its generation is current), so concurrent
// requests changing distinct values all survive and an ended session is
// never resurrected. Only the fields the delta carries are written.
//
// KEYS[1] session hash, KEYS[2] its tombstone
// ARGV[1] generation key prefix, or "" to skip the generation check
// ARGV[2] "1" to delete every value first (Session.Clear)
// ARGV[3] n, the number of fields to delete
// ARGV[4] new expiry in unix ms, "m" to keep it but refresh the tombstone
// (other metadata changed), or "" to keep both
// ARGV[5 .. 4+n] fields to delete, then field, value pairs to set
//
// Returns 1, or nil when the hash is missing or its generation is stale.
var updateScript = redis.NewScript(redisLuaLib + `
local h = KEYS[1]
if ARGV[1] == '' then
  if redis.call('EXISTS', h) == 0 then return false end
else
  local m = redis.call('HMGET', h, 'user', 'gen')
  if not m[2] then return false end -- no hash: every session hash has gen
  if m[1] and m[1] ~= '' then
    local cur = redis.call('GET', ARGV[1] .. enc(m[1]) .. '}')
    if cur and tonumber(cur) > tonumber(m[2]) then return false end
  end
end
if ARGV[2] == '1' then
  local fields, drop = redis.call('HKEYS', h), {}
  for i = 1, #fields do
    if string.sub(fields[i], 1, 2) == 'v:' then drop[#drop + 1] = fields[i] end
  end
  batch('HDEL', h, drop, 1, #drop)
end
local n = tonumber(ARGV[3])
batch('HDEL', h, ARGV, 5, 4 + n)
batch('HSET', h, ARGV, 5 + n, #ARGV)
if ARGV[4] ~= '' then tombOf(h, KEYS[2]) end
if ARGV[4] ~= '' and ARGV[4] ~= 'm' then
  redis.call('PEXPIREAT', h, ARGV[4]) -- a past deadline deletes the hash
end
return 1
`)

// endScript ends one session, leaving a tombstone: Delete ("d") and the
// deletions of RevokeUser ("v", only if the hash still belongs to ARGV[3]).
//
// KEYS[1] session hash, KEYS[2] its tombstone; ARGV[1] kind, ARGV[2] now
// (unix ms), ARGV[3] user or "".
var endScript = redis.NewScript(redisLuaLib + `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'user') ~= ARGV[3] then return 0 end
endHash(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
return 1
`)

// revokeScript bumps a user's generation to max(current+1, now in ms), so
// that a generation never goes back even if its key was lost, keeps the key
// for at least ARGV[2], deletes the index and returns the indexed session
// keys for the caller to end.
//
// KEYS[1] generation key, KEYS[2] user index (same slot).
// ARGV[1] now, unix ms; ARGV[2] minimum expiry of the generation, unix ms.
var revokeScript = redis.NewScript(redisLuaLib + `
local now, deadline = tonumber(ARGV[1]), tonumber(ARGV[2])
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 and now + pttl > deadline then deadline = now + pttl end
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if not cur then return redis.error_reply('corrupt generation') end
if cur >= now then redis.call('INCR', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PEXPIREAT', KEYS[1], ms(deadline))
local keys = redis.call('ZRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
return keys
`)

// rotateScript is Rotator.Rotate on a single server or Sentinel: the whole
// renewal (check, revocation, cap, copy, index, tombstone) in one atomic
// round trip. It derives the keys of indexed sessions and of the old
// record's user from their names (single server only).
//
// KEYS[1] old hash, KEYS[2] its tombstone (the new ones again when there is
// no old record), KEYS[3] new hash, KEYS[4] its tombstone, KEYS[5] the
// user's generation key, KEYS[6] the user's index.
//
// ARGV[1] "1" if there is an old record; ARGV[2] generation key prefix;
// ARGV[3] session key prefix (up to the brace); ARGV[4] now (unix ms);
// ARGV[5] old key; ARGV[6] new key; ARGV[7] user; ARGV[8] "1" to revoke the
// user first; ARGV[9] cap (0: none); ARGV[10] "1" to refuse past the cap;
// ARGV[11] lifetime of the generation and index (ms); ARGV[12] "1" to drop
// the old values; ARGV[13] persist override ("", "0", "1"); ARGV[14]
// timeouts override ("" or "idle abs linger", ms); ARGV[15] n deletes;
// ARGV[16] renewal time (unix ms); ARGV[17..30] the new metadata as 7
// field, value pairs; ARGV[31..38] default settings as 4 pairs; ARGV[39..]
// n fields to delete, then field, value pairs to set.
//
// Returns {0, evicted key, ua, ip, seen, ...}, {1} when the old record is
// not live and current, {2} when the cap refuses.
var rotateScript = redis.NewScript(redisLuaLib + `
local now, user, pfx = tonumber(ARGV[4]), ARGV[7], ARGV[3]
local function field(list, name)
  for i = 1, #list, 2 do if list[i] == name then return list[i + 1] end end
end
local old, oldUser, oldGen = nil, '', 0
if ARGV[1] == '1' then
  old = redis.call('HGETALL', KEYS[1])
  if #old == 0 then old = nil end
end
local alive = old ~= nil
if old then
  oldUser = field(old, 'user') or ''
  oldGen = tonumber(field(old, 'gen') or '0')
  if tonumber(field(old, 'exp') or '0') <= now then alive = false end
  if alive and oldUser ~= '' then
    local cur = tonumber(redis.call('GET', ARGV[2] .. enc(oldUser) .. '}') or '0')
    if cur > oldGen then alive = false end
  end
elseif ARGV[1] == '1' then
  alive = false
end
local curGen = 0
if user ~= '' then
  if ARGV[8] == '1' then
    local cur = tonumber(redis.call('GET', KEYS[5]) or '0')
    if cur >= now then redis.call('INCR', KEYS[5]) else redis.call('SET', KEYS[5], ARGV[4]) end
    local deadline = now + tonumber(ARGV[11])
    local pttl = redis.call('PTTL', KEYS[5])
    if pttl > 0 and now + pttl > deadline then deadline = now + pttl end
    redis.call('PEXPIREAT', KEYS[5], ms(deadline))
    for _, m in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
      local h = pfx .. m .. '}'
      if m ~= ARGV[5] and redis.call('HGET', h, 'user') == user then endHash(h, h .. ':t', 'v', now) end
    end
    redis.call('DEL', KEYS[6])
  end
  curGen = tonumber(redis.call('GET', KEYS[5]) or '0')
end
if not alive and ARGV[1] == '1' then return {1} end
local out = {0}
if user ~= '' and tonumber(ARGV[9]) > 0 then
  local live = {}
  for _, m in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
    if m ~= ARGV[5] then
      local f = redis.call('HMGET', pfx .. m .. '}', 'user', 'gen', 'seen', 'exp', 'ua', 'ip')
      if f[1] == user and tonumber(f[2]) >= curGen and tonumber(f[4]) > now then
        live[#live + 1] = {m, tonumber(f[3]), f[5], f[6], f[3]}
      else
        redis.call('ZREM', KEYS[6], m)
      end
    end
  end
  local n = #live - tonumber(ARGV[9]) + 1
  if n > 0 then
    if ARGV[10] == '1' then return {2} end
    table.sort(live, function(a, b) return a[2] < b[2] end)
    for i = 1, n do
      local h = pfx .. live[i][1] .. '}'
      endHash(h, h .. ':t', 'd', now)
      redis.call('ZREM', KEYS[6], live[i][1])
      for j = 1, 5 do if j ~= 2 then out[#out + 1] = live[i][j] or '' end end
    end
  end
end
local set = {}
for i = 31, 38 do set[#set + 1] = ARGV[i] end
if old then
  for i = 1, #old, 2 do
    local k = old[i]
    if (string.sub(k, 1, 2) == 'v:' and ARGV[12] ~= '1') or k == 'idle' or k == 'abs' or k == 'persist' or k == 'linger' then
      set[#set + 1] = k
      set[#set + 1] = old[i + 1]
    end
  end
end
if ARGV[13] ~= '' then
  set[#set + 1] = 'persist'
  set[#set + 1] = ARGV[13]
end
if ARGV[14] ~= '' then
  local i, a, l = string.match(ARGV[14], '^(%d+) (%d+) (%d+)$')
  for _, p in ipairs({'idle', i, 'abs', a, 'linger', l}) do set[#set + 1] = p end
end
for i = 17, 30 do set[#set + 1] = ARGV[i] end
local gen = curGen
if old and oldUser == user and ARGV[8] ~= '1' then gen = oldGen end
set[#set + 1] = 'gen'
set[#set + 1] = ms(gen)
local h, nd = KEYS[3], tonumber(ARGV[15])
redis.call('DEL', h)
batch('HSET', h, set, 1, #set)
batch('HDEL', h, ARGV, 39, 38 + nd)
batch('HSET', h, ARGV, 39 + nd, #ARGV)
tombOf(h, KEYS[4])
redis.call('PEXPIREAT', h, field(set, 'exp'))
if user ~= '' then
  redis.call('ZADD', KEYS[6], ms(now + tonumber(ARGV[11])), ARGV[6])
  if old and oldUser == user then redis.call('ZREM', KEYS[6], ARGV[5]) end
  redis.call('PEXPIREAT', KEYS[6], ms(now + tonumber(ARGV[11])))
end
if old then endHash(KEYS[1], KEYS[2], 'r', tonumber(ARGV[16])) end
return out
`)

// claimScript is the first step of a renewal on a Cluster: it reads the old
// record and replaces it by a renewal tombstone, atomically in its slot, or
// returns nil when it is missing or past ARGV[2].
//
// KEYS[1] old hash, KEYS[2] its tombstone; ARGV[1] renewal time, ARGV[2]
// now (unix ms).
var claimScript = redis.NewScript(redisLuaLib + `
local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return false end
local exp = redis.call('HGET', KEYS[1], 'exp')
if tonumber(exp or '0') <= tonumber(ARGV[2]) then return false end
endHash(KEYS[1], KEYS[2], 'r', tonumber(ARGV[1]))
return f
`)

// unlockScript releases a lock (KEYS[1]) if ARGV[1] still owns it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
