-- claim.lua is the first step of a renewal on a Cluster: it reads the old
-- record and replaces it by a renewal tombstone, atomically in its slot, or
-- returns nil when it is missing or past ARGV[2].
--
-- KEYS[1] old hash, KEYS[2] its tombstone; ARGV[1] renewal time, ARGV[2]
-- now (unix ms), ARGV[3] the new key and ARGV[4] its family (both kept in
-- the tombstone).

local f = redis.call('HGETALL', KEYS[1])
if #f == 0 then return false end
local exp = redis.call('HGET', KEYS[1], 'exp')
if tonumber(exp or '0') <= tonumber(ARGV[2]) then return false end
endHash(KEYS[1], KEYS[2], 'r', tonumber(ARGV[1]), ARGV[3], ARGV[4])
return f
