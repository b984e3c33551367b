package memcachedstore_test

import (
	"testing"

	"github.com/sessionkit/session/internal/legacymovetest"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
)

// TestLegacyCookieNameMove: a session the earlier release (cookie
// __Host-sid) stored in Memcached moves under __Host-Http-sid with a new ID
// on the next page navigation, not on a fetch; the old ID is retired, the
// device is listed once, and the move is no new session for
// MaxSessionsPerUser (legacymovetest.Run).
func TestLegacyCookieNameMove(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	legacymovetest.Run(t, memcachedstore.New(client(srv), memcachedstore.WithKeyPrefix("legacymove:")), "legacy")
}
