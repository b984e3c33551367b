package memstore

import (
	"context"
	"fmt"
	"time"
)

// RevokeAll implements session.Fleet: one atomic store of the cutoff; from then on
// every check of a record (Load, Update, Rotate, UserSessions) compares its
// creation time with it.
func (s *Store) RevokeAll(ctx context.Context, cutoff time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: revoke all: %w", err)
	}
	c := cutoff.UnixNano()
	for {
		old := s.cutoff.Load()
		if old >= c || s.cutoff.CompareAndSwap(old, c) {
			return nil
		}
	}
}

// Count implements session.Fleet: the live records (not tombstones, not expired or
// revoked ones the sweeper has not removed yet), counted shard by shard
// under each shard's read lock: O(n), for an admin page, not a request.
func (s *Store) Count(ctx context.Context) (int, error) {
	now := s.now().UnixNano()
	n := 0
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("memory store: count: %w", err)
		}
		sh := &s.shards[i]
		sh.mu.RLock()
		for k, e := range sh.m {
			if e.state == stateLive {
				if state, _, _ := s.check(&e, len(k), now); state == entryLive {
					n++
				}
			}
		}
		sh.mu.RUnlock()
	}
	return n, nil
}

// revokedByAll reports whether the live entry e (key length klen) was
// created before RevokeAll's cutoff. Its creation time is the first field
// of the block after the key (see internal/memblock).
func (s *Store) revokedByAll(e *memEntry, klen int) bool {
	c := s.cutoff.Load()
	if c == 0 || e.state != stateLive || len(e.blob) < klen+8 {
		return false
	}
	b := e.blob[klen : klen+8]
	created := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	return int64(created) < c
}
