package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// familyPair is pair for the family tests: two stores on one server and
// prefix (one hooked), and the client, to evict items by hand.
func familyPair(t *testing.T, indexed bool) (hooked, other session.Rotator, hs *base, c *memcache.Client) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c = memcache.New(srv.Addr)
	c.Timeout = 2 * time.Second
	if indexed {
		a, b := New(c, WithKeyPrefix("fam:")), New(c, WithKeyPrefix("fam:"))
		return a, b, a.s, c
	}
	a, b := NewUnindexed(c, WithKeyPrefix("fam:")), NewUnindexed(c, WithKeyPrefix("fam:"))
	return a, b, a.s, c
}

// renewIn renews old to a new key of family (same user) and returns it.
func renewIn(t *testing.T, s session.Rotator, old, user, family string) string {
	t.Helper()
	nk := fmt.Sprintf("k-%d", time.Now().UnixNano())
	meta := userRecord(user).Meta
	meta.Family = family
	_, err := s.Rotate(context.Background(), &session.Rotation{OldKey: old, NewKey: nk, Meta: meta})
	require.NoError(t, err)
	return nk
}

// dead requires key to hold no live record, by every way in: Load,
// Update, a renewal from it.
func dead(t *testing.T, s session.Rotator, key, msg string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.(session.Store).Load(ctx, key)
	require.ErrorIs(t, err, session.ErrNotFound, msg)
	err = s.(session.Store).Update(ctx, key, &session.Delta{Set: map[string][]byte{"x": []byte("1")}, Expires: time.Now().Add(time.Hour)})
	require.ErrorIs(t, err, session.ErrNotFound, msg+" (update)")
	meta := userRecord("alice").Meta
	nk := key + "-renewed"
	_, err = s.Rotate(ctx, &session.Rotation{OldKey: key, NewKey: nk, Meta: meta})
	require.ErrorIs(t, err, session.ErrNotFound, msg+" (renewal)")
	_, err = s.(session.Store).Load(ctx, nk)
	require.ErrorIs(t, err, session.ErrNotFound, msg+" (renewal)")
}

// TestFamilyRoundTrip: the family is stored with the record and its
// renewal tombstone, a renewed record is found by family, and a header
// session's family (not any of its keys) from its first record on.
func TestFamilyRoundTrip(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, _, _, _ := familyPair(t, indexed)
		st := s.(session.Store)
		ctx := context.Background()
		require.NoError(t, st.Create(ctx, "k0", userRecord("alice")))
		k, r, err := s.Family(ctx, "k0")
		require.NoError(t, err, "a record never renewed is its own family")
		assert.Equal(t, "k0", k)
		assert.Equal(t, "alice", string(r.Values["owner"]))

		k1 := renewIn(t, s, "k0", "alice", "k0")
		r, err = st.Load(ctx, k1)
		require.NoError(t, err)
		assert.Equal(t, "k0", r.Family)
		_, err = st.Load(ctx, "k0")
		var tomb *session.Tombstone
		require.ErrorAs(t, err, &tomb)
		assert.Equal(t, session.EndRotated, tomb.Reason)
		assert.Equal(t, "k0", tomb.Family)
		assert.Equal(t, k1, tomb.Next)
		k, r, err = s.Family(ctx, "k0")
		require.NoError(t, err)
		assert.Equal(t, k1, k)
		assert.Equal(t, "k0", r.Family)

		meta := userRecord("bob").Meta
		meta.Family = "hdr-family"
		_, err = s.Rotate(ctx, &session.Rotation{NewKey: "h0", Meta: meta})
		require.NoError(t, err)
		k, _, err = s.Family(ctx, "hdr-family")
		require.NoError(t, err)
		assert.Equal(t, "h0", k)
		_, _, err = s.Family(ctx, "h0")
		require.ErrorIs(t, err, session.ErrNotFound, "a header session's key is not its family")
		if ix, ok := s.(session.UserIndex); ok {
			list, err := ix.UserSessions(ctx, "bob")
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, "hdr-family", list[0].Meta.Family)
		}
	})
}

