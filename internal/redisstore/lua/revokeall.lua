-- revokeall.lua raises the RevokeAll cutoff to ARGV[1] (unix milliseconds),
-- kept until ARGV[2]; a lower cutoff changes nothing.
--
-- KEYS[1] the RevokeAll key.

local c = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) > c then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
