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
-- A family the store never saw gets no mark, so that ending made-up
-- families (a forged refresh token) cannot grow the store: without a
-- pointer, the family is marked only if its own key has a record or a
-- tombstone, which share the pointer's slot when the family is spelled as
-- the Manager spells it (base64url: KEYS[2] and KEYS[3] are then given). A
-- family without a pointer has only ever been renewed away from its own
-- key, which keeps that key's tombstone for the record's linger.
--
-- KEYS[1] the family pointer; KEYS[2] and KEYS[3], when given, the hash
-- and tombstone of the family's own key; ARGV[1] the family; ARGV[2] now
-- (unix ms); ARGV[3] WithMaxSessionLifetime (ms).
--
-- Returns the key, or nil, having written nothing, for a family the store
-- does not know.

local now = tonumber(ARGV[2])
local p = redis.call('GET', KEYS[1])
local key = ARGV[1]
if p then
  key = string.sub(p, 2)
elseif #KEYS < 3 or redis.call('EXISTS', KEYS[2], KEYS[3]) == 0 then
  return false
end
pointTo(KEYS[1], '!' .. key, now + tonumber(ARGV[3]), now)
return key