// TestFamilyLongChainOneStep: after 300 renewals, Family and EndFamily
// take the same few round trips as after one: no tombstone is followed.
func TestFamilyLongChainOneStep(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, _, _, _ := familyPair(t, indexed)
		ctx := context.Background()
		require.NoError(t, s.(session.Store).Create(ctx, "chain", userRecord("alice")))
		k := "chain"
		for range 300 {
			k = renewIn(t, s, k, "alice", "chain")
		}
		got, _, err := s.Family(ctx, "chain")
		require.NoError(t, err)
		require.Equal(t, k, got)
		ir, err := s.EndFamily(ctx, "chain")
		require.NoError(t, err)
		assert.Equal(t, k, ir.Key)
		assert.Equal(t, "alice", ir.Meta.UserID)
		dead(t, s, k, "the last of 300 renewals")
		_, _, err = s.Family(ctx, "chain")
		require.ErrorIs(t, err, session.ErrNotFound)
	})
}

// TestFamilyAfterTombstonesExpired: the retired keys' tombstones are gone
// (Linger 1 s), the live record was kept alive by updates past them: the
// family is still found and ended.
func TestFamilyAfterTombstonesExpired(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, _, _, _ := familyPair(t, indexed)
		st := s.(session.Store)
		ctx := context.Background()
		rec := userRecord("alice")
		rec.Linger = time.Second
		require.NoError(t, st.Create(ctx, "old", rec))
		k1 := renewIn(t, s, "old", "alice", "old")
		k2 := renewIn(t, s, k1, "alice", "old")
		for range 3 { // memcached's clock ticks in whole seconds
			time.Sleep(time.Second)
			require.NoError(t, st.Update(ctx, k2, &session.Delta{LastSeen: time.Now(), Expires: time.Now().Add(time.Minute)}))
		}
		for _, k := range []string{"old", k1} {
			_, err := st.Load(ctx, k)
			var tomb *session.Tombstone
			require.False(t, errors.As(err, &tomb), "%s: the tombstone outlived its Linger", k)
		}
		ir, err := s.EndFamily(ctx, "old")
		require.NoError(t, err)
		assert.Equal(t, k2, ir.Key)
		dead(t, s, k2, "the live record of a family whose tombstones expired")
	})
}

// TestFamilyEvictedTombstone is the finding of issue 23 (#4): ordinary
// traffic evicts a renewal's tombstone, after which the victim's retired
// key reads as unknown. The family still reaches the thief's live record,
// and EndFamily ends it.
func TestFamilyEvictedTombstone(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, _, hs, c := familyPair(t, indexed)
		st := s.(session.Store)
		ctx := context.Background()
		require.NoError(t, st.Create(ctx, "victim", userRecord("alice")))
		thief := renewIn(t, s, "victim", "alice", "victim") // the stolen key renewed
		thief = renewIn(t, s, thief, "alice", "victim")
		require.NoError(t, c.Delete(hs.itemKey("victim"))) // evicted
		_, err := st.Load(ctx, "victim")
		var tomb *session.Tombstone
		require.False(t, errors.As(err, &tomb), "the tombstone is gone: the victim's key is unknown")

		ir, err := s.EndFamily(ctx, "victim")
		require.NoError(t, err, "the family's live record must be found without the tombstone")
		assert.Equal(t, thief, ir.Key)
		dead(t, s, thief, "the thief's renewal after EndFamily")
	})
}

// TestFamilyEvictedAnchor: Memcached evicts the family's anchor. The
// renewed record cannot be found by its family any more, so it must be
// dead already (fail closed): Load, Update, a renewal and Family all say
// not found, and EndFamily has nothing to end. A record never renewed
// needs no anchor.
func TestFamilyEvictedAnchor(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, _, hs, c := familyPair(t, indexed)
		st := s.(session.Store)
		ctx := context.Background()
		require.NoError(t, st.Create(ctx, "f", userRecord("alice")))
		live := renewIn(t, s, "f", "alice", "f")
		_, err := st.Load(ctx, live)
		require.NoError(t, err)
		require.NoError(t, c.Delete(hs.anchorKey("f"))) // evicted

		dead(t, s, live, "a renewed record whose family's anchor was evicted")
		_, _, err = s.Family(ctx, "f")
		require.ErrorIs(t, err, session.ErrNotFound)
		// EndFamily may end the record again: without the anchor it cannot
		// tell a finished renewal from one in flight (see endFamily), and
		// ends the record the renewal's tombstone names.
		if ir, err := s.EndFamily(ctx, "f"); err == nil {
			assert.Equal(t, live, ir.Key)
		} else {
			require.ErrorIs(t, err, session.ErrNotFound)
		}
		dead(t, s, live, "after EndFamily")
		if ix, ok := s.(session.UserIndex); ok {
			list, err := ix.UserSessions(ctx, "alice")
			require.NoError(t, err)
			assert.Empty(t, list, "a record dead with its anchor is listed")
		}

		// Both evicted: the tombstone and the anchor.
		require.NoError(t, st.Create(ctx, "g", userRecord("alice")))
		live = renewIn(t, s, "g", "alice", "g")
		require.NoError(t, c.Delete(hs.itemKey("g")))
		require.NoError(t, c.Delete(hs.anchorKey("g")))
		dead(t, s, live, "tombstone and anchor evicted")
		_, err = s.EndFamily(ctx, "g")
		require.ErrorIs(t, err, session.ErrNotFound)

		// A header session's first record needs its anchor too.
		meta := userRecord("alice").Meta
		meta.Family = "hdr"
		_, err = s.Rotate(ctx, &session.Rotation{NewKey: "h0", Meta: meta})
		require.NoError(t, err)
		require.NoError(t, c.Delete(hs.anchorKey("hdr")))
		dead(t, s, "h0", "a header session whose anchor was evicted")

		// A session never renewed has no anchor to lose.
		require.NoError(t, st.Create(ctx, "plain", userRecord("alice")))
		_, err = st.Load(ctx, "plain")
		require.NoError(t, err)
		ir, err := s.EndFamily(ctx, "plain")
		require.NoError(t, err)
		assert.Equal(t, "plain", ir.Key)
		dead(t, s, "plain", "a session never renewed, ended by its family")
	})
}

