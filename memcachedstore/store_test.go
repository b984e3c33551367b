package memcachedstore_test

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/storetest"
)

// TestConformance runs the public store suite, the user index and the cap
// included, against Store on a real memcached.
func TestConformance(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, srv) })
}

// TestUnindexedConformance runs the public store suite against
// UnindexedStore on a real memcached.
func TestUnindexedConformance(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	storetest.Run(t, func(t *testing.T) session.Store { return newUnindexed(t, srv) })
}
