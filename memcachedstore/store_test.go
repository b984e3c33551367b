package memcachedstore_test

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
)

// TestConformance runs the public store suite against a real memcached.
func TestConformance(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, srv) })
}

// TestIndexedConformance runs the public store suite, the user index and
// the cap included, against IndexedStore on a real memcached.
func TestIndexedConformance(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	storetest.Run(t, func(t *testing.T) session.Store {
		return memcachedstore.NewIndexed(client(srv), memcachedstore.WithPrefix("t"+t.Name()+":"))
	})
}
