-- The helpers every script but unlock.lua starts with; the loader
-- (scripts.go) prepends them to each.
--
-- enc(s)                 percent-encodes a user ID as encodeUserID does
--                        (bytes outside A-Z a-z 0-9 and "-._@" become %XX).
-- ms(n)                  formats a number of milliseconds without exponent.
-- tombOf(h, t)           writes the expiry tombstone of the live hash h to t.
-- endHash(h, t, kind, at[, next, fam]) deletes h and leaves tombstone "kind
--                        at" (or "kind at next fam": the key a renewal moved
--                        the session to and its family) in t.
-- famUntil(h, now, life) the expiry (ms) a family pointer of the live hash h
--                        needs: max(now + life, created + abs + linger).
-- pointTo(p, v, deadline, now) writes the family pointer p = v, kept until at
--                        least deadline (an existing longer TTL is kept).
-- member(f, key, fam, now) reports whether f, the HGETALL of the hash of
--                        key, is a live record (exp after now) of family
--                        fam (its "fam" field, or key when that is
--                        empty), and returns its fields by name.
-- batch(cmd, h, list, from, to) runs cmd on h with list[from..to], 1000
--                        at a time (unpack is bounded by Lua's stack).
--
-- A tombstone (key <session hash>:t) is a short string: "e created seen idle
-- abs exp" (milliseconds) while the session lives, kept until exp + linger so
-- that an expired session is reported as such; "r at next fam", "d at" or
-- "v at" once it was renewed, deleted or revoked at that time.
--
-- A family pointer (key <prefix>{<family>}:f) is "=<key>" while <key> is
-- the family's live record and "!<key>" once EndFamily ended the family
-- (<key> its last record): a renewal that finds "!" fails.

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
local function endHash(h, t, kind, at, next, fam)
  local l = tonumber(redis.call('HGET', h, 'linger') or '0') or 0
  redis.call('DEL', h)
  if l > 0 then
    local v = kind .. ' ' .. ms(at)
    if next then v = v .. ' ' .. next end
    if next and fam then v = v .. ' ' .. fam end
    redis.call('SET', t, v)
    redis.call('PEXPIREAT', t, ms(at + l))
  else
    redis.call('DEL', t)
  end
end
-- famUntil is how long a family pointer must live for the live hash h: as
-- long as any record of the family can (a touch slides the expiry up to
-- the absolute limit, which WithMaxSessionLifetime bounds for sessions
-- without their own), plus the linger of its tombstone.
local function famUntil(h, now, life)
  local f = redis.call('HMGET', h, 'created', 'abs', 'linger')
  local own = (tonumber(f[1] or '0') or 0) + (tonumber(f[2] or '0') or 0) + (tonumber(f[3] or '0') or 0)
  return math.max(now + life, own)
end
-- pointTo sets the family pointer p to v, never shortening its life: an
-- "ended" mark must outlive every record the family had.
local function pointTo(p, v, deadline, now)
  local pttl = redis.call('PTTL', p)
  redis.call('SET', p, v)
  if pttl > 0 and now + pttl > deadline then deadline = now + pttl end
  redis.call('PEXPIREAT', p, ms(deadline))
end
-- member is the family check of Rotator.Family and EndFamily: a record
-- belongs to the family it names, and one that names none to its own key.
local function member(f, key, fam, now)
  if #f == 0 then return false end
  local v = {}
  for i = 1, #f, 2 do v[f[i]] = f[i + 1] end
  if (tonumber(v.exp or '0') or 0) <= now then return false end
  local g = v.fam or ''
  if g == '' then g = key end
  return g == fam, v
end
local function batch(cmd, h, list, from, to)
  while from <= to do
    local last = math.min(from + 999, to)
    redis.call(cmd, h, unpack(list, from, last))
    from = last + 1
  end
end
