-- refresh.lua is Refresher.Refresh on a single server or Sentinel: the
-- renewal of a header session (Manager.Rotate) that takes the metadata from
-- the old record, in one atomic round trip. It derives the generation and
-- index keys of the old record's user, and the pointer of its family, from
-- their names (single server only).
--
-- KEYS[1] old hash, KEYS[2] its tombstone, KEYS[3] new hash, KEYS[4] its
-- tombstone.
--
-- ARGV[1] generation key prefix; ARGV[2] index key prefix (up to the brace);
-- ARGV[3] now (unix ms, for liveness); ARGV[4] old key; ARGV[5] new key;
-- ARGV[6] lifetime of the index (ms); ARGV[7] the renewal time (unix ms):
-- the new last-seen time and the tombstone's date; ARGV[8] the RevokeAll
-- key (a record created before its cutoff is revoked); ARGV[9] the family
-- pointer prefix (up to the brace).
--
-- The new record keeps the old one's family (the old key when it had none,
-- so the identity survives), the family's pointer names the new key, and
-- the old key's tombstone carries both. A family EndFamily marked ended is
-- not renewed.
--
-- Returns {0, field, value, ...} (the new hash), {1, tombstone} when the old
-- record is not live and current (its tombstone, "" if none), {2} when it
-- has no own idle and absolute limits (not a header session), {3} when a
-- field it reads is not a number (a corrupt record).

local now, at = tonumber(ARGV[3]), tonumber(ARGV[7])
local old = redis.call('HGETALL', KEYS[1])
local function field(name)
  for i = 1, #old, 2 do if old[i] == name then return old[i + 1] end end
end
for _, name in ipairs({'exp', 'gen', 'created', 'idle', 'abs'}) do
  local v = field(name)
  if v and not tonumber(v) then return {3} end
end
if #old == 0 or tonumber(field('exp') or '0') <= now then
  return {1, redis.call('GET', KEYS[2]) or ''}
end
local user = field('user') or ''
if user ~= '' then
  local cur = tonumber(redis.call('GET', ARGV[1] .. enc(user) .. '}') or '0')
  if cur > tonumber(field('gen') or '0') then return {1, 'v ' .. ms(now)} end
end
local cut = redis.call('GET', ARGV[8])
if cut and tonumber(field('created') or '0') < tonumber(cut) then return {1, 'v ' .. ms(now)} end
local fam = field('fam') or ''
if fam == '' then fam = ARGV[4] end
local ptr = ARGV[9] .. enc(fam) .. '}:f'
local p = redis.call('GET', ptr)
if p and string.sub(p, 1, 1) == '!' then return {1, redis.call('GET', KEYS[2]) or ''} end
local idle, abs = tonumber(field('idle') or '0'), tonumber(field('abs') or '0')
if idle <= 0 or abs <= 0 then return {2} end
local exp = math.min(at + idle, tonumber(field('created') or '0') + abs)
if exp <= now then return {1, redis.call('GET', KEYS[2]) or ''} end
local set = {}
for i = 1, #old, 2 do
  if old[i] ~= 'seen' and old[i] ~= 'exp' and old[i] ~= 'fam' then
    set[#set + 1] = old[i]
    set[#set + 1] = old[i + 1]
  end
end
set[#set + 1] = 'seen'
set[#set + 1] = ms(at)
set[#set + 1] = 'exp'
set[#set + 1] = ms(exp)
set[#set + 1] = 'fam'
set[#set + 1] = fam
redis.call('DEL', KEYS[3])
batch('HSET', KEYS[3], set, 1, #set)
tombOf(KEYS[3], KEYS[4])
redis.call('PEXPIREAT', KEYS[3], ms(exp))
pointTo(ptr, '=' .. ARGV[5], famUntil(KEYS[3], now, tonumber(ARGV[6])), now)
if user ~= '' then
  local idx = ARGV[2] .. enc(user) .. '}'
  redis.call('ZADD', idx, ms(now + tonumber(ARGV[6])), ARGV[5])
  redis.call('ZREM', idx, ARGV[4])
  redis.call('PEXPIREAT', idx, ms(now + tonumber(ARGV[6])))
end
endHash(KEYS[1], KEYS[2], 'r', at, ARGV[5], fam)
local out = {0}
for i = 1, #set do out[#out + 1] = set[i] end
return out
