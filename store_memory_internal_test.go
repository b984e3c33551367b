package session

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Revocation with a stale index still logs the session out: the generation
// check on load catches what the index missed.
func TestMemoryRevokeUserWithStaleIndex(t *testing.T) {
	s := NewMemoryStore()
	defer s.Close()
	ctx := t.Context()
	now := time.Now()
	r := &Record{Meta: Meta{UserID: "alice", CreatedAt: now, LastSeen: now, Expires: now.Add(time.Hour)}}
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
	if _, err := s.Load(ctx, "k1"); !errors.Is(err, ErrNotFound) {
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
	s := NewMemoryStore(withMemoryClock(clock), WithSweepInterval(0))
	defer s.Close()
	ctx := t.Context()
	key := func(i int) string { return fmt.Sprintf("%043d", i) } // the length of a real key
	const n = 200
	for i := range n {
		r := &Record{Meta: Meta{UserID: fmt.Sprint("u", i%7), CreatedAt: now, LastSeen: now,
			Expires: now.Add(time.Minute), Linger: time.Minute}, Values: map[string][]byte{"v": []byte("x")}}
		if err := s.Create(ctx, key(i), r); err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0: // rotated: the tombstone holds the next key
			if _, err := s.Rotate(ctx, &Rotation{OldKey: key(i), NewKey: key(n + i), Meta: r.Meta}); err != nil {
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
