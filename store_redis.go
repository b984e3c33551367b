package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store and UserIndex backed by Redis through go-redis v9. It
// accepts any redis.UniversalClient: a single node, a Sentinel failover
// client or a Redis Cluster client, unchanged.
//
// # Key layout
//
// With the default prefix "session:" (readable with redis-cli):
//
//	session:{<key>}            HASH   one session; <key> is the SHA-256 of the
//	                                  token (base64url), never the token
//	session:user:{<user>}      ZSET   the user's sessions: member <key>,
//	                                  score = its expiry (unix ms)
//	session:gen:{<user>}       STRING the user's revocation generation
//
// <user> is the user ID percent-encoded: bytes other than A-Z a-z 0-9 and
// "-._@" become %XX, so a brace or an odd byte in a user ID can neither break
// the hash tag nor collide with another user.
//
// A session hash holds its values in fields "v:<name>" (the codec's bytes)
// and its metadata in plain fields: user, gen, created, seen, auth, exp (unix
// milliseconds, 0 for unset), idle, abs (milliseconds), ua, ip, persist (0 or
// 1).
//
// The braces are Redis Cluster hash tags: a session's hash is alone in its
// slot, a user's index and generation share theirs, and no command touches
// keys of two slots.
//
// # Expiry
//
// Every key has a TTL. A session hash expires at Meta.Expires (PEXPIREAT); a
// deadline already past deletes the hash instead of writing it. The index
// expires with its longest-lived member (the throttled touch extends it).
// The generation key exists only once the user has been revoked, and lives
// for at least the longest a session could live (see
// WithMaxSessionLifetime).
//
// # Round trips
//
// Load is one round trip: HGETALL pipelined with a short Lua script that
// reads the user's generation. On Redis Cluster the generation key may be on
// another node than the session, so there Load is HGETALL and, only for a
// logged-in session, a GET of the generation: two round trips. Update is one
// round trip on every deployment (the throttled touch of a logged-in session
// pipelines an index update with it); Delete is one. Create (a login or a
// first write) takes one round trip for an anonymous session and three for a
// logged-in one. RevokeUser and UserSessions take two or three, whatever the
// number of sessions.
type RedisStore struct {
	client      redis.UniversalClient
	prefix      string
	genPrefix   string // prefix + "gen:{", the generation keys up to the user
	maxLifetime time.Duration
	// sharded is true for clients that spread keys over nodes by hash slot
	// (Cluster, Ring): scripts must then touch one slot only.
	sharded bool
}

// RedisOption configures a RedisStore.
type RedisOption func(*RedisStore)

// DefaultMaxSessionLifetime is the default of WithMaxSessionLifetime.
const DefaultMaxSessionLifetime = 30 * 24 * time.Hour

// WithKeyPrefix sets the prefix of every key the store writes (default
// "session:"). Braces in the prefix are stored as %7B and %7D, so that the
// prefix can never form a Cluster hash tag of its own.
func WithKeyPrefix(prefix string) RedisOption {
	return func(s *RedisStore) {
		s.prefix = strings.NewReplacer("{", "%7B", "}", "%7D").Replace(prefix)
	}
}

// WithMaxSessionLifetime sets how long a user's revocation generation is kept
// after RevokeUser (default 30 days). It must be at least the Manager's
// AbsoluteTimeout: a session created before the revocation that the index
// missed stays revoked only while the generation key exists. A few bytes per
// revoked user are kept for this long.
func WithMaxSessionLifetime(d time.Duration) RedisOption {
	return func(s *RedisStore) {
		if d > 0 {
			s.maxLifetime = d
		}
	}
}

// NewRedisStore returns a store that keeps sessions in Redis through client.
// The client stays the caller's: the store never closes it.
func NewRedisStore(client redis.UniversalClient, opts ...RedisOption) *RedisStore {
	s := &RedisStore{client: client, prefix: "session:", maxLifetime: DefaultMaxSessionLifetime}
	for _, o := range opts {
		o(s)
	}
	s.genPrefix = s.prefix + "gen:{"
	switch client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		s.sharded = true
	}
	return s
}

