-- unlock.lua releases a lock (KEYS[1]) if ARGV[1] still owns it. It runs
-- alone, without lib.lua.

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
