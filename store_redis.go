package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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
//	session:{<key>}:t          STRING its tombstone (see below)
//	session:{<family>}:f       STRING the family's live key (see
//	                                  store_redis_family.go)
//	session:user:{<user>}      ZSET   the user's sessions: member <key>,
//	                                  score = login + WithMaxSessionLifetime
//	session:gen:{<user>}       STRING the user's revocation generation
//	session:all                STRING the RevokeAll cutoff (unix ms), if any
//
// <user> is the user ID percent-encoded: bytes other than A-Z a-z 0-9 and
// "-._@" become %XX, so a brace or an odd byte in a user ID can neither break
// the hash tag nor collide with another user.
//
// A session hash holds its values in fields "v:<name>" (the codec's bytes)
// and its metadata in plain fields: user, gen, created, seen, auth, exp (unix
// milliseconds, 0 for unset), idle, abs, linger (milliseconds), ua, ip,
// persist (0 or 1), fam (the family, "" for the session's own key).
//
// A tombstone holds no value, user or device: while the session lives,
// "e created seen idle abs exp", kept until exp + linger so that a late
// visitor is told the session expired; once it is renewed, deleted or
// revoked, "r", "d" or "v" and the time (for "r", then the new key and the
// family). It is what Load reports as a Tombstone.
//
// The braces are Redis Cluster hash tags: a session's hash is alone in its
// slot, a user's index and generation share theirs, and no command touches
// keys of two slots.
//
// # Expiry
//
// Every key has a TTL. A session hash expires at Meta.Expires (PEXPIREAT); a
// deadline already past deletes the hash instead of writing it. Its
// tombstone lives Meta.Linger longer. The index expires with its newest
// member; entries whose session is gone are pruned by UserSessions and by
// the next login.
// The generation key exists only once the user has been revoked, and lives
// for at least the longest a session could live (see
// WithMaxSessionLifetime).
//
// # Round trips
//
// Load is one round trip: HGETALL pipelined with a short Lua script that
// reads the user's generation (or, for a missing session, its tombstone).
// Update (a request's commit, the throttled touch included) and Delete are
// one. Rotate (Login, Renew, Reauthenticate, RevokeOthers) is one script:
// the check of the old record, the revocation, the cap, the copy and the
// index in one atomic step. RevokeUser and UserSessions take two or three,
// whatever the number of sessions. Family and EndFamily are one script
// each, whatever the number of renewals.
//
// # Redis Cluster
//
// On a Cluster (detected from the client type, or from the server with
// CLUSTER INFO for a client that wraps one, or set with WithCluster) no
// script touches keys of two slots, and a session, its user's index and
// generation live in different slots. Load is then HGETALL and, for a
// logged-in session, a GET of the generation: two round trips. Rotate is
// several steps that still cannot resurrect an ended session: the old
// record is read and replaced by its tombstone atomically in its slot, the
// new one is created with the old generation, and the renewal fails (the new
// record deleted) if the user's generation moved meanwhile. A renewal under
// Config.MaxSessionsPerUser holds a short lock in the user's slot (key
// session:lock:{<user>}, 5 s TTL), so one user's concurrent logins are
// counted one at a time.
type RedisStore struct {
	client    redis.UniversalClient
	prefix    string
	genPrefix string // prefix + "gen:{", the generation keys up to the user
	// genArgs are genScript's arguments (the generation prefix and the
	// RevokeAll key), boxed once: Load passes them without allocating.
	genArgs     []any
	maxLifetime time.Duration
	// cluster is set once it is known whether the client spreads keys over
	// nodes by hash slot (Cluster, Ring): scripts must then touch one slot
	// only. See sharded.
	clusterMu    sync.Mutex
	clusterKnown atomic.Bool
	cluster      bool
	// durable is the WAIT after writes that end sessions (see
	// WithDurability); durableSet: chosen by the option, not defaulted.
	durable    durability
	durableSet bool
	replicas   replicaCount
}

// RedisOption configures a RedisStore.
type RedisOption func(*RedisStore)

// defaultMaxSessionLifetime is the default of [WithMaxSessionLifetime].
const defaultMaxSessionLifetime = 30 * 24 * time.Hour

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

// WithCluster says whether the client is a Redis Cluster (or another client
// that spreads keys over nodes by hash slot), instead of asking the server.
func WithCluster(cluster bool) RedisOption {
	return func(s *RedisStore) {
		s.cluster = cluster
		s.clusterKnown.Store(true)
	}
}