// Hash fields of a session. Values are "v:<name>"; the rest is metadata.
const (
	fieldValue    = "v:"
	fieldUser     = "user"
	fieldGen      = "gen"
	fieldCreated  = "created"
	fieldSeen     = "seen"
	fieldAuth     = "auth"
	fieldUA       = "ua"
	fieldIP       = "ip"
	fieldIdle     = "idle"
	fieldAbs      = "abs"
	fieldPersist  = "persist"
	fieldExpires  = "exp"
	metaFieldArgs = 2 * 10 // field/value arguments of appendMeta
)

func (s *RedisStore) sessionKey(key string) string { return s.prefix + "{" + key + "}" }
func (s *RedisStore) genKey(userID string) string {
	return s.genPrefix + encodeUserID(userID) + "}"
}
func (s *RedisStore) indexKey(userID string) string {
	return s.prefix + "user:{" + encodeUserID(userID) + "}"
}

// encodeUserID percent-encodes every byte of a user ID outside A-Z a-z 0-9
// and "-._@". The Lua function enc in redisLuaEnc does the same.
func encodeUserID(u string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(u))
	for i := 0; i < len(u); i++ {
		c := u[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '@' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// redisLuaEnc is encodeUserID in Lua, for the scripts that find a user's
// generation key from the user field of a session.
const redisLuaEnc = `
local function enc(s)
  return (string.gsub(s, '[^A-Za-z0-9_.@-]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end
`

// genScript returns the current generation of the user a session belongs
// to: "" when the session is missing or anonymous, or its user was never
// revoked. Load pipelines it after a plain HGETALL of the session, so the
// whole read is one round trip; HGETALL stays outside Lua, where it is
// several times cheaper on the server (no reply conversion to and from a
// Lua table).
//
// KEYS[1] session hash; ARGV[1] generation key prefix.
//
// The generation key is not in KEYS: it is derived from the hash's user
// field. That is allowed on a single server (and Sentinel); on a Cluster it
// may live on another node, so the store never runs this script there.
var genScript = redis.NewScript(redisLuaEnc + `
local u = redis.call('HGET', KEYS[1], 'user')
if not u or u == '' then return '' end
return redis.call('GET', ARGV[1] .. enc(u) .. '}') or ''
`)

// updateScript merges one request's delta into a session hash. It is the
// whole commit of a request in one round trip, and atomic: concurrent
// requests changing distinct values all survive (each writes only its own
// fields), and it applies only while the hash exists, so a destroyed,
// expired or revoked session is never resurrected. A script rather than
// MULTI because the existence check must gate the writes; rather than WATCH
// because optimistic retries would cost round trips under contention.
//
// KEYS[1] session hash
// ARGV[1] generation key prefix, or "" to skip the generation check
// ARGV[2] "1" to delete every value first (Session.Clear)
// ARGV[3] n, the number of fields to delete
// ARGV[4] new expiry in unix ms; "" to keep the TTL; "-" to delete the hash
// ARGV[5 .. 4+n] fields to delete, then field, value pairs to set
//
// Returns 1, or nil when the hash is missing or its generation is stale.
var updateScript = redis.NewScript(redisLuaEnc + `
local h = KEYS[1]
if ARGV[1] == '' then
  if redis.call('EXISTS', h) == 0 then return false end
else
  local m = redis.call('HMGET', h, 'user', 'gen')
  if not m[2] then return false end -- no hash: every session hash has gen
  if m[1] and m[1] ~= '' then
    local cur = redis.call('GET', ARGV[1] .. enc(m[1]) .. '}')
    if cur and tonumber(cur) > tonumber(m[2]) then return false end
  end
end
if ARGV[4] == '-' then
  redis.call('DEL', h)
  return 1
end
local function batch(cmd, list, from, to)
  while from <= to do
    local last = math.min(from + 999, to)
    redis.call(cmd, h, unpack(list, from, last))
    from = last + 1
  end
end
if ARGV[2] == '1' then
  local fields, drop = redis.call('HKEYS', h), {}
  for i = 1, #fields do
    if string.sub(fields[i], 1, 2) == 'v:' then drop[#drop + 1] = fields[i] end
  end
  batch('HDEL', drop, 1, #drop)
end
local n = tonumber(ARGV[3])
batch('HDEL', ARGV, 5, 4 + n)
batch('HSET', ARGV, 5 + n, #ARGV)
if ARGV[4] ~= '' then redis.call('PEXPIREAT', h, ARGV[4]) end
return 1
`)

// indexScript adds a session to its user's index (ARGV[3] is the current time,
// and entries that expired by then are dropped) or, with ARGV[3] "", moves an
// indexed session's expiry later (the throttled touch). Either way the index
// then expires with its longest-lived member.
//
// KEYS[1] user index; ARGV[1] session key; ARGV[2] expiry, unix ms.
var indexScript = redis.NewScript(`
local k = KEYS[1]
if ARGV[3] == '' then
  local s = redis.call('ZSCORE', k, ARGV[1])
  if not s or tonumber(ARGV[2]) <= tonumber(s) then return 0 end
  redis.call('ZADD', k, ARGV[2], ARGV[1])
else
  redis.call('ZADD', k, ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[3])
end
local top = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
if #top == 0 then return 0 end
redis.call('PEXPIREAT', k, string.format('%.0f', tonumber(top[2])))
return 1
`)

// revokeScript bumps a user's generation to max(current+1, now in ms), so
// that a generation never goes back even if its key was lost, keeps the key
// for at least ARGV[2] and past every indexed session, deletes the index and
// returns the indexed session keys for the caller to delete.
//
// KEYS[1] generation key, KEYS[2] user index (same slot).
// ARGV[1] now, unix ms; ARGV[2] minimum expiry of the generation, unix ms.
var revokeScript = redis.NewScript(`
local now, deadline = tonumber(ARGV[1]), tonumber(ARGV[2])
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 and now + pttl > deadline then deadline = now + pttl end
local raw = redis.call('GET', KEYS[1])
local cur = tonumber(raw or '0')
if not cur then return redis.error_reply('corrupt generation') end
if cur >= now then redis.call('INCR', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
local members, keys = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'), {}
for i = 1, #members, 2 do
  keys[#keys + 1] = members[i]
  local score = tonumber(members[i + 1])
  if score > deadline then deadline = score end
end
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', deadline))
redis.call('DEL', KEYS[2])
return keys
`)

// wrapErr wraps a Redis failure with ErrStore; a missing key is ErrNotFound.
func wrapErr(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis store: %s: %w", op, ErrNotFound)
	}
	return fmt.Errorf("redis store: %s: %w: %w", op, ErrStore, err)
}

// pipelineErr returns the error of a pipeline that failed as a whole (no
// connection, I/O) unless it is also one of the commands' own errors, which
// the caller inspects. go-redis stamps such failures on the commands too, but
// only the returned error is its contract; checking it means an outage can
// never read as an empty reply, that is as "not found", which would log the
// user out.
func pipelineErr(err error, cmds ...redis.Cmder) error {
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if c.Err() == err {
			return nil
		}
	}
	return err
}

