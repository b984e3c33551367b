-- family.lua is Rotator.Family on a single server or Sentinel: it follows
-- the family's pointer (or takes the family as the key when there is none)
-- and reads that record, its user's generation and the RevokeAll cutoff,
-- in one round trip. It derives the session hash and generation keys from
-- their names (single server only). The caller checks what Load checks
-- (generation, cutoff) and the family, on the decoded record.
--
-- KEYS[1] the family pointer; ARGV[1] session key prefix (up to the
-- brace); ARGV[2] the family; ARGV[3] generation key prefix; ARGV[4] the
-- RevokeAll key.
--
-- Returns {key, generation, cutoff, field, value, ...} ("" for a missing
-- generation or cutoff), or nil when the family was ended or its record is
-- missing.

local p = redis.call('GET', KEYS[1])
local key = ARGV[2]
if p then
  if string.sub(p, 1, 1) ~= '=' then return false end
  key = string.sub(p, 2)
end
local f = redis.call('HGETALL', ARGV[1] .. key .. '}')
if #f == 0 then return false end
local out = {key, '', redis.call('GET', ARGV[4]) or ''}
for i = 1, #f, 2 do
  if f[i] == 'user' and f[i + 1] ~= '' then
    out[2] = redis.call('GET', ARGV[3] .. enc(f[i + 1]) .. '}') or ''
  end
end
for i = 1, #f do out[#out + 1] = f[i] end
return out
