-- gen.lua returns, for a session hash that exists, the current generation
-- of its user ("" when anonymous or never revoked), followed by " " and the
-- RevokeAll cutoff when there is one; for a hash that does not exist, "t"
-- followed by its tombstone ("t" alone when there is none). Load pipelines
-- it after a plain HGETALL of the session, so the whole read is one round
-- trip; HGETALL stays outside Lua, where it is several times cheaper on the
-- server.
--
-- KEYS[1] session hash; ARGV[1] generation key prefix; ARGV[2] the RevokeAll
-- key. The tombstone key (KEYS[1] .. ':t'), the generation key (from the
-- hash's user field) and the RevokeAll key are not declared, which saves
-- the read path an allocation or two: single server and Sentinel only.

local u = redis.call('HGET', KEYS[1], 'user')
if not u then return 't' .. (redis.call('GET', KEYS[1] .. ':t') or '') end
local g = ''
if u ~= '' then g = redis.call('GET', ARGV[1] .. enc(u) .. '}') or '' end
local c = redis.call('GET', ARGV[2])
if c then return g .. ' ' .. c end
return g
