package session_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// TestStoreExpiryReportsOnlySessionsThatExpired: the sweeper's "expired"
// events name sessions that ended by expiry, one each, and nothing that
// ended otherwise: not the IDs a renewal retired (Renew, Reauthenticate,
// RevokeOthers, a header session's rotations), not a session the per-user
// cap evicted, one RevokeOthers or Manager.Revoke ended. An audit table fed
// by OnEvent must not read "expired" for a session a user or an attacker
// ended.
func TestStoreExpiryReportsOnlySessionsThatExpired(t *testing.T) {
	clk := newFakeClock()
	store := session.NewMemoryStore(session.WithSweepInterval(256 * time.Millisecond))
	t.Cleanup(func() { _ = store.Close() })
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
	e := newEnv(t, session.Config{Store: store, Clock: clk.Now, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour,
		MaxSessionsPerUser: 2}, mux)
	post := func(c *client, path string) {
		t.Helper()
		res, body := c.post(path)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", path, body)
	}
	login := func(user string) *client {
		c := e.client()
		post(c, "/login?u="+user)
		return c
	}
	ctx := context.Background()

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
	infos, err := e.m.Sessions(ctx, "device")
	require.NoError(t, err)
	require.Len(t, infos, 2)
	require.NoError(t, e.m.Revoke(ctx, "device", infos[0].Handle))
	iss, err := e.m.Issue(ctx, nil, "header", session.Lifetimes{}) // one session, three tokens
	require.NoError(t, err)
	for range 2 {
		iss, err = e.m.Rotate(ctx, nil, iss.Token, 0)
		require.NoError(t, err)
	}

	want := map[string]int{"renewed": 1, "capped": 2, "others": 1, "device": 1, "header": 1}
	total := 0
	for _, n := range want {
		total += n
	}
	clk.Advance(3 * time.Hour)
	require.Eventually(t, func() bool { return len(storeExpiries(e.events)) >= total }, 10*time.Second, 10*time.Millisecond,
		"every session still live is reported")
	clk.Advance(100 * time.Hour) // every tombstone is gone too
	time.Sleep(600 * time.Millisecond)
	require.NoError(t, store.Close()) // the sweeper has stopped: no event can follow
	got := map[string]int{}
	for _, ev := range storeExpiries(e.events) {
		got[ev.UserID]++
	}
	assert.Equal(t, want, got, "one \"expired\" event per session that expired, none for an ID that ended otherwise")
}
