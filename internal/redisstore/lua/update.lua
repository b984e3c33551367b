-- update.lua merges one request's delta into a session hash: the whole
-- commit of a request in one round trip, atomic, and only while the hash
-- exists (and, with ARGV[1], its generation is current), so concurrent
-- requests changing distinct values all survive and an ended session is
-- never resurrected. Only the fields the delta carries are written.
--
-- KEYS[1] session hash, KEYS[2] its tombstone
-- ARGV[1] generation key prefix, or "" to skip the generation check
-- ARGV[2] "1" to delete every value first (Session.Clear)
-- ARGV[3] n, the number of fields to delete
-- ARGV[4] new expiry in unix ms, "m" to keep it but refresh the tombstone
-- (other metadata changed), or "" to keep both
-- ARGV[5 .. 4+n] fields to delete, then field, value pairs to set
--
-- Returns 1, or nil when the hash is missing or its generation is stale.

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
