package memcachedstore_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/require"
)

// tripCounter counts round trips on the connections it dials: a write that
// follows a read (or opens the connection) starts one.
type tripCounter struct{ n atomic.Int64 }

type countingConn struct {
	net.Conn
	c       *tripCounter
	pending bool // a request was written and its answer not yet read
}

func (cc *countingConn) Write(p []byte) (int, error) {
	if !cc.pending {
		cc.pending = true
		cc.c.n.Add(1)
	}
	return cc.Conn.Write(p)
}

func (cc *countingConn) Read(p []byte) (int, error) {
	cc.pending = false
	return cc.Conn.Read(p)
}

// countingClient returns a client for srv whose round trips c counts.
func countingClient(srv *memcachedtest.Server, c *tripCounter) *memcache.Client {
	mc := client(srv)
	var d net.Dialer
	mc.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, c: c}, nil
	}
	return mc
}

// TestUnindexedRoundTrips: on UnindexedStore a read-only request (Load) is
// one round trip, a request that writes (Load, then Update) two, a logout
// (Load, then Delete) two.
func TestUnindexedRoundTrips(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	var trips tripCounter
	s := memcachedstore.NewUnindexed(countingClient(srv, &trips))
	ctx := context.Background()
	k := storetest.Key()
	require.NoError(t, s.Create(ctx, k, storetest.Record(time.Minute, map[string][]byte{"a": []byte("1")})))

	count := func(name string, want int64, fn func()) {
		t.Helper()
		before := trips.n.Load()
		fn()
		require.Equal(t, want, trips.n.Load()-before, name)
	}
	count("Create", 1, func() {
		require.NoError(t, s.Create(ctx, storetest.Key(), storetest.Record(time.Minute, nil)))
	})
	count("read-only request: Load", 1, func() {
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
	})
	count("write request: Load and Update", 2, func() {
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"b": []byte("2")}}))
	})
	count("Update without a Load: gets and cas", 2, func() {
		require.NoError(t, s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"c": []byte("3")}}))
	})
	count("renewal: Load and Rotate (add, cas)", 3, func() {
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
		nk := storetest.Key()
		_, err = s.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: nk, Meta: session.Meta{LastSeen: time.Now(), Expires: time.Now().Add(time.Minute)}})
		require.NoError(t, err)
		k = nk
	})
	count("logout: Load and Delete", 2, func() {
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, k))
	})
}

// TestRoundTrips: on Store an anonymous session costs what it costs on
// UnindexedStore; a user's session reads its user's item too: a read-only
// request is two round trips, a write four.
func TestRoundTrips(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	var trips tripCounter
	s := memcachedstore.New(countingClient(srv, &trips))
	ctx := context.Background()
	anon, user := storetest.Key(), storetest.Key()
	require.NoError(t, s.Create(ctx, anon, storetest.Record(time.Minute, nil)))
	_, err := s.Rotate(ctx, &session.Rotation{NewKey: user, Meta: session.Meta{UserID: "u", LastSeen: time.Now(), Expires: time.Now().Add(time.Minute)}})
	require.NoError(t, err)

	count := func(name string, want int64, fn func()) {
		t.Helper()
		before := trips.n.Load()
		fn()
		require.Equal(t, want, trips.n.Load()-before, name)
	}
	count("anonymous read-only request", 1, func() {
		_, err := s.Load(ctx, anon)
		require.NoError(t, err)
	})
	count("anonymous write request", 2, func() {
		_, err := s.Load(ctx, anon)
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, anon, &session.Delta{Set: map[string][]byte{"a": []byte("1")}}))
	})
	count("logged-in read-only request", 2, func() {
		_, err := s.Load(ctx, user)
		require.NoError(t, err)
	})
	count("logged-in write request", 4, func() {
		_, err := s.Load(ctx, user)
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, user, &session.Delta{Set: map[string][]byte{"a": []byte("1")}}))
	})
	count("log out everywhere", 2, func() { require.NoError(t, s.RevokeUser(ctx, "u")) })
}

// TestFamilyRoundTrips: a renewed session (its family is not its key)
// reads its family's anchor in the round trip that reads its user's item,
// so on Store a logged-in renewed session costs what a logged-in session
// costs; on UnindexedStore, and for an anonymous renewed session, the
// anchor is one more round trip. Family and EndFamily cost the same after
// one renewal and after 50: no tombstone is followed.
func TestFamilyRoundTrips(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	var trips tripCounter
	s := memcachedstore.New(countingClient(srv, &trips))
	u := memcachedstore.NewUnindexed(countingClient(srv, &trips), memcachedstore.WithKeyPrefix("u:"))
	ctx := context.Background()
	count := func(name string, want int64, fn func()) {
		t.Helper()
		before := trips.n.Load()
		fn()
		require.Equal(t, want, trips.n.Load()-before, name)
	}
	renew := func(st session.Rotator, old, user, family string) string {
		nk := storetest.Key()
		_, err := st.Rotate(ctx, &session.Rotation{OldKey: old, NewKey: nk, Meta: session.Meta{
			UserID: user, Family: family, LastSeen: time.Now(), Expires: time.Now().Add(time.Minute)}})
		require.NoError(t, err)
		return nk
	}
	start := func(st session.Store, user string) string {
		k := storetest.Key()
		r := storetest.Record(time.Minute, nil)
		r.UserID, r.Family = user, k
		require.NoError(t, st.Create(ctx, k, r))
		return k
	}

	fam := start(s, "u")
	k := renew(s, fam, "u", fam)
	count("Store: logged-in renewed read-only request", 2, func() {
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
	})
	count("Store: logged-in renewed write request", 4, func() {
		_, err := s.Load(ctx, k)
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"a": []byte("1")}}))
	})
	anon := start(s, "")
	ak := renew(s, anon, "", anon)
	count("Store: anonymous renewed read-only request", 2, func() {
		_, err := s.Load(ctx, ak)
		require.NoError(t, err)
	})
	count("Store: anonymous renewed write request", 4, func() {
		_, err := s.Load(ctx, ak)
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, ak, &session.Delta{Set: map[string][]byte{"a": []byte("1")}}))
	})
	ufam := start(u, "u")
	uk := renew(u, ufam, "u", ufam)
	count("UnindexedStore: renewed read-only request", 2, func() {
		_, err := u.Load(ctx, uk)
		require.NoError(t, err)
	})
	count("UnindexedStore: renewed write request", 4, func() {
		_, err := u.Load(ctx, uk)
		require.NoError(t, err)
		require.NoError(t, u.Update(ctx, uk, &session.Delta{Set: map[string][]byte{"a": []byte("1")}}))
	})

	var familyTrips, endTrips []int64
	for _, n := range []int{1, 50} {
		f := start(s, "chain")
		k := f
		for range n {
			k = renew(s, k, "chain", f)
		}
		before := trips.n.Load()
		got, _, err := s.Family(ctx, f)
		require.NoError(t, err)
		require.Equal(t, k, got)
		familyTrips = append(familyTrips, trips.n.Load()-before)
		before = trips.n.Load()
		ir, err := s.EndFamily(ctx, f)
		require.NoError(t, err)
		require.Equal(t, k, ir.Key)
		endTrips = append(endTrips, trips.n.Load()-before)
	}
	require.Equal(t, familyTrips[0], familyTrips[1], "Family after 1 and after 50 renewals")
	require.Equal(t, endTrips[0], endTrips[1], "EndFamily after 1 and after 50 renewals")
	t.Logf("Family: %d round trips, EndFamily: %d (a user's renewed session)", familyTrips[0], endTrips[0])
}
