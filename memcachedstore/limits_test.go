package memcachedstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLongExpiry: a session that lives more than 30 days is stored with an
// absolute expiration; sent as relative seconds, Memcached would read it as
// a date in 1970 and drop it at once.
func TestLongExpiry(t *testing.T) {
	s := newStore(t, server(t, memcachedtest.Options{}))
	ctx := context.Background()
	for _, d := range []time.Duration{29 * 24 * time.Hour, 31 * 24 * time.Hour, 400 * 24 * time.Hour} {
		k := storetest.Key()
		require.NoError(t, s.Create(ctx, k, storetest.Record(d, map[string][]byte{"a": []byte("1")})))
		_, err := s.Load(ctx, k)
		require.NoError(t, err, "a session expiring in %v", d)
		require.NoError(t, s.Update(ctx, k, &session.Delta{Expires: time.Now().Add(d + time.Hour)}))
		_, err = s.Load(ctx, k)
		require.NoError(t, err, "a session moved to expire in %v", d+time.Hour)
	}
}

// TestAnyPrefix: prefixes that are not legal Memcached keys, or too long,
// still work.
func TestAnyPrefix(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	ctx := context.Background()
	for _, p := range []string{"with space:", strings.Repeat("long", 100), "ctl\r\n", ""} {
		s := memcachedstore.New(client(srv), memcachedstore.WithKeyPrefix(p))
		k := storetest.Key()
		require.NoError(t, s.Create(ctx, k, storetest.Record(time.Minute, map[string][]byte{"p": []byte(p)})), "prefix %q", p)
		r, err := s.Load(ctx, k)
		require.NoError(t, err, "prefix %q", p)
		assert.Equal(t, p, string(r.Values["p"]))
	}
}

// TestTooLarge: a session that does not fit in one item is a clear error
// (ErrTooLarge, a store error), and a refused update leaves the session as
// it was.
func TestTooLarge(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	s := newStore(t, srv)
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), memcachedstore.DefaultMaxItemSize)

	err := s.Create(ctx, storetest.Key(), storetest.Record(time.Minute, map[string][]byte{"big": big}))
	require.ErrorIs(t, err, memcachedstore.ErrTooLarge)
	require.ErrorIs(t, err, session.ErrStore)

	k := storetest.Key()
	require.NoError(t, s.Create(ctx, k, storetest.Record(time.Minute, map[string][]byte{"a": []byte("1")})))
	err = s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"big": big}})
	require.ErrorIs(t, err, memcachedstore.ErrTooLarge)
	r, err := s.Load(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, r.Values, "a refused update changed the session")

	// Under the limit of the option but over the server's (-I 1m): the
	// server refuses, and that is a store error too, never a silent loss.
	loose := newStore(t, srv, memcachedstore.WithMaxItemSize(4<<20))
	err = loose.Create(ctx, storetest.Key(), storetest.Record(time.Minute, map[string][]byte{"big": append(big, big...)}))
	require.ErrorIs(t, err, session.ErrStore)

	// With a server that takes larger items, the option lets them through.
	srv2 := server(t, memcachedtest.Options{ItemSize: "4m"})
	s2 := newStore(t, srv2, memcachedstore.WithMaxItemSize(4<<20))
	k2 := storetest.Key()
	require.NoError(t, s2.Create(ctx, k2, storetest.Record(time.Minute, map[string][]byte{"big": append(big, big...)})))
	r, err = s2.Load(ctx, k2)
	require.NoError(t, err)
	assert.Len(t, r.Values["big"], 2*len(big))
}

// TestContention: many writers on one session. With the default bound every
// write lands; with a bound of one attempt some fail, with ErrContention,
// and exactly the writes that reported success are in the session: a
// failed write is never half-applied and a successful one never lost.
func TestContention(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	ctx := context.Background()
	for _, retries := range []int{memcachedstore.DefaultMaxRetries, 1} {
		s := newStore(t, srv, memcachedstore.WithMaxRetries(retries))
		k := storetest.Key()
		require.NoError(t, s.Create(ctx, k, storetest.Record(time.Minute, nil)))
		const n = 128
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Update(ctx, k, &session.Delta{Set: map[string][]byte{fmt.Sprint(i): []byte("v")}})
			}()
		}
		close(start)
		wg.Wait()
		r, err := s.Load(ctx, k)
		require.NoError(t, err)
		failed := 0
		for i, err := range errs {
			_, stored := r.Values[fmt.Sprint(i)]
			if err == nil {
				require.True(t, stored, "retries %d: write %d reported success but was lost", retries, i)
				continue
			}
			failed++
			require.ErrorIs(t, err, memcachedstore.ErrContention, "retries %d", retries)
			require.True(t, errors.Is(err, session.ErrStore))
			require.False(t, stored, "retries %d: write %d failed but was applied", retries, i)
		}
		t.Logf("retries %d: %d of %d writes failed", retries, failed, n)
		if retries == memcachedstore.DefaultMaxRetries {
			require.Zero(t, failed)
		} else {
			require.NotZero(t, failed, "one attempt each for %d concurrent writers never conflicted: the test shows nothing", n)
		}
	}
}
