-- gen.lua returns, for a session hash that exists, the current generation
-- of its user ("" when anonymous or never revoked), and for one that does
-- not, "t" followed by its tombstone ("t" alone when there is none). Load
-- pipelines it after a plain HGETALL of the session, so the whole read is
-- one round trip; HGETALL stays outside Lua, where it is several times
-- cheaper on the server.
--
-- KEYS[1] session hash; ARGV[1] generation key prefix. The tombstone key
-- (KEYS[1] .. ':t') and the generation key (from the hash's user field) are
-- derived, not declared, which saves the read path an allocation or two:
-- single server and Sentinel only.

local u = redis.call('HGET', KEYS[1], 'user')
if not u then return 't' .. (redis.call('GET', KEYS[1] .. ':t') or '') end
if u == '' then return '' end
return redis.call('GET', ARGV[1] .. enc(u) .. '}') or ''
