-- create.lua replaces a record that has no user, and its expiry tombstone,
-- in one script, so that runEnding can follow it with WAIT: the revocation
-- of a CookieStore's revocation list, a write that ends sessions
-- (Store.CreateEnding). Create writes the same with MULTI.
--
-- KEYS[1] session hash, KEYS[2] its tombstone; ARGV[1] the hash's expiry
-- (unix ms); ARGV[2..] its field, value pairs.
--
-- Returns 1.

redis.call('DEL', KEYS[1])
batch('HSET', KEYS[1], ARGV, 2, #ARGV)
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
tombOf(KEYS[1], KEYS[2])
return 1
