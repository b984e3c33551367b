package memcachedstore_test

import (
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
)

// server starts a private memcached for the test (skipped when memcached is
// not installed, a failure under SESSION_TEST_REQUIRE_REAL=1).
func server(t testing.TB, o memcachedtest.Options) *memcachedtest.Server {
	t.Helper()
	return memcachedtest.Start(t, o)
}

// client returns a gomemcache client for srv, with room for the suite's
// concurrency.
func client(srv *memcachedtest.Server) *memcache.Client {
	c := memcache.New(srv.Addr)
	c.MaxIdleConns = 128
	c.Timeout = 2 * time.Second
	return c
}

// newStore returns a Store on srv under a fresh prefix, so tests sharing a
// server never see each other's keys.
func newStore(t testing.TB, srv *memcachedtest.Server, opts ...memcachedstore.Option) *memcachedstore.Store {
	t.Helper()
	opts = append([]memcachedstore.Option{memcachedstore.WithKeyPrefix("t" + t.Name() + ":")}, opts...)
	return memcachedstore.New(client(srv), opts...)
}

// newUnindexed is newStore for an UnindexedStore.
func newUnindexed(t testing.TB, srv *memcachedtest.Server, opts ...memcachedstore.Option) *memcachedstore.UnindexedStore {
	t.Helper()
	opts = append([]memcachedstore.Option{memcachedstore.WithKeyPrefix("t" + t.Name() + ":")}, opts...)
	return memcachedstore.NewUnindexed(client(srv), opts...)
}