// corrupt reports a record or key that the store cannot decode.
func corrupt(op, what string) error {
	return fmt.Errorf("redis store: %s: %w: corrupt %s", op, ErrStore, what)
}

// unixMs encodes a time as unix milliseconds, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// appendMeta appends the metadata fields of m (all but gen) as field, value
// arguments.
func appendMeta(args []any, m *Meta) []any {
	persist := 0
	if m.Persist {
		persist = 1
	}
	return append(args,
		fieldUser, m.UserID,
		fieldCreated, unixMs(m.CreatedAt),
		fieldSeen, unixMs(m.LastSeen),
		fieldAuth, unixMs(m.AuthenticatedAt),
		fieldExpires, unixMs(m.Expires),
		fieldIdle, m.IdleTimeout.Milliseconds(),
		fieldAbs, m.AbsoluteTimeout.Milliseconds(),
		fieldUA, m.UserAgent,
		fieldIP, m.IP,
		fieldPersist, persist,
	)
}

// decodeField sets the part of r that hash field k holds. Unknown fields are
// ignored, so that a later version may add some.
func decodeField(r *Record, k, v string) bool {
	if name, ok := strings.CutPrefix(k, fieldValue); ok {
		r.Values[name] = []byte(v)
		return true
	}
	ok := true
	switch k {
	case fieldUser:
		r.UserID = v
	case fieldUA:
		r.UserAgent = v
	case fieldIP:
		r.IP = v
	case fieldGen:
		var err error
		r.Generation, err = strconv.ParseUint(v, 10, 64)
		ok = err == nil
	case fieldCreated:
		r.CreatedAt, ok = parseUnixMs(v)
	case fieldSeen:
		r.LastSeen, ok = parseUnixMs(v)
	case fieldAuth:
		r.AuthenticatedAt, ok = parseUnixMs(v)
	case fieldExpires:
		r.Expires, ok = parseUnixMs(v)
	case fieldIdle:
		r.IdleTimeout, ok = parseMs(v)
	case fieldAbs:
		r.AbsoluteTimeout, ok = parseMs(v)
	case fieldPersist:
		r.Persist, ok = v == "1", v == "0" || v == "1"
	}
	return ok
}

