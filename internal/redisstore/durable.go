package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/storekit"
)

// Durability of the writes that end sessions.
//
// Redis replicates asynchronously: a primary acknowledges a write before any
// replica has it, so a failover that promotes a replica can undo an
// acknowledged logout. With durability on, every write that ends a session
// (Delete, RevokeUser, the retirement of the old ID in Rotate, and a
// revocation in a CookieStore's revocation list: see CreateEnding) is
// followed, on the same connection and in the same round trip, by WAIT: the
// call returns only once enough replicas acknowledged it, and fails (an
// error wrapping ErrStore, so the response is the error handler's) when they
// do not in time. Reads and plain value writes never wait.

// Defaults of the durability a Sentinel failover client gets without
// WithDurability.
const (
	defaultDurableReplicas = 1
	defaultDurableTimeout  = time.Second
)

// durability is the store's WAIT policy; the zero value waits for nothing.
type durability struct {
	replicas int
	timeout  time.Duration
	// auto: set by default for a failover client rather than by
	// WithDurability. A primary with no replica connected at all then
	// has nothing to wait for: the write goes without WAIT.
	auto bool
}

// replicaCount caches how many replicas the primary reported (INFO
// replication), for the default durability: an ending write skips WAIT
// while the primary has none. Read at the first ending write, then
// refreshed at most every replicaRefresh by an INFO sent in the same round
// trip as a write, and at once when a WAIT falls short.
type replicaCount struct {
	n  atomic.Int64 // replicas; -1 unknown
	at atomic.Int64 // unix nanos of the reading
}

// replicaRefresh is how old the cached replica count may get.
const replicaRefresh = time.Second

// WithDurability makes the writes that end sessions (logout, revocation,
// log out everywhere, the old ID of a renewal, and a revocation when the
// store keeps the revocation list of a CookieStore) wait until at least replicas
// replicas acknowledge them, for at most timeout (Redis WAIT, sent in the
// same round trip as the write). When fewer acknowledge in time, the call
// fails with an error wrapping [storekit.ErrStore]: the write reached the primary,
// but a failover could still undo it, and the user must not be told it is
// done. Zero replicas turns durability off.
//
// Default: off on a single node and on a Cluster; on a Sentinel failover
// client (redis.NewFailoverClient, or a UniversalClient with MasterName), one
// replica within one second, waived while the primary has no replica
// connected (a lone primary has nothing to wait for). On a Cluster, WAIT
// runs on the master that owns the session's slot. Cost: the replication
// delay, about a loopback round trip, on each ending write; see the README's
// "Redis in production". Keep timeout below the client's ReadTimeout
// (go-redis default 3 s): the WAIT reply is read under it.
func WithDurability(replicas int, timeout time.Duration) Option {
	return func(s *Store) {
		s.durable = durability{replicas: max(replicas, 0), timeout: timeout}
		if s.durable.timeout <= 0 {
			s.durable.timeout = defaultDurableTimeout
		}
		s.durableSet = true
	}
}

// defaultDurability is the durability of a store built without
// WithDurability on client.
func defaultDurability(client redis.UniversalClient) durability {
	if c, ok := client.(*redis.Client); ok && c.Options().Addr == "FailoverClient" {
		// go-redis names the address of a Sentinel failover client so.
		return durability{replicas: defaultDurableReplicas, timeout: defaultDurableTimeout, auto: true}
	}
	return durability{}
}

