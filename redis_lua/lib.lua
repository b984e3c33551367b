-- The helpers every script but unlock.lua starts with; the loader
-- (store_redis_scripts.go) prepends them to each.
--
-- enc(s)                 percent-encodes a user ID as encodeUserID does
--                        (bytes outside A-Z a-z 0-9 and "-._@" become %XX).
-- ms(n)                  formats a number of milliseconds without exponent.
-- tombOf(h, t)           writes the expiry tombstone of the live hash h to t.
-- endHash(h, t, kind, at[, next]) deletes h and leaves tombstone "kind at"
-- (or "kind at next", the key a renewal moved the session to) in t.
-- batch(cmd, h, list, from, to) runs cmd on h with list[from..to], 1000
--                        at a time (unpack is bounded by Lua's stack).
--
-- A tombstone (key <session hash>:t) is a short string: "e created seen idle
-- abs exp" (milliseconds) while the session lives, kept until exp + linger so
-- that an expired session is reported as such; "r at", "d at" or "v at"
-- once it was renewed, deleted or revoked at that time.

local function enc(s)
  return (string.gsub(s, '[^A-Za-z0-9_.@-]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end
local function ms(n) return string.format('%.0f', n) end
-- tombOf writes the expiry tombstone of the live hash h to t.
local function tombOf(h, t)
  local f = redis.call('HMGET', h, 'created', 'seen', 'idle', 'abs', 'exp', 'linger')
  if not f[5] then return end
  redis.call('SET', t, 'e ' .. f[1] .. ' ' .. f[2] .. ' ' .. f[3] .. ' ' .. f[4] .. ' ' .. f[5])
  redis.call('PEXPIREAT', t, ms(tonumber(f[5]) + tonumber(f[6] or '0')))
end
-- endHash deletes the hash h and leaves the tombstone kind at time at in t
-- for the hash's linger.
local function endHash(h, t, kind, at, next)
  local l = tonumber(redis.call('HGET', h, 'linger') or '0') or 0
  redis.call('DEL', h)
  if l > 0 then
    local v = kind .. ' ' .. ms(at)
    if next then v = v .. ' ' .. next end
    redis.call('SET', t, v)
    redis.call('PEXPIREAT', t, ms(at + l))
  else
    redis.call('DEL', t)
  end
end
local function batch(cmd, h, list, from, to)
  while from <= to do
    local last = math.min(from + 999, to)
    redis.call(cmd, h, unpack(list, from, last))
    from = last + 1
  end
end
