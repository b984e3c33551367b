-- end.lua ends one session, leaving a tombstone: Delete ("d") and the
-- deletions of RevokeUser ("v", only if the hash still belongs to ARGV[3]).
--
-- KEYS[1] session hash, KEYS[2] its tombstone; ARGV[1] kind, ARGV[2] now
-- (unix ms), ARGV[3] user or "".
--
-- Returns 1, or 0 when the hash is missing or belongs to another user.

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'user') ~= ARGV[3] then return 0 end
endHash(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))
return 1
