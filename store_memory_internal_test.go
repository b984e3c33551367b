package session

import (
	"errors"
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