func parseUnixMs(v string) (time.Time, bool) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if ms == 0 {
		return time.Time{}, true
	}
	return time.UnixMilli(ms), true
}

func parseMs(v string) (time.Duration, bool) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// decodeHash builds a record from the fields of a session hash.
// decodeFound decodes a session hash read by HGETALL; an empty reply means
// the session does not exist.
func decodeFound(op string, fields map[string]string) (*Record, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("redis store: %s: %w", op, ErrNotFound)
	}
	return decodeHash(op, fields)
}

func decodeHash(op string, fields map[string]string) (*Record, error) {
	r := &Record{Values: make(map[string][]byte, len(fields))}
	for k, v := range fields {
		if !decodeField(r, k, v) {
			return nil, corrupt(op, "field "+strconv.Quote(k))
		}
	}
	if r.Expires.IsZero() {
		return nil, corrupt(op, "record: no expiry")
	}
	return r, nil
}

// parseGen parses a generation key's value ("" or missing: 0).
func parseGen(v string) (uint64, bool) {
	if v == "" {
		return 0, true
	}
	g, err := strconv.ParseUint(v, 10, 64)
	return g, err == nil
}

// Load implements Store. A record whose generation is older than its user's
// is not found. One round trip: HGETALL pipelined with genScript. On a
// Cluster, two for a logged-in session (see loadSharded).
func (s *RedisStore) Load(ctx context.Context, key string) (*Record, error) {
	const op = "load"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	if s.sharded {
		return s.loadSharded(ctx, key)
	}
	keys := []string{s.sessionKey(key)}
	var all *redis.MapStringStringCmd
	var gen *redis.Cmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, keys[0])
		gen = genScript.EvalSha(ctx, p, keys, s.genPrefix)
		return nil
	})
	if err := pipelineErr(err, all, gen); err != nil {
		return nil, wrapErr(op, err)
	}
	fields, err := all.Result()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	r, err := decodeFound(op, fields)
	if err != nil || r.UserID == "" {
		return r, err
	}
	if redis.HasErrorPrefix(gen.Err(), "NOSCRIPT") {
		// The server does not know the script yet (first use, restart,
		// failover): EVAL it once, which also caches it for EVALSHA.
		gen = genScript.Eval(ctx, s.client, keys, s.genPrefix)
	}
	g, err := gen.Text()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	cur, ok := parseGen(g)
	if !ok {
		return nil, corrupt(op, "generation")
	}
	if r.Generation < cur {
		return nil, fmt.Errorf("redis store: %s: revoked: %w", op, ErrNotFound)
	}
	return r, nil
}

