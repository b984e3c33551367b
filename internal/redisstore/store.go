package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/storekit"
)

// Store is a session store in Redis (see the package documentation for the
// key layout, expiry and round trips). Build it with New; it is safe for
// concurrent use, and the client stays the caller's.
type Store struct {
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
	// expiry is WithExpiryNotifications' subscription (expiry.go).
	expiry expiryWatch
}

// Option configures a Store.
type Option func(*Store)

// defaultMaxSessionLifetime is the default of [WithMaxSessionLifetime].
const defaultMaxSessionLifetime = 30 * 24 * time.Hour

// WithKeyPrefix sets the prefix of every key the store writes (default
// "session:"). Braces in the prefix are stored as %7B and %7D, so that the
// prefix can never form a Cluster hash tag of its own.
func WithKeyPrefix(prefix string) Option {
	return func(s *Store) {
		s.prefix = strings.NewReplacer("{", "%7B", "}", "%7D").Replace(prefix)
	}
}

// WithMaxSessionLifetime sets how long a user's revocation generation is kept
// after RevokeUser (default 30 days). It must be at least the Manager's
// AbsoluteTimeout: a session created before the revocation that the index
// missed stays revoked only while the generation key exists. A few bytes per
// revoked user are kept for this long.
func WithMaxSessionLifetime(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.maxLifetime = d
		}
	}
}

// WithCluster says whether the client is a Redis Cluster (or another client
// that spreads keys over nodes by hash slot), instead of asking the server.
func WithCluster(cluster bool) Option {
	return func(s *Store) {
		s.cluster = cluster
		s.clusterKnown.Store(true)
	}
}

// New returns a store that keeps sessions in Redis through client, any
// redis.UniversalClient (single node, Sentinel failover client, Cluster).
// The client stays the caller's: the store never closes it.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s := &Store{client: client, prefix: "session:", maxLifetime: defaultMaxSessionLifetime}
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
func (s *Store) now() time.Time { return time.Now() }

// Load implements session.Store. A record whose generation is older than its user's
// is not found (an EndRevoked Tombstone); a missing one reports the
// tombstone the store kept, if any. One round trip: HGETALL pipelined with
// genScript. On a Cluster, two for a logged-in session (see loadSharded).
func (s *Store) Load(ctx context.Context, key string) (*storekit.Record, error) {
	const op = "load"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, err)
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
		if errors.Is(err, storekit.ErrNotFound) && redis.HasErrorPrefix(gen.Err(), "NOSCRIPT") {
			return nil, s.loadTomb(ctx, op, key)
		}
		return nil, err
	}
	if redis.HasErrorPrefix(gen.Err(), "NOSCRIPT") {
		// The server does not know the script yet (first use, restart,
		// failover): EVAL it once, which also caches it for EVALSHA.
		gen = genScript.Eval(ctx, s.client, keys, s.genArgs...)
	}
	return s.checkCurrent(op, r, gen)
}

// checkCurrent is Load's last step: it checks the record r it found against
// genScript's reply gen (the user's generation and the RevokeAll cutoff, or
// the tombstone of a hash that went meanwhile).
func (s *Store) checkCurrent(op string, r *storekit.Record, gen *redis.Cmd) (*storekit.Record, error) {
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
		return nil, broken(op, "generation")
	}
	if r.Generation < cur {
		return nil, fmt.Errorf("session: redis store: %s: %w", op, &storekit.Tombstone{Reason: storekit.EndRevoked})
	}
	return r, revokedByAll(op, r, cutoff)
}

// loadTomb reads the tombstone of a missing session.
func (s *Store) loadTomb(ctx context.Context, op, key string) error {
	v, err := s.client.Get(ctx, s.tombKey(key)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return wrapErr(op, err)
	}
	return notFound(op, v, s.now())
}

// Create implements session.Store. The hash and its tombstone are replaced
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
func (s *Store) Create(ctx context.Context, key string, r *storekit.Record) error {
	const op = "create"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w", op, err)
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
func (s *Store) writeHash(ctx context.Context, key string, r *storekit.Record, gen uint64, famKey string, now time.Time) error {
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

// Update implements session.Store in one round trip: updateScript applies the delta
// only if the hash exists (see lua/update.lua) and writes only the
// fields the delta carries.
//
// On a single server the script also refuses a record whose generation is
// stale. On a Cluster the generation lives in the user's slot and the script
// cannot read it; Update there skips that check, which is safe: RevokeUser
// ends every indexed session, so Update finds nothing, and a session the
// index missed fails its next Load; a request already past its Load when the
// revocation happened finishes either way, like a read-only one would.
func (s *Store) Update(ctx context.Context, key string, d *storekit.Delta) error {
	const op = "update"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return err
	}
	genPrefix := s.genPrefix
	if sharded {
		genPrefix = ""
	}
	args := updateArgs(genPrefix, d)
	res := updateScript.Run(ctx, s.client, []string{s.sessionKey(key), s.tombKey(key)}, args...)
	if err := res.Err(); err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// updateArgs are updateScript's ARGV for d: genPrefix ("" on a Cluster),
// the clear flag, the number of deleted values, the expiry ("" unchanged,
// "m" for metadata only), then the deleted fields and the field, value
// pairs to set.
func updateArgs(genPrefix string, d *storekit.Delta) []any {
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
	return args
}

// Delete implements session.Store in one round trip: the hash is replaced by an
// EndDestroyed tombstone. The session's entry in its user's index is pruned
// later, by UserSessions or the user's next login.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	err := s.runEnding(ctx, op, endScript, []string{s.sessionKey(key), s.tombKey(key)}, "d", s.now().UnixMilli(), "").Err()
	if err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// Ping checks that the store can reach Redis: a PING, sent on a Cluster to
// every master (a *redis.ClusterClient; another sharded client pings the
// node it routes to), and, with WithExpiryNotifications, that its
// subscription is set up. A failure wraps storekit.ErrStore.
func (s *Store) Ping(ctx context.Context) error {
	const op = "ping"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Ping(ctx).Err()
		})
	} else {
		err = s.client.Ping(ctx).Err()
	}
	if err != nil {
		return wrapErr(op, err)
	}
	if err := s.expirySetupErr(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w: %w", op, storekit.ErrStore, err)
	}
	return nil
}