// TestFamilyAnchorOutlivesRecord: an update that keeps a renewed record
// alive past its anchor's expiry extends the anchor, so touches do not log
// the session out early; the anchor is written with an expiry beyond
// Memcached's 30-day relative limit as an absolute time.
func TestFamilyAnchorOutlivesRecord(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c := memcache.New(srv.Addr)
	s := NewUnindexed(c, WithKeyPrefix("keep:"), WithMaxSessionLifetime(time.Second))
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, "f", userRecord("")))
	k := renewIn(t, s, "f", "", "f")
	for range 3 {
		time.Sleep(time.Second)
		require.NoError(t, s.Update(ctx, k, &session.Delta{LastSeen: time.Now(), Expires: time.Now().Add(5 * time.Second)}))
	}
	_, err := s.Load(ctx, k)
	require.NoError(t, err, "a touched session outlived its family's anchor")
	a, err := s.s.getAnchor(ctx, "test", "f")
	require.NoError(t, err)
	require.NotNil(t, a)
	assert.True(t, a.a.Until.After(time.Now().Add(4*time.Second)), "the anchor lives as long as the record")

	long := NewUnindexed(c, WithKeyPrefix("keep:"), WithMaxSessionLifetime(90*24*time.Hour))
	require.NoError(t, long.Create(ctx, "g", userRecord("")))
	k = renewIn(t, long, "g", "", "g")
	_, err = long.Load(ctx, k)
	require.NoError(t, err, "an anchor living 90 days (absolute expiration) is there")
}

// raceFamily returns a store pair with a family "f" renewed once (so it
// has an anchor) when renewed, or never renewed otherwise; and its live
// key.
func raceFamily(t *testing.T, indexed, renewed bool) (s, other session.Rotator, hs *base, c *memcache.Client, live string) {
	s, other, hs, c = familyPair(t, indexed)
	require.NoError(t, s.(session.Store).Create(context.Background(), "f", userRecord("alice")))
	live = "f"
	if renewed {
		live = renewIn(t, s, "f", "alice", "f")
	}
	return s, other, hs, c, live
}

// TestRaceFamilyEndDuringRotate lands EndFamily at each point of a
// renewal of the family (before the old record is retired, between that
// and the naming of the new key): the renewal fails with ErrNotFound,
// EndFamily reports the session it ended, and no record of the family is
// live afterwards; for a family with an anchor and one never renewed.
func TestRaceFamilyEndDuringRotate(t *testing.T) {
	for _, point := range []string{"rotate:old", "rotate:anchor"} {
		for _, renewed := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/renewed=%v", point, renewed), func(t *testing.T) {
				bothStores(t, func(t *testing.T, indexed bool) {
					s, other, hs, _, live := raceFamily(t, indexed, renewed)
					ctx := context.Background()
					var ir *session.IndexedRecord
					var endErr error
					hs.hook = once(point, func() { ir, endErr = other.EndFamily(ctx, "f") })
					meta := userRecord("alice").Meta
					meta.Family = "f"
					_, err := s.Rotate(ctx, &session.Rotation{OldKey: live, NewKey: "new", Meta: meta})
					require.ErrorIs(t, err, session.ErrNotFound, "a renewal racing the end of its family")
					require.NoError(t, endErr, "the family had a live session throughout")
					assert.Contains(t, []string{live, "new"}, ir.Key)
					assert.Equal(t, "alice", ir.Meta.UserID)
					dead(t, s, live, "the old key")
					dead(t, s, "new", "the new key")
					_, _, err = s.Family(ctx, "f")
					require.ErrorIs(t, err, session.ErrNotFound)
				})
			})
		}
	}
}