// loadSharded is Load on a Cluster: the user's generation key lives in the
// user's slot, maybe on another node than the session, so it is read in a
// second step, and only for a logged-in session.
func (s *RedisStore) loadSharded(ctx context.Context, key string) (*Record, error) {
	const op = "load"
	fields, err := s.client.HGetAll(ctx, s.sessionKey(key)).Result()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	r, err := decodeFound(op, fields)
	if err != nil || r.UserID == "" {
		return r, err
	}
	cur, err := s.generation(ctx, op, r.UserID)
	if err != nil {
		return nil, err
	}
	if r.Generation < cur {
		return nil, fmt.Errorf("redis store: %s: revoked: %w", op, ErrNotFound)
	}
	return r, nil
}

// generation reads the user's current generation (0 when never revoked).
func (s *RedisStore) generation(ctx context.Context, op, userID string) (uint64, error) {
	v, err := s.client.Get(ctx, s.genKey(userID)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, wrapErr(op, err)
	}
	g, ok := parseGen(v)
	if !ok {
		return 0, corrupt(op, "generation")
	}
	return g, nil
}

// Create implements Store. The hash is replaced atomically (MULTI: DEL,
// HSET, PEXPIREAT) in one round trip. For a logged-in session the user's
// generation is read first, to stamp it, and the session is indexed after
// its hash exists, so an index entry never points at a hash still to come:
// three round trips, at login only.
func (s *RedisStore) Create(ctx context.Context, key string, r *Record) error {
	const op = "create"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	now := time.Now()
	if !now.Before(r.Expires) {
		if err := s.client.Del(ctx, s.sessionKey(key)).Err(); err != nil {
			return wrapErr(op, err)
		}
		return nil // a past deadline deletes, never stores
	}
	var gen uint64
	if r.UserID != "" {
		var err error
		if gen, err = s.generation(ctx, op, r.UserID); err != nil {
			return err
		}
	}
	args := make([]any, 0, 2+metaFieldArgs+2*len(r.Values))
	args = append(args, fieldGen, gen)
	args = appendMeta(args, &r.Meta)
	for k, v := range r.Values {
		args = append(args, fieldValue+k, v)
	}
	hk := s.sessionKey(key)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, hk)
		p.HSet(ctx, hk, args...)
		p.PExpireAt(ctx, hk, r.Expires)
		return nil
	})
	if err != nil {
		return wrapErr(op, err)
	}
	if r.UserID != "" {
		// On failure the hash stays unindexed until its TTL; the Manager
		// fails the login, so no cookie ever names it.
		err := indexScript.Run(ctx, s.client, []string{s.indexKey(r.UserID)}, key, r.Expires.UnixMilli(), now.UnixMilli()).Err()
		if err != nil {
			return wrapErr(op, err)
		}
	}
	return nil
}

// Update implements Store in one round trip: updateScript applies the delta
// only if the hash exists (see its comment). When the metadata of a
// logged-in session changes (the throttled touch), the new expiry is also
// written to the user's index, pipelined with the script (the index is in
// another slot, maybe on another node; go-redis sends both at once).
//
// On a single server the script also refuses a record whose generation is
// stale. On a Cluster the generation lives in the user's slot and the script
// cannot read it; Update there skips that check, which is safe: RevokeUser
// deletes every indexed session, so Update finds nothing, and a session the
// index missed fails its next Load; a request already past its Load when the
// revocation happened finishes either way, like a read-only one would.
func (s *RedisStore) Update(ctx context.Context, key string, d *Delta) error {
	const op = "update"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	genPrefix := s.genPrefix
	if s.sharded {
		genPrefix = ""
	}
	clearAll := "0"
	if d.Clear {
		clearAll = "1"
	}
	var expires any = ""
	var touchIndex bool
	if d.Meta != nil {
		if time.Now().Before(d.Meta.Expires) {
			expires = d.Meta.Expires.UnixMilli()
			touchIndex = d.Meta.UserID != ""
		} else {
			expires = "-"
		}
	}
	args := make([]any, 0, 4+len(d.Delete)+2*len(d.Set)+metaFieldArgs)
	args = append(args, genPrefix, clearAll, len(d.Delete), expires)
	for _, k := range d.Delete {
		args = append(args, fieldValue+k)
	}
	for k, v := range d.Set {
		args = append(args, fieldValue+k, v)
	}
	if d.Meta != nil {
		args = appendMeta(args, d.Meta)
	}
	keys := []string{s.sessionKey(key)}

	var res, idx *redis.Cmd
	if touchIndex {
		// EVAL, not EVALSHA, inside a pipeline: a NOSCRIPT there could not
		// be retried without another round trip. The touch is throttled.
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			res = updateScript.Eval(ctx, p, keys, args...)
			idx = indexScript.Eval(ctx, p, []string{s.indexKey(d.Meta.UserID)}, key, expires, "")
			return nil
		})
		if err := pipelineErr(err, res, idx); err != nil {
			return wrapErr(op, err)
		}
	} else {
		res = updateScript.Run(ctx, s.client, keys, args...)
	}
	if err := res.Err(); err != nil {
		return wrapErr(op, err)
	}
	if idx != nil && idx.Err() != nil {
		return wrapErr(op, idx.Err())
	}
	return nil
}