// NewRedisStore returns a store that keeps sessions in Redis through client.
// The client stays the caller's: the store never closes it.
func NewRedisStore(client redis.UniversalClient, opts ...RedisOption) *RedisStore {
	s := &RedisStore{client: client, prefix: "session:", maxLifetime: defaultMaxSessionLifetime}
	for _, o := range opts {
		o(s)
	}
	s.genPrefix = s.prefix + "gen:{"
	s.genArgs = []any{s.genPrefix, s.allKey()}
	if !s.durableSet {
		s.durable = defaultDurability(client)
	}
	switch client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		s.cluster = true
		s.clusterKnown.Store(true)
	}
	return s
}

// now is the store's one clock: every time the store writes or compares
// (expiries, tombstones, revocation generations, index scores, the "now" its
// scripts receive) is read here, so that the clock can be swapped in one
// place. Redis applies PEXPIREAT deadlines with its own clock.
func (s *RedisStore) now() time.Time { return time.Now() }

// Load implements Store. A record whose generation is older than its user's
// is not found (an EndRevoked Tombstone); a missing one reports the
// tombstone the store kept, if any. One round trip: HGETALL pipelined with
// genScript. On a Cluster, two for a logged-in session (see loadSharded).
func (s *RedisStore) Load(ctx context.Context, key string) (*Record, error) {
	const op = "load"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis store: %s: %w", op, err)
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return nil, err
	}
	if sharded {
		return s.loadSharded(ctx, key)
	}
	keys := []string{s.sessionKey(key)}
	var all *redis.MapStringStringCmd
	var gen *redis.Cmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, keys[0])
		gen = genScript.EvalSha(ctx, p, keys, s.genArgs...)
		return nil
	})
	if err := pipelineErr(err, all, gen); err != nil {
		return nil, wrapErr(op, err)
	}
	fields, err := all.Result()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if len(fields) == 0 && gen.Err() == nil {
		g, _ := gen.Text()
		return nil, notFound(op, strings.TrimPrefix(g, "t"), s.now())
	}
	r, err := decodeFound(op, fields)
	if err != nil {
		if errors.Is(err, ErrNotFound) && redis.HasErrorPrefix(gen.Err(), "NOSCRIPT") {
			return nil, s.loadTomb(ctx, op, key)
		}
		return nil, err
	}
	if redis.HasErrorPrefix(gen.Err(), "NOSCRIPT") {
		// The server does not know the script yet (first use, restart,
		// failover): EVAL it once, which also caches it for EVALSHA.
		gen = genScript.Eval(ctx, s.client, keys, s.genArgs...)
	}
	g, err := gen.Text()
	if err != nil {
		return nil, wrapErr(op, err)
	}
	if tomb, ended := strings.CutPrefix(g, "t"); ended {
		// The hash went between HGETALL and the script (a pipeline is not
		// atomic): a renewal or a logout landed in between.
		return nil, notFound(op, tomb, s.now())
	}
	g, cutoff, _ := strings.Cut(g, " ")
	cur, ok := parseGen(g)
	if !ok {
		return nil, corrupt(op, "generation")
	}
	if r.Generation < cur {
		return nil, fmt.Errorf("redis store: %s: %w", op, &Tombstone{Reason: EndRevoked})
	}
	return r, revokedByAll(op, r, cutoff)
}

// loadTomb reads the tombstone of a missing session.
func (s *RedisStore) loadTomb(ctx context.Context, op, key string) error {
	v, err := s.client.Get(ctx, s.tombKey(key)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return wrapErr(op, err)
	}
	return notFound(op, v, s.now())
}

// Create implements Store. The hash and its tombstone are replaced
// atomically (MULTI) in one round trip. For a logged-in session (the
// Manager creates those with Rotate) the user's generation is read first, to
// stamp it, and the session is indexed after its hash exists: three round
// trips. A record whose family is not its key becomes the family's live
// record: on a single server the family's pointer is written in the same
// MULTI; on a Cluster, where it lives in another slot, just before the hash
// (a pointer naming a hash that failed to appear finds nothing). Create
// writes the pointer whatever it held, an ended family's mark included:
// the caller chose the family (the Manager starts families with Rotate,
// which refuses an ended one).
func (s *RedisStore) Create(ctx context.Context, key string, r *Record) error {
	const op = "create"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	now := s.now()
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
	famKey := ""
	if needsPointer(key, r.Family) {
		sharded, err := s.sharded(ctx)
		if err != nil {
			return err
		}
		famKey = s.familyKey(r.Family)
		if sharded {
			err := s.client.SetArgs(ctx, famKey, "="+key, redis.SetArgs{ExpireAt: s.familyUntil(now, &r.Meta)}).Err()
			if err != nil {
				return wrapErr(op, err)
			}
			famKey = ""
		}
	}
	if err := s.writeHash(ctx, key, r, gen, famKey, now); err != nil {
		return wrapErr(op, err)
	}
	if r.UserID != "" {
		// On failure the hash stays unindexed until its TTL; the Manager
		// fails the login, so no cookie ever names it.
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			ik, until := s.indexKey(r.UserID), now.Add(s.maxLifetime)
			p.ZAdd(ctx, ik, redis.Z{Score: float64(until.UnixMilli()), Member: key})
			p.PExpireAt(ctx, ik, until)
			return nil
		})
		if err != nil {
			return wrapErr(op, err)
		}
	}
	return nil
}

