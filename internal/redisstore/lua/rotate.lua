-- rotate.lua is Rotator.Rotate on a single server or Sentinel: the whole
-- renewal (check, revocation, cap, copy, index, tombstone) in one atomic
-- round trip. It derives the keys of indexed sessions and of the old
-- record's user from their names (single server only).
--
-- KEYS[1] old hash, KEYS[2] its tombstone (the new ones again when there is
-- no old record), KEYS[3] new hash, KEYS[4] its tombstone, KEYS[5] the
-- user's generation key, KEYS[6] the user's index, KEYS[7] the family
-- pointer (the new tombstone again when the family is the new key, which
-- needs no pointer), KEYS[8] the RevokeAll cutoff (a session created
-- before it is not counted by the cap).
--
-- ARGV[1] "1" if there is an old record; ARGV[2] generation key prefix;
-- ARGV[3] session key prefix (up to the brace); ARGV[4] now (unix ms);
-- ARGV[5] old key; ARGV[6] new key; ARGV[7] user; ARGV[8] "1" to revoke the
-- user first; ARGV[9] cap (0: none); ARGV[10] "1" to refuse past the cap;
-- ARGV[11] lifetime of the generation and index (ms); ARGV[12] "1" to drop
-- the old values; ARGV[13] persist override ("", "0", "1"); ARGV[14]
-- timeouts override ("" or "idle abs linger", ms); ARGV[15] n deletes;
-- ARGV[16] renewal time (unix ms); ARGV[17..32] the new metadata as 8
-- field, value pairs, the family ("fam") last; ARGV[33..40] default
-- settings as 4 pairs; ARGV[41..] n fields to delete, then field, value
-- pairs to set.
--
-- The family ("fam", or the new key when "") becomes the family's live
-- key: its pointer names the new key, unless EndFamily marked it ended,
-- which fails the renewal like an ended old record.
--
-- Returns {0, evicted key, ua, ip, seen, ...}, {1} when the old record is
-- not live and current or the family was ended, {2} when the cap refuses.

local now, user, pfx = tonumber(ARGV[4]), ARGV[7], ARGV[3]
local function field(list, name)
  for i = 1, #list, 2 do if list[i] == name then return list[i + 1] end end
end
local old, oldUser, oldGen, ended = nil, '', 0, false
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
local fam = ARGV[32]
if fam == '' then fam = ARGV[6] end
if fam ~= ARGV[6] then
  local p = redis.call('GET', KEYS[7])
  if p and string.sub(p, 1, 1) == '!' then alive, ended = false, true end
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
if ended or (not alive and ARGV[1] == '1') then return {1} end
local out = {0}
if user ~= '' and tonumber(ARGV[9]) > 0 then
  local live = {}
  local cut = tonumber(redis.call('GET', KEYS[8]) or '0') or 0
  for _, m in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
    if m ~= ARGV[5] then
      local f = redis.call('HMGET', pfx .. m .. '}', 'user', 'gen', 'seen', 'exp', 'ua', 'ip', 'created')
      if f[1] == user and tonumber(f[2]) >= curGen and tonumber(f[4]) > now and (tonumber(f[7] or '0') or 0) >= cut then
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
for i = 33, 40 do set[#set + 1] = ARGV[i] end
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
for i = 17, 32 do set[#set + 1] = ARGV[i] end
local gen = curGen
if old and oldUser == user and ARGV[8] ~= '1' then gen = oldGen end
set[#set + 1] = 'gen'
set[#set + 1] = ms(gen)
local h, nd = KEYS[3], tonumber(ARGV[15])
redis.call('DEL', h)
batch('HSET', h, set, 1, #set)
batch('HDEL', h, ARGV, 41, 40 + nd)
batch('HSET', h, ARGV, 41 + nd, #ARGV)
tombOf(h, KEYS[4])
redis.call('PEXPIREAT', h, field(set, 'exp'))
if fam ~= ARGV[6] then pointTo(KEYS[7], '=' .. ARGV[6], famUntil(h, now, tonumber(ARGV[11])), now) end
if user ~= '' then
  redis.call('ZADD', KEYS[6], ms(now + tonumber(ARGV[11])), ARGV[6])
  if old and oldUser == user then redis.call('ZREM', KEYS[6], ARGV[5]) end
  redis.call('PEXPIREAT', KEYS[6], ms(now + tonumber(ARGV[11])))
end
if old then endHash(KEYS[1], KEYS[2], 'r', tonumber(ARGV[16]), ARGV[6], fam) end
return out