// TestRaceFamilyRotateDuringEnd lands a renewal at each point of
// EndFamily: for a renewed family, before its mark (the renewal succeeds
// and EndFamily ends its new record) and between the mark and the end of
// the record (the renewal fails); for a family never renewed, which
// EndFamily ends without a mark, before it ends the record (the renewal
// succeeds, and EndFamily, finding the record renewed, ends the new one).
func TestRaceFamilyRotateDuringEnd(t *testing.T) {
	for _, point := range []string{"endfamily:mark", "endfamily:end"} {
		for _, renewed := range []bool{true, false} {
			if point == "endfamily:mark" && !renewed {
				continue // no mark: see the doc comment
			}
			t.Run(fmt.Sprintf("%s/renewed=%v", point, renewed), func(t *testing.T) {
				bothStores(t, func(t *testing.T, indexed bool) {
					s, other, hs, _, live := raceFamily(t, indexed, renewed)
					ctx := context.Background()
					var rotErr error
					hs.hook = once(point, func() {
						meta := userRecord("alice").Meta
						meta.Family = "f"
						_, rotErr = other.Rotate(ctx, &session.Rotation{OldKey: live, NewKey: "new", Meta: meta})
					})
					ir, err := s.EndFamily(ctx, "f")
					require.NoError(t, err)
					if point == "endfamily:mark" || !renewed {
						require.NoError(t, rotErr, "a renewal before the mark")
						assert.Equal(t, "new", ir.Key, "EndFamily ends the renewed record")
					} else {
						require.ErrorIs(t, rotErr, session.ErrNotFound, "a renewal after the mark")
						assert.Equal(t, live, ir.Key)
					}
					dead(t, s, live, "the old key")
					dead(t, s, "new", "the new key")
					_, _, err = s.Family(ctx, "f")
					require.ErrorIs(t, err, session.ErrNotFound)
				})
			})
		}
	}
}

// TestRaceFamilyMarkEvicted: EndFamily lands while a renewal is between
// retiring the old key and naming the new one, and then Memcached evicts
// EndFamily's mark (and the renewal's tombstone) before the renewal names
// its key. The renewal still cannot leave a live record: for a family with
// an anchor its cas finds the anchor gone; for one never renewed its add
// succeeds, but EndFamily already ended the record it names.
func TestRaceFamilyMarkEvicted(t *testing.T) {
	for _, renewed := range []bool{true, false} {
		t.Run(fmt.Sprintf("renewed=%v", renewed), func(t *testing.T) {
			bothStores(t, func(t *testing.T, indexed bool) {
				s, other, hs, c, live := raceFamily(t, indexed, renewed)
				ctx := context.Background()
				var endErr error
				hs.hook = once("rotate:anchor", func() {
					_, endErr = other.EndFamily(ctx, "f")
					require.NoError(t, c.Delete(hs.anchorKey("f")))
					require.NoError(t, c.Delete(hs.itemKey(live)))
				})
				meta := userRecord("alice").Meta
				meta.Family = "f"
				_, rotErr := s.Rotate(ctx, &session.Rotation{OldKey: live, NewKey: "new", Meta: meta})
				require.NoError(t, endErr)
				if renewed {
					require.ErrorIs(t, rotErr, session.ErrNotFound)
				}
				dead(t, s, "new", "a renewal whose family was ended while it ran")
				_, _, err := s.Family(ctx, "f")
				require.ErrorIs(t, err, session.ErrNotFound)
			})
		})
	}
}

