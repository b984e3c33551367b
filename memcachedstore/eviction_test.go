package memcachedstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEviction fills a memcached started with -m 1 with far more sessions
// than fit. Memcached evicts whole items, and a session is one item, so
// after eviction every request is its own user's session or a fresh
// anonymous one (logged out): never another user's session, never a
// half-session (user without its values), and never a session that was
// logged out, even when its tombstone was evicted.
//
// On Store, users are also logged out everywhere (RevokeUser) before
// the memory fills, so the revocation's user item may be evicted too: their
// sessions must stay ended.
func TestEviction(t *testing.T) {
	t.Run("Store", func(t *testing.T) {
		srv := server(t, memcachedtest.Options{MemoryMB: 1, ItemSize: "512k"}) // -I at most half of -m
		testEviction(t, srv, newApp(t, newStore(t, srv, memcachedstore.WithMaxItemSize(512<<10))))
	})
	t.Run("UnindexedStore", func(t *testing.T) {
		srv := server(t, memcachedtest.Options{MemoryMB: 1, ItemSize: "512k"})
		testEviction(t, srv, newApp(t, newUnindexed(t, srv, memcachedstore.WithMaxItemSize(512<<10))))
	})
}

func testEviction(t *testing.T, srv *memcachedtest.Server, a *app) {
	_, indexed := a.m.Store().(session.UserIndex)
	pad := strings.Repeat("p", 4<<10)

	const users = 800 // about 4 KB each: several times the memory limit
	browsers := make([]*browser, users)
	var loggedOut []string
	for i := range browsers {
		b := a.browser()
		browsers[i] = b
		status, _ := b.do("POST", fmt.Sprintf("/login?u=user%d&pad=%s", i, pad))
		require.Equal(t, 200, status)
		switch {
		case i%10 == 0: // some log out again, leaving a tombstone
			token := b.token
			status, _ = b.do("POST", "/logout")
			require.Equal(t, 200, status)
			loggedOut = append(loggedOut, token)
		case i%10 == 5 && indexed: // some are logged out everywhere
			require.NoError(t, a.m.RevokeUser(t.Context(), fmt.Sprintf("user%d", i)))
			loggedOut = append(loggedOut, b.token)
		}
	}
	evictions := srv.Stats(t)["evictions"]
	require.Positive(t, evictions, "nothing was evicted: the test shows nothing")

	var alive, anonymous int
	for i, b := range browsers {
		if i%10 == 0 || i%10 == 5 && indexed {
			continue
		}
		status, user, owner := b.whoami()
		require.Equal(t, 200, status, "browser %d", i)
		switch user {
		case "":
			anonymous++
			assert.Empty(t, owner, "browser %d: an anonymous session with another session's values", i)
		case fmt.Sprintf("user%d", i):
			alive++
			assert.Equal(t, user, owner, "browser %d: a session without its own values", i)
		default:
			t.Fatalf("browser %d (user%d) got user %q's session", i, i, user)
		}
		// A write after eviction is refused by cas, never re-creates.
		status, _ = b.do("POST", "/set?v=1")
		require.Less(t, status, 500, "browser %d", i)
	}
	for i, token := range loggedOut {
		b := a.browser()
		b.token = token
		status, user, owner := b.whoami()
		require.Equal(t, 200, status)
		require.Empty(t, user, "logged-out session %d is alive again", i)
		require.Empty(t, owner)
	}
	t.Logf("-m 1, %d logins of ~4 KB: %d evictions, %d sessions still alive, %d logged out by eviction", users, evictions, alive, anonymous)
	require.Positive(t, anonymous, "no session was evicted")
}
