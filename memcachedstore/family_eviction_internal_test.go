package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/require"
)

// TestFamilyEvictionReal is the finding of issue 23 (#4) on a real
// memcached with -m 1: ordinary traffic (a filler writing items of many
// sizes) evicts renewal tombstones, family anchors and records at random.
// Whatever was evicted, no family's live session survives: EndFamily ends
// it, or it was already not found (its anchor gone). The test goes on
// until both a tombstone and an anchor were evicted from under a live
// family, so it shows both cases.
func TestFamilyEvictionReal(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		srv := memcachedtest.Start(t, memcachedtest.Options{MemoryMB: 1, ItemSize: "512k", Args: []string{"-o", "no_lru_maintainer"}})
		c := memcache.New(srv.Addr)
		c.Timeout = 2 * time.Second
		var s session.Rotator
		var b *base
		if indexed {
			x := New(c, WithKeyPrefix("ev:"), WithMaxItemSize(512<<10))
			s, b = x, x.s
		} else {
			u := NewUnindexed(c, WithKeyPrefix("ev:"), WithMaxItemSize(512<<10))
			s, b = u, u.s
		}
		st := s.(session.Store)
		ctx := context.Background()
		pad := []byte(strings.Repeat("p", 1500))
		filler := memcache.New(srv.Addr)

		type family struct{ name, retired, live string }
		var tombGone, anchorGone, walkLost, ended, alreadyDead int
		// Memcached evicts within a slab class: the filler writes items the
		// size of a tombstone and of an anchor (same key and value lengths),
		// as other sessions' traffic would.
		var tombSize, anchorSize int
		junk := 0
		for round := 0; round < 20 && (walkLost == 0 || anchorGone == 0); round++ {
			fams := make([]family, 0, 60)
			for i := range cap(fams) {
				f := fmt.Sprintf("r%d-f%d", round, i)
				rec := userRecord(fmt.Sprint("user", i))
				rec.Values["pad"] = pad
				require.NoError(t, st.Create(ctx, f, rec))
				k1 := renewIn(t, s, f, rec.UserID, f)  // the victim's key, retired
				k2 := renewIn(t, s, k1, rec.UserID, f) // the thief's
				fams = append(fams, family{f, k1, k2})
				if tombSize == 0 {
					got, err := c.GetMulti([]string{b.itemKey(k1), b.anchorKey(f)})
					require.NoError(t, err)
					tombSize, anchorSize = len(got[b.itemKey(k1)].Value), len(got[b.anchorKey(f)].Value)
				}
				// Per round, more than a slab page holds (about 5,000 such
				// items): the families of the first part of a round lose
				// their small items, those of the last part keep them.
				for i := range 300 {
					size := tombSize
					if i%2 == 0 {
						size = anchorSize
					}
					key := fmt.Sprintf("junk%d%s", junk, strings.Repeat("j", len(b.itemKey(k1))))[:len(b.itemKey(k1))]
					_ = filler.Set(&memcache.Item{Key: key, Value: make([]byte, size)})
					junk++
				}
			}
			for _, f := range fams {
				got, err := c.GetMulti([]string{b.itemKey(f.retired), b.anchorKey(f.name), b.itemKey(f.live)})
				require.NoError(t, err)
				recordThere := got[b.itemKey(f.live)] != nil
				tombThere, anchorThere := got[b.itemKey(f.retired)] != nil, got[b.anchorKey(f.name)] != nil
				if recordThere && !tombThere {
					tombGone++
				}
				if recordThere && !anchorThere {
					anchorGone++
					_, err := st.Load(ctx, f.live)
					require.ErrorIs(t, err, session.ErrNotFound, "%s: a renewed record whose anchor was evicted is live", f.name)
				}
				_, err = st.Load(ctx, f.live)
				wasLive := err == nil
				var tomb *session.Tombstone
				if _, terr := st.Load(ctx, f.retired); wasLive && !errors.As(terr, &tomb) {
					// The victim's retired key reads as unknown while the
					// thief's renewal is live: walking renewal tombstones
					// (the Manager before families) stops here.
					walkLost++
				}
				ir, err := s.EndFamily(ctx, f.name)
				switch {
				case err == nil:
					require.Equal(t, f.live, ir.Key, f.name)
					ended++
				case errors.Is(err, session.ErrNotFound):
					require.False(t, wasLive && anchorThere && tombThere, "%s: a live family with all its items was not found", f.name)
					alreadyDead++
				default:
					require.NoError(t, err, f.name)
				}
				_, err = st.Load(ctx, f.live)
				require.ErrorIs(t, err, session.ErrNotFound, "%s: the thief's session survived EndFamily (tombstone there %v, anchor there %v)", f.name, tombThere, anchorThere)
			}
		}
		t.Logf("-m 1: %d evictions; with the live record there: %d tombstones and %d anchors evicted; "+
			"%d live sessions unreachable from the victim's key; %d families ended, %d already dead",
			srv.Stats(t)["evictions"], tombGone, anchorGone, walkLost, ended, alreadyDead)
		require.Positive(t, walkLost, "no live session lost its way from the victim's key: the test shows nothing")
		require.Positive(t, anchorGone, "no anchor of a live family was evicted: the test shows nothing")
	})
}
