package session_test

import (
	"testing"
	"time"

	"github.com/sessionkit/session"
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
