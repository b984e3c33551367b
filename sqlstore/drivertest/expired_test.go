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

// TestReaperReportsUnseenExpiry: the reaper reports each session row it
// deletes that ended by expiry, once, with its user and recorded device and
// the kind of the deadline that passed; the rows of a logout, a revocation
// and a session kept alive by its requests report nothing.
func TestReaperReportsUnseenExpiry(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		clk := testkit.NewClock(time.Now())
		st := newStore(t, db, b.d, sqlstore.WithClock(clk.Now), sqlstore.WithReapInterval(0))
		a := newApp(t, st, nil, session.Config{Clock: clk.Now, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour,
			TombstonePeriod: time.Minute})
		login := func(user, ua string) *client {
			c := a.client(t, ua)
			code, _ := c.post("/login?u=" + user)
			require.Equal(t, 200, code)
			return c
		}
		t0 := clk.Now()
		login("idle", "idle-device/1.0")
		gone := login("gone", "gone-device")
		code, _ := gone.post("/logout")
		require.Equal(t, 200, code)
		login("revoked", "revoked-device")
		require.NoError(t, a.m.RevokeUser(ctx, "revoked"))
		active := login("active", "active-device")

		clk.Advance(40 * time.Minute)
		_, body := active.get("/whoami")
		require.Equal(t, "active", body)
		clk.Advance(40 * time.Minute)
		_, body = active.get("/whoami")
		require.Equal(t, "active", body)
		clk.Advance(50 * time.Minute) // idle: expired at 60m, its tombstone gone at 120m
		_, err := st.Reap(ctx)
		require.NoError(t, err)
		got := a.events.expiries()
		require.Len(t, got["idle"], 1, "%+v", got)
		assert.Empty(t, got["active"], "a session seen before its deadline is not reported")
		idle := got["idle"][0]
		assert.Equal(t, session.EventExpiredIdle, idle.Kind)
		assert.Equal(t, "idle-device/1.0", idle.TargetUserAgent)
		assert.Equal(t, "127.0.0.1", idle.TargetIP)
		assert.Empty(t, idle.IP, "no request acted")
		assert.Regexp(t, `^handle:[A-Za-z0-9_-]{8}$`, idle.Session)
		assert.WithinDuration(t, t0.Add(time.Hour), idle.Time, time.Millisecond, "dated at the deadline that passed")

		clk.Advance(2 * time.Hour) // active: past its absolute deadline and its tombstone period
		_, err = st.Reap(ctx)
		require.NoError(t, err)
		n, err := st.Reap(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		got = a.events.expiries()
		require.Len(t, got, 2, "the logout and the revocation report nothing: %+v", got)
		require.Len(t, got["idle"], 1, "reported once")
		require.Len(t, got["active"], 1, "%+v", got)
		assert.Equal(t, session.EventExpiredAbsolute, got["active"][0].Kind)
		assert.Equal(t, "active-device", got["active"][0].TargetUserAgent)
	})
}