// TestRaceFamilyRounds races a chain of renewals against EndFamily, many
// rounds, without hooks: whichever lands first, no record of the family
// is live afterwards.
func TestRaceFamilyRounds(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, other, _, _ := familyPair(t, indexed)
		ctx := context.Background()
		var renewedAll, endedFirst int
		for round := range 300 {
			f := fmt.Sprint("f", round)
			require.NoError(t, s.(session.Store).Create(ctx, f, userRecord("alice")))
			start := make(chan struct{})
			done := make(chan []string)
			go func() {
				<-start
				var keys []string
				old := f
				for i := range 4 {
					nk := fmt.Sprint(f, "-", i)
					meta := userRecord("alice").Meta
					meta.Family = f
					if _, err := s.Rotate(ctx, &session.Rotation{OldKey: old, NewKey: nk, Meta: meta}); err != nil {
						assert.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
						break
					}
					keys = append(keys, nk)
					old = nk
				}
				done <- keys
			}()
			close(start)
			_, err := other.EndFamily(ctx, f)
			require.NoError(t, err, "round %d: the family had a live session throughout", round)
			keys := <-done
			if len(keys) == 4 {
				renewedAll++
			} else {
				endedFirst++
			}
			for _, k := range append(keys, f) {
				_, err := s.(session.Store).Load(ctx, k)
				require.ErrorIs(t, err, session.ErrNotFound, "round %d: %s escaped the end of its family", round, k)
			}
			_, _, err = s.Family(ctx, f)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
		}
		t.Logf("300 rounds: renewals all first %d, end during or before %d", renewedAll, endedFirst)
	})
}

// TestManagerReuseAfterEviction is the finding of issue 23 (#4) through
// the Manager's header sessions (refresh tokens): a thief rotates a stolen
// token; Memcached evicts the retired token's tombstone, or separately the
// family's anchor; then the victim presents the retired token. The
// thief's session must not survive: the victim's reuse ends it (found by
// family, the tombstone gone), or it was already ended (its anchor gone).
func TestManagerReuseAfterEviction(t *testing.T) {
	for _, evict := range []string{"tombstone", "anchor", "both"} {
		t.Run(evict, func(t *testing.T) {
			bothStores(t, func(t *testing.T, indexed bool) {
				s, _, hs, c := familyPair(t, indexed)
				m, err := session.New(session.Config{Store: s.(session.Store), Cookie: session.CookieConfig{Name: "sid", AllowInsecure: true}})
				require.NoError(t, err)
				ctx := context.Background()
				req := httptest.NewRequest("POST", "/token", nil)
				victim, err := m.Issue(ctx, req, "alice", session.Lifetimes{})
				require.NoError(t, err)
				thief, err := m.Rotate(ctx, req, victim.Token, 0) // the stolen token, used first
				require.NoError(t, err)
				thief, err = m.Rotate(ctx, req, thief.Token, 0)
				require.NoError(t, err)
				r, err := s.(session.Store).Load(ctx, thief.Handle)
				require.NoError(t, err)
				require.NotEmpty(t, r.Family)
				if evict != "anchor" {
					require.NoError(t, c.Delete(hs.itemKey(victim.Handle)))
				}
				if evict != "tombstone" {
					require.NoError(t, c.Delete(hs.anchorKey(r.Family)))
				}

				_, err = m.Rotate(ctx, req, victim.Token, 0)
				require.ErrorIs(t, err, session.ErrNotFound, "the victim's retired token")
				_, err = m.Rotate(ctx, req, thief.Token, 0)
				require.ErrorIs(t, err, session.ErrNotFound, "the thief's session survived the victim's reuse (%s evicted)", evict)
				_, err = s.(session.Store).Load(ctx, thief.Handle)
				require.ErrorIs(t, err, session.ErrNotFound)
				if evict == "tombstone" {
					require.ErrorIs(t, err, session.ErrNotFound)
					var tomb *session.Tombstone
					require.ErrorAs(t, err, &tomb, "the thief's record was ended by the reuse, not lost")
					require.Equal(t, session.EndDestroyed, tomb.Reason)
				}
			})
		})
	}
}

// TestEndUnknownFamilyWritesNothing: ending a family the store never saw
// (what a forged refresh token's family part asks) writes no item, so a
// client cannot grow the store for free.
func TestEndUnknownFamilyWritesNothing(t *testing.T) {
	for _, indexed := range []bool{true, false} {
		s, _, hs, c := familyPair(t, indexed)
		for range 20 {
			family := fmt.Sprintf("forged-%d", time.Now().UnixNano())
			_, err := s.EndFamily(context.Background(), family)
			require.ErrorIs(t, err, session.ErrNotFound)
			_, err = c.Get(hs.anchorKey(family))
			require.ErrorIs(t, err, memcache.ErrCacheMiss, "an ended mark for a family that never existed")
		}
	}
}
