package memcachedstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
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

// TestEvictionConcurrent runs users logging in, reading, writing and
// logging out everywhere concurrently while a filler pushes memcached (-m 1)
// into evicting, for many rounds. Every answer is the asking user's own
// session or an anonymous one, and a session ended by log-out-everywhere
// never answers again, whatever was evicted meanwhile.
func TestEvictionConcurrent(t *testing.T) {
	// A plain LRU, so the filler's items push out sessions a few
	// milliseconds idle (the segmented LRU would keep them warm).
	srv := server(t, memcachedtest.Options{MemoryMB: 1, ItemSize: "512k", Args: []string{"-o", "no_lru_maintainer"}})
	a := newApp(t, newStore(t, srv, memcachedstore.WithMaxItemSize(512<<10)))
	filler := client(srv)
	stop := make(chan struct{})
	var fill sync.WaitGroup
	for f := range 4 {
		fill.Add(1)
		go func() {
			defer fill.Done()
			// Memcached evicts within a slab class: junk around the
			// sessions' size (about 2.3 KB), and now and then the users'
			// items' (about 150 bytes), reaches them.
			junk := make([]byte, 2800)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = filler.Set(&memcache.Item{Key: fmt.Sprint("junk", f, ":", i), Value: junk[:junkSize(i)]})
			}
		}()
	}

	// At least minRounds each, and on until some session was evicted under
	// the requests (a slow machine fills more slowly), at most maxRounds.
	const users, minRounds, maxRounds = 8, 20, 200
	var sawEviction atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var anonymous, revoked int
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("user", u)
			b := a.browser()
			for r := 0; r < maxRounds && (r < minRounds || !sawEviction.Load()); r++ {
				time.Sleep(50 * time.Millisecond) // the fillers push the session down the LRU meanwhile
				if b.token == "" {
					if status, _ := b.do("POST", "/login?u="+name+"&pad="+strings.Repeat("p", 2048)); status != 200 {
						t.Errorf("%s: login answered %d", name, status)
						return
					}
				}
				status, user, owner := b.whoami()
				if status != 200 || (user != "" && (user != name || owner != name)) {
					t.Errorf("%s round %d: %d, user %q owner %q", name, r, status, user, owner)
					return
				}
				if user == "" {
					sawEviction.Store(true)
					mu.Lock()
					anonymous++
					mu.Unlock()
					b.token = ""
					continue
				}
				if status, _ := b.do("POST", "/set?v=x"); status >= 500 {
					t.Errorf("%s round %d: write answered %d", name, r, status)
					return
				}
				if r%5 == 4 {
					old := b.token
					if err := a.m.RevokeUser(context.Background(), name); err != nil {
						t.Errorf("%s: revoke: %v", name, err)
						return
					}
					stale := a.browser()
					stale.token = old
					if _, user, _ := stale.whoami(); user != "" {
						t.Errorf("%s round %d: a session logged out everywhere answered as %q", name, r, user)
						return
					}
					mu.Lock()
					revoked++
					mu.Unlock()
					b.token = ""
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	fill.Wait()
	evictions := srv.Stats(t)["evictions"]
	t.Logf("%d users, %d+ rounds: %d evictions, %d requests found their session evicted, %d log-outs everywhere", users, minRounds, evictions, anonymous, revoked)
	require.Positive(t, evictions, "nothing was evicted: the test shows nothing")
	require.Positive(t, anonymous, "no session was evicted under the requests: the test shows nothing")
}

// junkSize cycles through sizes from 1.9 to 2.7 KB, with a 150-byte item
// one time in ten.
func junkSize(i int) int {
	if i%10 == 0 {
		return 150
	}
	return 1900 + i%9*100
}
