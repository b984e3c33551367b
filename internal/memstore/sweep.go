package memstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// WithMaxRecords bounds the number of entries (records and tombstones) the
// store holds, so that clients cannot grow it without bound. Past 90% of
// the bound, new anonymous records are refused (Create fails with
// ErrCapacity, which the Manager reports as EventCapacity and answers with
// its error handler) and ended records leave no tombstone; logins (Rotate)
// go on until the bound itself. A logged-in session is never evicted to
// make room. The default is sized for the machine: a record of a few
// hundred bytes, in an eighth of GOMEMLIMIT or, without one, of the
// physical memory (Linux), else one million. n <= 0 keeps the default.
func WithMaxRecords(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.maxEntries = int64(n)
		}
	}
}

// memEntryBudget is the memory budgeted per entry for the default bound:
// about twice a small logged-in session (412 bytes measured).
const memEntryBudget = 1 << 10

// defaultMaxRecords sizes the default bound from the memory the process
// may use.
func defaultMaxRecords() int64 {
	budget := debug.SetMemoryLimit(-1)
	if budget == 1<<63-1 { // no GOMEMLIMIT
		budget = physicalMemory()
	}
	if budget <= 0 {
		return 1 << 20
	}
	return max(budget/8/memEntryBudget, 1<<14)
}

// physicalMemory returns MemTotal from /proc/meminfo, or 0.
func physicalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// anonLimit is the entry count past which anonymous records and tombstones
// are refused: 90% of the bound.
func (s *Store) anonLimit() int64 { return s.maxEntries - s.maxEntries/10 }

// admit reserves a place for a new entry, or reports ErrCapacity when the
// store cannot take one. The check and the reservation are one
// compare-and-swap of used (entries stored plus places reserved), so
// concurrent creates can never pass the bound together, and a place is
// counted once: putHeld turns the reservation into the stored entry, and
// admitted releases one that was not used (the create failed or replaced
// an entry). held is the caller's reservation, true on success.
func (s *Store) admit(loggedIn bool) (held bool, err error) {
	limit := s.maxEntries
	if !loggedIn {
		limit = s.anonLimit()
	}
	for {
		n := s.used.Load()
		switch {
		case n >= s.maxEntries:
			return false, fmt.Errorf("%w: %d entries", storekit.ErrCapacity, n)
		case n >= limit:
			return false, fmt.Errorf("%w: %d entries, new anonymous sessions refused", storekit.ErrCapacity, n)
		}
		if s.used.CompareAndSwap(n, n+1) {
			return true, nil
		}
	}
}

// admitted releases the place admit reserved if putHeld did not use it.
func (s *Store) admitted(held *bool) {
	if *held {
		*held = false
		s.used.Add(-1)
	}
}

// sweeper removes expired records one shard at a time, so no lock is held
// for long and requests on other shards never wait.
func (s *Store) sweeper() {
	defer close(s.done)
	t := time.NewTicker(max(s.sweepEvery/memShards, time.Millisecond))
	defer t.Stop()
	next := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweepShard(next)
			s.sweepFamilies(next)
			next = (next + 1) % memShards
		}
	}
}

// sweepShard turns the expired records of one shard into tombstones (or
// deletes them once their Linger has passed too), drops them from their
// users' indexes and, with a callback set (NotifyExpired), reports them.
// It releases the shard lock every memSweepBatch entries, so a mass expiry
// delays a request on this shard by one batch at most.
func (s *Store) sweepShard(i int) {
	now := s.now().UnixNano()
	sh := &s.shards[i]
	var sw sweep
	sw.notify = s.onExpired.Load() != nil
	n := 0
	sh.mu.Lock()
	// Go maps may be modified during a range loop: entries deleted by
	// others while the lock is released are simply not produced, entries
	// they add may or may not be (and are swept next time).
	for k, e := range sh.m {
		if now >= e.expires {
			s.sweepEntry(sh, k, &e, now, &sw)
		}
		if n++; n%memSweepBatch == 0 {
			sh.mu.Unlock()
			s.unindexSwept(&sw)
			sh.mu.Lock()
		}
	}
	sh.mu.Unlock()
	s.unindexSwept(&sw)
	s.notifyExpired(sw.expired)
}

// sweep is what sweepShard collects under the shard lock for afterwards:
// the index entries to drop and the records to report.
type sweep struct {
	removed []struct{ user, key string }
	expired []storekit.IndexedRecord
	notify  bool // a NotifyExpired callback is set: collect expired
}

// sweepEntry ends the entry e under k, past its expiry at now; the caller
// holds sh's lock. Only a live entry becomes a tombstone (a tombstone's
// block is not a record's, and an expired tombstone just goes), and only a
// live one not revoked by RevokeAll is reported.
func (s *Store) sweepEntry(sh *memShard, k string, e *memEntry, now int64, sw *sweep) {
	if e.state != stateLive {
		s.drop(sh, k)
		return
	}
	if e.hasUser {
		u, _ := entryUser(e, len(k))
		sw.removed = append(sw.removed, struct{ user, key string }{u, k})
	}
	if sw.notify && !s.revokedByAll(e, len(k)) {
		r := storekit.IndexedRecord{Key: strings.Clone(k)}
		decodeMeta(e, len(k), &r.Meta)
		r.Meta.UserID, r.Meta.UserAgent, r.Meta.IP = strings.Clone(r.Meta.UserID), strings.Clone(r.Meta.UserAgent), strings.Clone(r.Meta.IP)
		r.Meta.Family = strings.Clone(r.Meta.Family)
		sw.expired = append(sw.expired, r)
	}
	if t, ok := expiredTomb(k, e, now); ok && s.count.Load() < s.anonLimit() {
		s.put(sh, k, t)
	} else {
		s.drop(sh, k)
	}
}

// unindexSwept drops the swept sessions from their users' indexes; the
// caller holds no shard lock.
func (s *Store) unindexSwept(sw *sweep) {
	for _, g := range sw.removed {
		s.unindex(g.user, g.key)
	}
	sw.removed = sw.removed[:0]
}

// NotifyExpired implements session.ExpiryNotifier: the sweeper calls fn,
// from its goroutine, for each live record it finds past its expiry (not
// for one revoked meanwhile, whose user's generation moved or that
// RevokeAll ended). A record past its expiry is reported when the sweeper
// reaches its shard (within one sweep interval), whether or not a request
// saw it expired first. A later call replaces fn; nil stops the calls;
// Close stops the sweeper and so the calls.
func (s *Store) NotifyExpired(fn func(ctx context.Context, r storekit.IndexedRecord)) {
	if fn == nil {
		s.onExpired.Store(nil)
		return
	}
	s.onExpired.Store(&fn)
}

// notifyExpired reports the swept records to the NotifyExpired callback,
// with no shard lock held (the user's generation is read under the user's
// lock).
func (s *Store) notifyExpired(recs []storekit.IndexedRecord) {
	fn := s.onExpired.Load()
	if fn == nil {
		return
	}
	for _, r := range recs {
		if r.Meta.UserID != "" && r.Meta.Generation < s.generation(r.Meta.UserID) {
			continue // revoked, not expired
		}
		(*fn)(context.Background(), r)
	}
}