// CreateEnding is Create through the store's durable path for the writes
// that end sessions (see WithDurability): it writes r, a record without a
// user or a family, under key, so that with durability on a write no
// replica acknowledged fails closed, as a logout does. Package session uses
// it for the revocations of a CookieStore's revocation list. One round trip;
// without durability it is Create.
func (s *Store) CreateEnding(ctx context.Context, key string, r *storekit.Record) error {
	const op = "create revocation"
	if r.UserID != "" || needsPointer(key, r.Family) {
		// Create indexes a user's record and points a family at it; a
		// revocation has neither.
		return fmt.Errorf("session: redis store: %s: a record with a user or a family: %w", op, errors.ErrUnsupported)
	}
	if s.durable.replicas == 0 {
		return s.Create(ctx, key, r)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	args := make([]any, 0, 3+metaFieldArgs+2*len(r.Values))
	args = append(args, unixMs(r.Expires), fieldGen, 0)
	args = appendMeta(args, &r.Meta)
	for k, v := range r.Values {
		args = append(args, fieldValue+k, v)
	}
	if err := s.runEnding(ctx, op, createScript, []string{s.sessionKey(key), s.tombKey(key)}, args...).Err(); err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// runEnding runs script, a write that ends sessions, followed by WAIT when
// durability is on, in one round trip; it returns the script's reply.
func (s *Store) runEnding(ctx context.Context, op string, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if s.durable.replicas == 0 {
		return script.Run(ctx, s.client, keys, args...)
	}
	c, err := s.durableNode(ctx, keys[0])
	if err != nil {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(err)
		return cmd
	}
	doWait, refresh := true, false
	if s.durable.auto {
		if doWait, refresh, err = s.replicasKnown(ctx, c); err != nil {
			cmd := redis.NewCmd(ctx)
			cmd.SetErr(wrapErr(op, err))
			return cmd
		}
	}
	cmd, wait, info := s.execEnding(ctx, c, script, keys, args, refresh, doWait)
	if info != nil && info.Err() == nil {
		s.replicas.set(connectedReplicas(info.Val()))
	}
	if cmd.Err() != nil || !doWait {
		return cmd
	}
	if err := s.checkAcked(ctx, c, op, wait); err != nil {
		cmd.SetErr(err)
	}
	return cmd
}

// execEnding sends script on c, with INFO replication before it when
// refresh and WAIT after it when doWait, in one pipeline: EVALSHA, then
// EVAL once if the server does not hold the script. It returns the
// script's, WAIT's and INFO's commands (wait and info nil when not sent).
func (s *Store) execEnding(ctx context.Context, c redis.Cmdable, script *redis.Script, keys []string, args []any,
	refresh, doWait bool) (cmd, wait *redis.Cmd, info *redis.StringCmd) {
	for _, sha := range []bool{true, false} {
		pipe := c.Pipeline()
		if refresh {
			info = pipe.Info(ctx, "replication")
		}
		if sha {
			cmd = script.EvalSha(ctx, pipe, keys, args...)
		} else {
			cmd = script.Eval(ctx, pipe, keys, args...)
		}
		if doWait {
			wait = pipe.Do(ctx, "wait", s.durable.replicas, s.durable.timeout.Milliseconds())
		}
		_, _ = pipe.Exec(ctx)
		if !sha || !isNoScript(cmd.Err()) {
			break
		}
	}
	return cmd, wait, info
}

// replicasKnown reports, for the default durability, whether the primary
// has replicas to wait for, and whether the cached count should be
// refreshed alongside the write. The first call asks the primary.
func (s *Store) replicasKnown(ctx context.Context, c redis.Cmdable) (wait, refresh bool, err error) {
	at := s.replicas.at.Load()
	if at == 0 {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return false, false, err
		}
		s.replicas.set(connectedReplicas(info))
		return s.replicas.n.Load() != 0, false, nil
	}
	stale := time.Since(time.Unix(0, at)) > replicaRefresh
	return s.replicas.n.Load() != 0, stale, nil
}

// set records a replica count read now.
func (r *replicaCount) set(n int) {
	r.n.Store(int64(n))
	r.at.Store(time.Now().UnixNano())
}

// durableNode returns the client on whose connection the write and its WAIT
// must go: the store's client, or on a Cluster the master owning key's slot.
func (s *Store) durableNode(ctx context.Context, key string) (redis.Cmdable, error) {
	sharded, err := s.sharded(ctx)
	if err != nil || !sharded {
		return s.client, err
	}
	cc, ok := s.client.(*redis.ClusterClient)
	if !ok {
		return nil, fmt.Errorf("session: redis store: durability: %w: WAIT on a sharded client needs a *redis.ClusterClient", storekit.ErrStore)
	}
	node, err := cc.MasterForKey(ctx, key)
	if err != nil {
		return nil, wrapErr("durability", err)
	}
	return node, nil
}

// checkAcked turns a WAIT reply short of the wanted replicas into an error,
// unless durability is the default one and the primary has no replica.
func (s *Store) checkAcked(ctx context.Context, c redis.Cmdable, op string, wait *redis.Cmd) error {
	n, err := wait.Int64()
	if err != nil {
		return wrapErr(op+": wait", err)
	}
	if int(n) >= s.durable.replicas {
		return nil
	}
	if s.durable.auto {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return wrapErr(op+": wait", err)
		}
		n := connectedReplicas(info)
		s.replicas.set(n)
		if n == 0 {
			return nil // the replicas went away: nothing to wait for
		}
	}
	return fmt.Errorf("session: redis store: %s: %w: %d of %d replicas acknowledged within %v",
		op, storekit.ErrStore, n, s.durable.replicas, s.durable.timeout)
}

// connectedReplicas reads connected_slaves from INFO replication (-1 when
// absent).
func connectedReplicas(info string) int {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return -1
}

// isNoScript reports whether err is Redis's NOSCRIPT (EVALSHA of a script
// the server does not hold).
func isNoScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOSCRIPT")
}
