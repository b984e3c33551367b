package drivertest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testkit"
	"github.com/sessionkit/session/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTombstonePeriod: a logged-in user back after the idle timeout plus
// less than Config.TombstonePeriod (the default's 72 hours: a weekend) is
// told "expired"; back after more, the ID is unknown, yet not counted as
// brute force (Block on, threshold 1: one count would answer 429). The
// reaper running meanwhile keeps the tombstone for its period.
func TestTombstonePeriod(t *testing.T) {
	for _, tc := range []struct {
		name         string
		period, back time.Duration
		want         string
	}{
		{"DefaultWeekend", 0, 60 * time.Hour, session.EventExpiredIdle},
		{"WithinShort", 2 * time.Hour, 2 * time.Hour, session.EventExpiredIdle},
		{"PastShort", 2 * time.Hour, 4 * time.Hour, session.EventRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
				clk := testkit.NewClock(time.Now())
				st := newStore(t, db, b.d, sqlstore.WithClock(clk.Now), sqlstore.WithReapInterval(0))
				a := newApp(t, st, nil, session.Config{Clock: clk.Now, IdleTimeout: time.Hour, TombstonePeriod: tc.period,
					BruteForce: session.BruteForceConfig{Threshold: 1, Block: true}})
				c := a.client(t, "weekend")
				code, _ := c.post("/login?u=weekend")
				require.Equal(t, 200, code)
				clk.Advance(tc.back)
				_, err := st.Reap(context.Background())
				require.NoError(t, err)
				code, body := c.get("/whoami")
				require.Equal(t, 200, code)
				assert.Empty(t, body)
				assert.True(t, a.events.has(tc.want), "%v", a.events.kinds)
				assert.False(t, a.events.has(session.EventBruteForce), "%v", a.events.kinds)
			})
		})
	}
}