// Delete implements Store in one round trip. The session's entry in its
// user's index is pruned later, by UserSessions or the user's next login.
func (s *RedisStore) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	if err := s.client.Del(ctx, s.sessionKey(key)).Err(); err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// UserSessions implements UserIndex: it reads the index and the generation
// (one round trip), every indexed session (one pipelined round trip, spread
// over the nodes that hold them), and prunes entries whose session is gone,
// belongs to someone else or is revoked (one more, only when needed).
func (s *RedisStore) UserSessions(ctx context.Context, userID string) ([]IndexedRecord, error) {
	const op = "user sessions"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	ik := s.indexKey(userID)
	var members *redis.StringSliceCmd
	var genCmd *redis.StringCmd
	var prune *redis.IntCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		prune = p.ZRemRangeByScore(ctx, ik, "-inf", strconv.FormatInt(time.Now().UnixMilli(), 10))
		members = p.ZRange(ctx, ik, 0, -1)
		genCmd = p.Get(ctx, s.genKey(userID))
		return nil
	})
	if err := pipelineErr(err, prune, members, genCmd); err != nil {
		return nil, wrapErr(op, err)
	}
	for _, c := range []redis.Cmder{prune, members, genCmd} {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrapErr(op, err)
		}
	}
	keys := members.Val()
	if len(keys) == 0 {
		return nil, nil
	}
	cur, ok := parseGen(genCmd.Val())
	if !ok {
		return nil, corrupt(op, "generation")
	}

	hashes := make([]*redis.MapStringStringCmd, len(keys))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			hashes[i] = p.HGetAll(ctx, s.sessionKey(k))
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr(op, err)
	}
	out := make([]IndexedRecord, 0, len(keys))
	var dead []any
	for i, k := range keys {
		fields := hashes[i].Val()
		if len(fields) == 0 {
			dead = append(dead, k)
			continue
		}
		r, err := decodeHash(op, fields)
		if err != nil {
			return nil, err
		}
		if r.UserID != userID || r.Generation < cur {
			dead = append(dead, k)
			continue
		}
		out = append(out, IndexedRecord{Key: k, Meta: r.Meta})
	}
	if len(dead) > 0 {
		if err := s.client.ZRem(ctx, ik, dead...).Err(); err != nil {
			return nil, wrapErr(op, err)
		}
	}
	return out, nil
}

// RevokeUser implements UserIndex: one script bumps the user's generation
// (every earlier session of the user stops loading at once, indexed or not)
// and empties the index; one pipelined round trip then deletes the indexed
// sessions.
func (s *RedisStore) RevokeUser(ctx context.Context, userID string) error {
	const op = "revoke user"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	now := time.Now()
	keys, err := revokeScript.Run(ctx, s.client, []string{s.genKey(userID), s.indexKey(userID)},
		now.UnixMilli(), now.Add(s.maxLifetime).UnixMilli()).StringSlice()
	if err != nil {
		return wrapErr(op, err)
	}
	if len(keys) == 0 {
		return nil
	}
	// One DEL per key: the sessions are in different slots.
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, s.sessionKey(k))
		}
		return nil
	})
	if err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// Compile-time checks.
var (
	_ Store     = (*RedisStore)(nil)
	_ UserIndex = (*RedisStore)(nil)
)
