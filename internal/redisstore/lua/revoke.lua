-- revoke.lua bumps a user's generation to max(current+1, now in ms), so
-- that a generation never goes back even if its key was lost, keeps the key
-- for at least ARGV[2], deletes the index and returns the indexed session
-- keys for the caller to end.
--
-- KEYS[1] generation key, KEYS[2] user index (same slot).
-- ARGV[1] now, unix ms; ARGV[2] minimum expiry of the generation, unix ms.

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