// writeHash replaces the hash of key by r with generation gen, and its
// tombstone, in one MULTI; with famKey (single server only: another slot),
// the family pointer too, written at now.
func (s *RedisStore) writeHash(ctx context.Context, key string, r *Record, gen uint64, famKey string, now time.Time) error {
	args := make([]any, 0, 2+metaFieldArgs+2*len(r.Values))
	args = append(args, fieldGen, gen)
	args = appendMeta(args, &r.Meta)
	for k, v := range r.Values {
		args = append(args, fieldValue+k, v)
	}
	hk, tk := s.sessionKey(key), s.tombKey(key)
	tomb := fmt.Sprintf("e %d %d %d %d %d", unixMs(r.CreatedAt), unixMs(r.LastSeen),
		r.IdleTimeout.Milliseconds(), r.AbsoluteTimeout.Milliseconds(), unixMs(r.Expires))
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, hk)
		p.HSet(ctx, hk, args...)
		p.PExpireAt(ctx, hk, r.Expires)
		p.Set(ctx, tk, tomb, 0)
		p.PExpireAt(ctx, tk, r.Expires.Add(r.Linger))
		if famKey != "" {
			p.Set(ctx, famKey, "="+key, 0)
			p.PExpireAt(ctx, famKey, s.familyUntil(now, &r.Meta))
		}
		return nil
	})
	return err
}

// Update implements Store in one round trip: updateScript applies the delta
// only if the hash exists (see redis_lua/update.lua) and writes only the
// fields the delta carries.
//
// On a single server the script also refuses a record whose generation is
// stale. On a Cluster the generation lives in the user's slot and the script
// cannot read it; Update there skips that check, which is safe: RevokeUser
// ends every indexed session, so Update finds nothing, and a session the
// index missed fails its next Load; a request already past its Load when the
// revocation happened finishes either way, like a read-only one would.
func (s *RedisStore) Update(ctx context.Context, key string, d *Delta) error {
	const op = "update"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return err
	}
	genPrefix := s.genPrefix
	if sharded {
		genPrefix = ""
	}
	clearAll := "0"
	if d.Clear {
		clearAll = "1"
	}
	var expires any = ""
	switch {
	case !d.Expires.IsZero():
		expires = d.Expires.UnixMilli()
	case !d.LastSeen.IsZero() || d.Persist != nil || d.Timeouts != nil:
		expires = "m" // metadata changed: refresh the tombstone, keep the TTL
	}
	args := make([]any, 0, 4+len(d.Delete)+2*len(d.Set)+10)
	args = append(args, genPrefix, clearAll, len(d.Delete), expires)
	for _, k := range d.Delete {
		args = append(args, fieldValue+k)
	}
	for k, v := range d.Set {
		args = append(args, fieldValue+k, v)
	}
	if !d.LastSeen.IsZero() {
		args = append(args, fieldSeen, unixMs(d.LastSeen))
	}
	if !d.Expires.IsZero() {
		args = append(args, fieldExpires, unixMs(d.Expires))
	}
	if d.Persist != nil {
		persist := 0
		if *d.Persist {
			persist = 1
		}
		args = append(args, fieldPersist, persist)
	}
	if t := d.Timeouts; t != nil {
		args = append(args, fieldIdle, t.Idle.Milliseconds(), fieldAbs, t.Absolute.Milliseconds(), fieldLinger, t.Linger.Milliseconds())
	}
	res := updateScript.Run(ctx, s.client, []string{s.sessionKey(key), s.tombKey(key)}, args...)
	if err := res.Err(); err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// Delete implements Store in one round trip: the hash is replaced by an
// EndDestroyed tombstone. The session's entry in its user's index is pruned
// later, by UserSessions or the user's next login.
func (s *RedisStore) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	err := s.runEnding(ctx, op, endScript, []string{s.sessionKey(key), s.tombKey(key)}, "d", s.now().UnixMilli(), "").Err()
	if err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// Compile-time checks.
var (
	_ Store     = (*RedisStore)(nil)
	_ UserIndex = (*RedisStore)(nil)
	_ Rotator   = (*RedisStore)(nil)
	_ Rotator   = (*MemoryStore)(nil)
	_ Fleet     = (*RedisStore)(nil)
	_ Fleet     = (*MemoryStore)(nil)
)
