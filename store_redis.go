package session

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/redisstore"
)

// RedisStore is a [Store] in Redis through go-redis v9, built with
// [NewRedisStore]. It accepts any redis.UniversalClient: a single node, a
// Sentinel failover client or a Redis Cluster client, unchanged; keys carry
// Cluster hash tags, so no command touches two slots.
//
// It implements every optional store interface: [UserIndex] (devices, log
// out everywhere, the per-user cap), [Rotator] (a renewal is one atomic Lua
// script, one round trip; on a Cluster, steps that still cannot resurrect
// an ended session), [Fleet] and [Refresher] (on a Cluster, Refresh reports
// errors.ErrUnsupported and the Manager loads, then rotates). A read-only
// request costs one round trip, a commit one script. Ping checks the
// connection (every master of a Cluster). Every key expires by itself:
// the store needs no sweeper. It implements [ExpiryNotifier] only with
// [WithExpiryNotifications] (without it, NotifyExpired does nothing); Close
// stops that option's subscription and never closes the client.
//
// The writes that end sessions can wait for replicas: see [WithDurability]
// (on by default for a Sentinel failover client). Errors are prefixed
// "session: redis store: " and wrap [ErrStore] for a failure of Redis, [ErrCorrupt]
// too for a record that does not decode, [ErrNotFound] (or a [Tombstone])
// for a missing session. The key layout is documented in the engine's
// package, internal/redisstore.
type RedisStore = redisstore.Store

// RedisOption configures a [RedisStore]; see [WithKeyPrefix],
// [WithMaxSessionLifetime], [WithCluster], [WithDurability] and
// [WithExpiryNotifications].
type RedisOption = redisstore.Option

// NewRedisStore returns a store that keeps sessions in Redis through client.
// The client stays the caller's: the store never closes it.
func NewRedisStore(client redis.UniversalClient, opts ...RedisOption) *RedisStore {
	return redisstore.New(client, opts...)
}

// WithKeyPrefix sets the prefix of every key the store writes (default
// "session:"). Braces in the prefix are stored as %7B and %7D, so that the
// prefix can never form a Cluster hash tag of its own.
func WithKeyPrefix(prefix string) RedisOption { return redisstore.WithKeyPrefix(prefix) }

// WithMaxSessionLifetime sets how long a user's revocation generation (and
// a family's pointer, and the [Manager.RevokeAll] cutoff) is kept (default
// 30 days). It must be at least the Manager's AbsoluteTimeout: a session
// created before a revocation that the index missed stays revoked only
// while the generation key exists. A few bytes per revoked user are kept for
// this long.
func WithMaxSessionLifetime(d time.Duration) RedisOption {
	return redisstore.WithMaxSessionLifetime(d)
}

// WithCluster says whether the client is a Redis Cluster (or another client
// that spreads keys over nodes by hash slot), instead of asking the server
// (CLUSTER INFO, once). A *redis.ClusterClient or *redis.Ring is known
// without asking.
func WithCluster(cluster bool) RedisOption { return redisstore.WithCluster(cluster) }

// WithDurability makes the writes that end sessions (logout, revocation,
// log out everywhere, the old ID of a renewal, and a revocation when the
// store keeps the revocation list of a [CookieStore]) wait until at least
// replicas replicas acknowledge them, for at most timeout (Redis WAIT, sent
// in the same round trip as the write). When fewer acknowledge in time, the
// call fails with an error wrapping [ErrStore]: the write reached the
// primary, but a failover could still undo it, and the user must not be
// told it is done. Zero replicas turns durability off.
//
// Default: off on a single node and on a Cluster; on a Sentinel failover
// client (redis.NewFailoverClient, or a UniversalClient with MasterName), one
// replica within one second, waived while the primary has no replica
// connected (a lone primary has nothing to wait for). On a Cluster, WAIT
// runs on the master that owns the session's slot. Cost: the replication
// delay, about a loopback round trip, on each ending write; see the README's
// "Redis in production". Keep timeout below the client's ReadTimeout
// (go-redis default 3 s): the WAIT reply is read under it.
func WithDurability(replicas int, timeout time.Duration) RedisOption {
	return redisstore.WithDurability(replicas, timeout)
}

// WithExpiryNotifications makes the store report the sessions Redis expires
// with nobody coming back for them ([ExpiryNotifier]), which the Manager
// emits as [EventExpiredIdle] or [EventExpiredAbsolute] with Reason
// "expired". The store subscribes to the keyevent "expired" notifications
// of the client's database (on a Cluster, on every master known when the
// Manager is created) once a Manager is built on it, and reads each
// expired session's tombstone. Redis keeps nothing else of an expired key:
// the events carry no user ID and no device (UserID, TargetIP and
// TargetUserAgent are empty), and a session that [Manager.RevokeUser]
// ended without reaching it is reported as expired.
//
// Redis sends the notifications only when its notify-keyspace-events
// setting holds "E" and "x" (or "A"). With configure, the store adds them
// with CONFIG SET, keeping the flags already set (on a Cluster, on each
// master; a replica promoted later needs them in its own configuration).
// Managed services that refuse CONFIG (ElastiCache, Memorystore, Azure
// Cache for Redis...) take the setting in their parameter group or
// console: pass false there. Until the subscription is set up (the store
// retries), [Manager.Ping] fails with the reason.
//
// Redis publishes to every subscriber: each application instance whose
// store has this option reports each expiry, so enable it on one instance
// (or count events by Event.Session). Delivery is fire and forget: an
// expiry while the subscription reconnects is not reported. Call the
// store's Close to stop the subscription.
func WithExpiryNotifications(configure bool) RedisOption {
	return redisstore.WithExpiryNotifications(configure)
}

// Compile-time checks: RedisStore implements every optional store interface
// and the durable path of the writes that end sessions.
var (
	_ Store         = (*RedisStore)(nil)
	_ UserIndex     = (*RedisStore)(nil)
	_ Rotator       = (*RedisStore)(nil)
	_ Fleet         = (*RedisStore)(nil)
	_ Refresher     = (*RedisStore)(nil)
	_ endingCreator = (*RedisStore)(nil)

	_ ExpiryNotifier = (*RedisStore)(nil)
)
