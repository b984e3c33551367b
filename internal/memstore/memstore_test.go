package memstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/memblock"
	"github.com/sessionkit/session/internal/storekit"
)

// Revocation with a stale index still logs the session out: the generation
// check on load catches what the index missed.
func TestMemoryRevokeUserWithStaleIndex(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := t.Context()
	now := time.Now()
	r := &storekit.Record{Meta: storekit.Meta{UserID: "alice", CreatedAt: now, LastSeen: now, Expires: now.Add(time.Hour)}}
	if err := s.Create(ctx, "k1", r); err != nil {
		t.Fatal(err)
	}
	us := s.userShard("alice")
	us.mu.Lock()
	clear(us.m["alice"].keys) // the index lost the session
	us.mu.Unlock()
	if err := s.RevokeUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "k1"); !errors.Is(err, storekit.ErrNotFound) {
		t.Fatalf("session missed by the index survived RevokeUser: %v", err)
	}
}

// TestMemorySweepExpiredTombstones: the sweeper drops tombstones whose own
// time has passed (rotated, destroyed, expired), never reading one as a
// live record's metadata (it did, and a rotated tombstone's bytes read as
// metadata ran past the block: a panic in the sweeper goroutine, which
// kills the process).
func TestMemorySweepExpiredTombstones(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	s := New(WithClock(clock), WithSweepInterval(0))
	defer s.Close()
	ctx := t.Context()
	key := func(i int) string { return fmt.Sprintf("%043d", i) } // the length of a real key
	const n = 200
	for i := range n {
		r := &storekit.Record{Meta: storekit.Meta{UserID: fmt.Sprint("u", i%7), CreatedAt: now, LastSeen: now,
			Expires: now.Add(time.Minute), Linger: time.Minute}, Values: map[string][]byte{"v": []byte("x")}}
		if err := s.Create(ctx, key(i), r); err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // rotated: the tombstone holds the next key
			if _, err := s.Rotate(ctx, &storekit.Rotation{OldKey: key(i), NewKey: key(n + i), Meta: r.Meta}); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := s.Delete(ctx, key(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	sweepAll := func() {
		for i := range memShards {
			s.sweepShard(i)
		}
	}
	now = now.Add(90 * time.Second) // live ones expired (tombstones), ended ones still lingering
	sweepAll()
	now = now.Add(time.Hour) // every tombstone's time has passed
	sweepAll()
	if c := s.count.Load(); c != 0 {
		t.Fatalf("%d entries left after every tombstone's time passed", c)
	}
}

// TestPing: the store is ready while open; a done context or a closed
// store is not.
func TestPing(t *testing.T) {
	s := New(WithSweepInterval(0))
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("open store: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("done context: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, storekit.ErrStore) {
		t.Fatalf("closed store: %v", err)
	}
}

// TestMergeValues: deletions, then sets, on the parallel value lists.
func TestMergeValues(t *testing.T) {
	keys := []string{"a", "b", "c"}
	vals := []memblock.Val{{S: "1"}, {S: "2"}, {S: "3"}}
	d := &storekit.Delta{Delete: []string{"b", "zz"}, Set: map[string][]byte{"c": []byte("9"), "d": []byte("4")}}
	keys, vals = mergeValues(keys, vals, d)
	got := map[string]string{}
	for i, k := range keys {
		v := vals[i].S
		if vals[i].B != nil {
			v = string(vals[i].B)
		}
		got[k] = v
	}
	want := map[string]string{"a": "1", "c": "9", "d": "4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("merged %v, want %v", got, want)
	}
}

// TestReservationsReleased: every place admit reserves becomes an entry or
// is released, whatever the create or renewal did (stored a new entry,
// replaced one, failed), so the bound's count never drifts from the
// entries held.
func TestReservationsReleased(t *testing.T) {
	s := New(WithSweepInterval(0), WithMaxRecords(100))
	defer s.Close()
	ctx := t.Context()
	now := time.Now()
	r := func(user string) *storekit.Record {
		return &storekit.Record{Meta: storekit.Meta{UserID: user, CreatedAt: now, LastSeen: now, Expires: now.Add(time.Hour), Linger: time.Minute}}
	}
	for _, step := range []func() error{
		func() error { return s.Create(ctx, "a", r("")) },
		func() error { return s.Create(ctx, "a", r("")) }, // replaces: no new entry
		func() error { return s.Create(ctx, "b", r("alice")) },
		func() error {
			_, err := s.Rotate(ctx, &storekit.Rotation{OldKey: "b", NewKey: "c", Meta: r("alice").Meta})
			return err
		},
		func() error {
			_, err := s.Rotate(ctx, &storekit.Rotation{OldKey: "gone", NewKey: "d", Meta: r("alice").Meta})
			if !errors.Is(err, storekit.ErrNotFound) {
				return fmt.Errorf("renewal of a missing record: %w", err)
			}
			return nil
		},
		func() error { return s.Delete(ctx, "a") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		if used, count := s.used.Load(), s.count.Load(); used != count {
			t.Fatalf("%d places used for %d entries", used, count)
		}
	}
	if c := s.count.Load(); c != 3 { // a's and b's tombstones, c
		t.Fatalf("%d entries, want 3", c)
	}
}
