package session_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/storetest"
)

// TestRedisRecoveryAfterOutage measures, for go-redis's default client
// options and for the ones the README recommends (DialerRetries: 1,
// DialTimeout: 250ms), how long a store call takes to fail while Redis is
// down, and how long after Redis is back the first call succeeds. go-redis
// opens a dial circuit breaker after PoolSize failed dials and probes the
// server once a second, so up to about a second of errors after the server
// returns is expected; the test bounds it at three seconds and reports it.
func TestRedisRecoveryAfterOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("recovery test: skipped with -short")
	}
	for _, tc := range []struct {
		name string
		opt  func(addr string) *redis.Options
	}{
		{"defaults", func(addr string) *redis.Options { return &redis.Options{Addr: addr} }},
		{"recommended", func(addr string) *redis.Options {
			return &redis.Options{Addr: addr, DialerRetries: 1, DialTimeout: 250 * time.Millisecond}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.StartServer(t)
			c := redis.NewClient(tc.opt(srv.Addr))
			t.Cleanup(func() { _ = c.Close() })
			st := session.NewRedisStore(c)
			ctx := context.Background()
			key := storetest.Key()
			require.NoError(t, st.Create(ctx, key, storetest.Record(time.Hour, nil)))

			srv.Kill()
			var failing []time.Duration
			for start := time.Now(); time.Since(start) < 2*time.Second; {
				t0 := time.Now()
				_, err := st.Load(ctx, key)
				require.ErrorIs(t, err, session.ErrStore, "an outage is a store error, never not-found")
				failing = append(failing, time.Since(t0))
			}
			sort.Slice(failing, func(i, j int) bool { return failing[i] < failing[j] })

			srv.Restart() // empty: the key is gone, so success is ErrNotFound
			back := time.Now()
			for {
				_, err := st.Load(ctx, key)
				if !errors.Is(err, session.ErrStore) {
					require.ErrorIs(t, err, session.ErrNotFound)
					break
				}
				require.Less(t, time.Since(back), 3*time.Second, "the store did not recover: %v", err)
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("%s: %d failed calls during the outage, median %v, slowest %v; first success %v after Redis was back",
				tc.name, len(failing), failing[len(failing)/2].Round(time.Millisecond), failing[len(failing)-1].Round(time.Millisecond),
				time.Since(back).Round(time.Millisecond))
		})
	}
}
