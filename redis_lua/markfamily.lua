-- markfamily.lua is the first step of EndFamily on a Cluster: in the
-- pointer's slot, it marks the family ended and returns the key the
-- pointer named (the family itself when there was no pointer), in one
-- atomic step. A renewal racing it (rotateSharded) repoints the family
-- only after creating its new record, in this same slot: either it did so
-- first, and the key returned is its new record, which EndFamily then
-- ends, or it finds the mark and deletes its new record. The mark keeps
-- the key, so a retried EndFamily (after a failed second step) ends the
-- same record.
--
-- KEYS[1] the family pointer; ARGV[1] the family; ARGV[2] now (unix ms);
-- ARGV[3] WithMaxSessionLifetime (ms).
--
-- Returns the key.

local now = tonumber(ARGV[2])
local p = redis.call('GET', KEYS[1])
local key = ARGV[1]
if p then key = string.sub(p, 2) end
pointTo(KEYS[1], '!' .. key, now + tonumber(ARGV[3]), now)
return key
