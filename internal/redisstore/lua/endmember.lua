-- endmember.lua is the second step of EndFamily on a Cluster: in the
-- record's slot, it ends the record as Delete does (a "d" tombstone for
-- its linger) if it is live, of the family, of the user the caller read
-- the generation of, not older than that generation and not before the
-- RevokeAll cutoff.
--
-- KEYS[1] session hash, KEYS[2] its tombstone; ARGV[1] the key; ARGV[2]
-- the family; ARGV[3] now (unix ms); ARGV[4] the RevokeAll cutoff (unix
-- ms, "" for none); ARGV[5] the user; ARGV[6] the user's generation.
--
-- Returns the ended hash's metadata fields and values, or nil, having
-- written nothing, when it is not such a record.

local now = tonumber(ARGV[3])
local f = redis.call('HGETALL', KEYS[1])
local ok, v = member(f, ARGV[1], ARGV[2], now)
if not ok or (v.user or '') ~= ARGV[5] then return false end
if (tonumber(v.gen or '0') or 0) < tonumber(ARGV[6]) then return false end
if ARGV[4] ~= '' and (tonumber(v.created or '0') or 0) < tonumber(ARGV[4]) then return false end
endHash(KEYS[1], KEYS[2], 'd', now)
local out = {}
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 2) ~= 'v:' then
    out[#out + 1] = f[i]
    out[#out + 1] = f[i + 1]
  end
end
return out
