-- endfamily.lua is Rotator.EndFamily on a single server or Sentinel: it
-- follows the family's pointer (or takes the family as the key when there
-- is none), checks that the record there is live as Load would (not
-- expired, generation current, not before the RevokeAll cutoff) and of
-- the family, and ends it as Delete does (a "d" tombstone for its linger),
-- drops it from its user's index and marks the pointer ended, all in one
-- atomic step: a renewal (rotate.lua, refresh.lua) runs either wholly
-- before it, and its new record is the one ended, or after it, and finds
-- its old record gone. It derives the session, generation and index keys
-- from their names (single server only).
--
-- KEYS[1] the family pointer; ARGV[1] session key prefix (up to the
-- brace); ARGV[2] the family; ARGV[3] generation key prefix; ARGV[4] the
-- RevokeAll key; ARGV[5] index key prefix (up to the brace); ARGV[6] now
-- (unix ms); ARGV[7] WithMaxSessionLifetime (ms).
--
-- Returns {key, field, value, ...} (the ended record's metadata), or nil,
-- having written nothing, when the family has no live record.

local now = tonumber(ARGV[6])
local p = redis.call('GET', KEYS[1])
local key = ARGV[2]
if p then key = string.sub(p, 2) end -- "=key" or "!key": the last record
local h = ARGV[1] .. key .. '}'
local f = redis.call('HGETALL', h)
local ok, v = member(f, key, ARGV[2], now)
if not ok then return false end
local user = v.user or ''
if user ~= '' then
  local cur = tonumber(redis.call('GET', ARGV[3] .. enc(user) .. '}') or '0') or 0
  if cur > (tonumber(v.gen or '0') or 0) then return false end
end
local cut = tonumber(redis.call('GET', ARGV[4]) or '0') or 0
if (tonumber(v.created or '0') or 0) < cut then return false end
local deadline = famUntil(h, now, tonumber(ARGV[7]))
endHash(h, h .. ':t', 'd', now)
if user ~= '' then redis.call('ZREM', ARGV[5] .. enc(user) .. '}', key) end
pointTo(KEYS[1], '!' .. key, deadline, now)
local out = {key}
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 2) ~= 'v:' then
    out[#out + 1] = f[i]
    out[#out + 1] = f[i + 1]
  end
end
return out
