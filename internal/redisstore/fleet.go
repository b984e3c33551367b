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

// allKey is the key of the RevokeAll cutoff (unix milliseconds): prefix +
// "all", a string in a slot of its own.
func (s *Store) allKey() string { return s.prefix + "all" }

// RevokeAll implements session.Fleet in one round trip: it raises the cutoff that
// Load compares every session's creation time with (in the same round trip
// as the session on a single server or Sentinel; pipelined beside it on a
// Cluster). The cutoff is kept for WithMaxSessionLifetime past it. It is a
// write that ends sessions: with durability on, it waits for the replicas
// (see WithDurability).
func (s *Store) RevokeAll(ctx context.Context, cutoff time.Time) error {
	const op = "revoke all"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("session: redis store: %s: %w", op, err)
	}
	c := cutoff.UnixMilli()
	if cutoff.Sub(time.UnixMilli(c)) > 0 {
		c++ // round up: a session created in the cutoff's millisecond is before it
	}
	err := s.runEnding(ctx, op, revokeAllScript, []string{s.allKey()}, c, cutoff.Add(s.maxLifetime).UnixMilli()).Err()
	if err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// Count implements session.Fleet with SCAN over the session hashes (MATCH
// <prefix>{*}, tombstones and indexes excluded), on every master of a
// Cluster: O(n) in the keys of the database, a few thousand per round
// trip, never KEYS. Sessions ended by RevokeAll but not expired yet are
// counted until their TTL removes them. A client that wraps a Cluster
// client (an AutoPipeliner) cannot reach each master: Count then returns an
// error wrapping errors.ErrUnsupported.
func (s *Store) Count(ctx context.Context) (int, error) {
	const op = "count"
	pattern := globEscape(s.prefix) + "{*}"
	var total atomic.Int64
	scan := func(ctx context.Context, c redis.Cmdable) error {
		n := 0
		var cursor uint64
		for {
			keys, next, err := c.ScanType(ctx, cursor, pattern, 1000, "hash").Result()
			if err != nil {
				return err
			}
			n += len(keys)
			if cursor = next; cursor == 0 {
				break
			}
		}
		total.Add(int64(n))
		return nil
	}
	sharded, err := s.sharded(ctx)
	if err != nil {
		return 0, err
	}
	cc, isCluster := s.client.(*redis.ClusterClient)
	switch {
	case isCluster:
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return scan(ctx, c)
		})
	case sharded:
		// A client wrapping a Cluster (an AutoPipeliner) cannot reach
		// each master.
		return 0, fmt.Errorf("session: redis store: %s: counting a Cluster needs a *redis.ClusterClient: %w", op, errors.ErrUnsupported)
	default:
		err = scan(ctx, s.client)
	}
	if err != nil {
		return 0, wrapErr(op, err)
	}
	return int(total.Load()), nil
}

// revokedByAll returns the error for a record created before the RevokeAll
// cutoff (unix milliseconds, "" for none), nil otherwise.
func revokedByAll(op string, r *storekit.Record, cutoff string) error {
	if cutoff == "" {
		return nil
	}
	c, err := strconv.ParseInt(cutoff, 10, 64)
	if err != nil {
		return broken(op, "revoke-all cutoff")
	}
	if r.CreatedAt.UnixMilli() < c {
		return fmt.Errorf("session: redis store: %s: %w", op, &storekit.Tombstone{Reason: storekit.EndRevoked})
	}
	return nil
}

// globEscape escapes the glob metacharacters of a SCAN MATCH pattern.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}

// cutoffOf reads the result of a GET of the RevokeAll key.
func cutoffOf(cmd *redis.StringCmd) (string, error) {
	v, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}
