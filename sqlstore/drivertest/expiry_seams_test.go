package drivertest

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testkit"
	"github.com/sessionkit/session/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReaperReportsOnlySessionsThatExpired: the reaper's "expired" events
// name sessions that ended by expiry, one each, and nothing that ended
// otherwise: not the IDs a renewal retired (Renew, Reauthenticate,
// RevokeOthers, a header session's rotations), not a session the per-user
// cap evicted, one RevokeOthers or Manager.Revoke ended. The audit table
// fed by OnEvent must not read "expired" for a session someone ended.
func TestReaperReportsOnlySessionsThatExpired(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		clk := testkit.NewClock(time.Now())
		st := newStore(t, db, b.d, sqlstore.WithClock(clk.Now), sqlstore.WithReapInterval(0))
		ev := &events{}
		m, err := session.New(session.Config{Store: st, Clock: clk.Now, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour,
			TombstonePeriod: time.Minute, MaxSessionsPerUser: 2, Cookie: session.CookieConfig{AllowInsecure: true},
			Logger: slog.New(slog.DiscardHandler), OnEvent: ev.add})
		require.NoError(t, err)
		mux := http.NewServeMux()
		do := func(path string, f func(s *session.Session, r *http.Request) error) {
			mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
				if err := f(session.FromContext(r.Context()), r); err != nil {
					http.Error(w, err.Error(), http.StatusConflict)
					return
				}
				_, _ = io.WriteString(w, "ok")
			})
		}
		do("/login", func(s *session.Session, r *http.Request) error { return s.Login(r.Context(), r.URL.Query().Get("u")) })
		do("/renew", func(s *session.Session, r *http.Request) error { return s.Renew(r.Context()) })
		do("/reauth", func(s *session.Session, r *http.Request) error { return s.Reauthenticate(r.Context()) })
		do("/others", func(s *session.Session, r *http.Request) error { return s.RevokeOthers(r.Context()) })
		srv := httptest.NewServer(m.Handler(mux))
		t.Cleanup(srv.Close)
		a := &app{m: m, srv: srv, events: ev}
		post := func(c *client, path string) {
			t.Helper()
			code, body := c.post(path)
			require.Equal(t, http.StatusOK, code, "%s: %s", path, body)
		}
		login := func(user string) *client {
			c := a.client(t, user+"-device")
			post(c, "/login?u="+user)
			return c
		}

		c := login("renewed") // one session, three IDs
		post(c, "/renew")
		post(c, "/reauth")
		login("capped") // evicted by the third
		login("capped")
		login("capped")
		c = login("others") // the second is ended by RevokeOthers
		login("others")
		post(c, "/others")
		login("device") // one of two revoked from the devices list
		login("device")
		infos, err := m.Sessions(ctx, "device")
		require.NoError(t, err)
		require.Len(t, infos, 2)
		require.NoError(t, m.Revoke(ctx, "device", infos[0].Handle))
		iss, err := m.Issue(ctx, nil, "header", session.Lifetimes{}) // one session, three tokens
		require.NoError(t, err)
		for range 2 {
			iss, err = m.Rotate(ctx, nil, iss.Token, 0)
			require.NoError(t, err)
		}

		clk.Advance(100 * time.Hour) // every row past its expiry and its tombstone period
		_, err = st.Reap(ctx)
		require.NoError(t, err)
		n, err := st.Reap(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "the first reap deleted every row")
		got := map[string]int{}
		for user, evs := range ev.expiries() {
			got[user] = len(evs)
		}
		assert.Equal(t, map[string]int{"renewed": 1, "capped": 2, "others": 1, "device": 1, "header": 1}, got,
			"one \"expired\" event per session that expired, none for an ID that ended otherwise")
	})
}
