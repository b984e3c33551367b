-- pointfamily.lua is the last step of a renewal on a Cluster
-- (rotateSharded), run once the new record exists: in the pointer's slot,
-- it makes the new key the family's live key, unless EndFamily marked the
-- family ended meanwhile (see markfamily.lua), in which case the caller
-- deletes the new record and the renewal fails.
--
-- KEYS[1] the family pointer; ARGV[1] the new key; ARGV[2] now (unix ms);
-- ARGV[3] the pointer's minimum expiry (unix ms).
--
-- Returns 1, or 0 when the family was ended.

local p = redis.call('GET', KEYS[1])
if p and string.sub(p, 1, 1) == '!' then return 0 end
pointTo(KEYS[1], '=' .. ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[2]))
return 1
