package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A logged-in user back after a weekend (far past twice the idle timeout)
// is told "expired", not "unknown", by the default TombstonePeriod; past
// a configured shorter period the ID is unknown, yet still not counted as
// brute force.
func TestTombstonePeriodKeepsReturningUsersExpired(t *testing.T) {
	for _, tc := range []struct {
		name   string
		period time.Duration
		want   string
	}{
		{"Default", 0, session.EventExpiredIdle},
		{"Short", 2 * time.Hour, session.EventRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			store := session.NewMemoryStore()
			t.Cleanup(func() { _ = store.Close() })
			e := newEnv(t, session.Config{Store: store, Clock: clk.Now, IdleTimeout: time.Hour,
				TombstonePeriod: tc.period, BruteForce: session.BruteForceConfig{Threshold: 1, Block: true}}, testApp())
			c := e.client()
			res, _ := c.post("/login?u=weekend")
			require.Equal(t, 200, res.StatusCode)
			clk.Advance(60 * time.Hour) // Friday evening to Monday morning
			res, body := c.get("/whoami")
			require.Equal(t, 200, res.StatusCode)
			assert.Empty(t, body)
			kinds := e.events.kinds()
			assert.Contains(t, kinds, tc.want)
			assert.NotContains(t, kinds, session.EventBruteForce)
		})
	}
}

func TestTombstonePeriodNegativeRefused(t *testing.T) {
	_, err := session.New(session.Config{TombstonePeriod: -time.Second})
	require.ErrorIs(t, err, session.ErrInvalidConfig)
}

// The same on a real redis-server, in real time (Redis expires keys by its
// own clock): idle one second; back while the expired session's tombstone
// lasts (the period after the expiry), the user is told "expired"; back
// once Redis dropped it, the ID is unknown, and still not counted as brute
// force. The waits poll the store for the state, with a deadline.
func TestTombstonePeriodOnRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	for _, tc := range []struct {
		name   string
		period time.Duration
		gone   bool // wait until the tombstone is gone too
		want   string
	}{
		{"Within", 5 * time.Second, false, session.EventExpiredIdle},
		{"Past", 1500 * time.Millisecond, true, session.EventRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := session.NewRedisStore(srv.Client(t), session.WithKeyPrefix(randomPrefix()))
			e := newEnv(t, session.Config{Store: st, IdleTimeout: time.Second, TombstonePeriod: tc.period, RotationGrace: -1,
				BruteForce: session.BruteForceConfig{Threshold: 1, Block: true}}, testApp())
			c := e.client()
			res, _ := c.post("/login?u=weekend")
			require.Equal(t, 200, res.StatusCode)
			key := storeKeyOf(c.token())
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				require.True(t, time.Now().Before(deadline), "the session did not end in time")
				_, err := st.Load(context.Background(), key)
				var tomb *session.Tombstone
				isTomb := errors.As(err, &tomb)
				if isTomb && tomb.Reason == session.EndExpired && !tc.gone || errors.Is(err, session.ErrNotFound) && !isTomb && tc.gone {
					break
				}
			}
			res, body := c.get("/whoami")
			require.Equal(t, 200, res.StatusCode)
			assert.Empty(t, body)
			kinds := e.events.kinds()
			assert.Contains(t, kinds, tc.want)
			assert.NotContains(t, kinds, session.EventBruteForce)
		})
	}
}
