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
	"github.com/sessionkit/session/internal/redistest"
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

// TestRedisExpiryReportsOnlySessionsThatExpired is the test above on a real
// redis-server with WithExpiryNotifications: Redis reports no user, so the
// events are matched by handle; only the sessions still live when their
// deadline passed are reported, once each.
func TestRedisExpiryReportsOnlySessionsThatExpired(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	st := session.NewRedisStore(srv.Client(t), session.WithKeyPrefix(randomPrefix()), session.WithExpiryNotifications(true))
	t.Cleanup(func() { _ = st.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{op}", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var err error
		switch r.PathValue("op") {
		case "login":
			err = s.Login(r.Context(), r.URL.Query().Get("u"))
		case "renew":
			err = s.Renew(r.Context())
		case "reauth":
			err = s.Reauthenticate(r.Context())
		case "others":
			err = s.RevokeOthers(r.Context())
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	e := newEnv(t, session.Config{Store: st, IdleTimeout: 2 * time.Second, AbsoluteTimeout: 4 * time.Second,
		MaxSessionsPerUser: 2}, mux)
	require.Eventually(t, func() bool { return e.m.Ping(ctx) == nil }, 10*time.Second, 10*time.Millisecond)
	var live []string // handles of the sessions that are to expire
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
	c := login("renewed")
	post(c, "/renew")
	post(c, "/reauth")
	live = append(live, storeKeyOf(c.token()))
	login("capped") // evicted by the third
	live = append(live, storeKeyOf(login("capped").token()), storeKeyOf(login("capped").token()))
	c = login("others")
	login("others")
	post(c, "/others")
	live = append(live, storeKeyOf(c.token()))
	login("device")
	login("device")
	infos, err := e.m.Sessions(ctx, "device")
	require.NoError(t, err)
	require.Len(t, infos, 2)
	require.NoError(t, e.m.Revoke(ctx, "device", infos[0].Handle))
	live = append(live, infos[1].Handle)
	iss, err := e.m.Issue(ctx, nil, "header", session.Lifetimes{})
	require.NoError(t, err)
	for range 2 {
		iss, err = e.m.Rotate(ctx, nil, iss.Token, 0)
		require.NoError(t, err)
	}
	live = append(live, iss.Handle)

	want := map[string]bool{}
	for _, h := range live {
		want["handle:"+h[:8]] = true
	}
	reported := func() map[string]int {
		got := map[string]int{}
		for _, ev := range storeExpiries(e.events) {
			got[ev.Session]++
		}
		return got
	}
	require.Eventually(t, func() bool { return len(reported()) >= len(want) }, 20*time.Second, 50*time.Millisecond,
		"every session still live is reported")
	time.Sleep(time.Second) // a late event for an ended ID would come by now
	require.NoError(t, st.Close())
	got := reported()
	for h, n := range got {
		assert.True(t, want[h], "%s reported expired: it ended otherwise", h)
		assert.Equal(t, 1, n, "%s reported once", h)
	}
	assert.Len(t, got, len(want))
}

// TestRevocationListRecordIsNotAnExpiredSession: a CookieStore's revocation
// list may live in the store of a server-mode Manager (one Redis, one
// memory store for a web app and its API). The record of a "log out
// everywhere" is not a session: when it lapses, the sweeper of the shared
// store must not report it to that Manager as a session that expired.
func TestRevocationListRecordIsNotAnExpiredSession(t *testing.T) {
	clk := newFakeClock()
	store := session.NewMemoryStore(session.WithSweepInterval(256 * time.Millisecond))
	t.Cleanup(func() { _ = store.Close() })
	e := newEnv(t, session.Config{Store: store, Clock: clk.Now, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour}, testApp())
	cs, err := session.NewCookieStore(make32(t))
	require.NoError(t, err)
	cookies, err := session.New(session.Config{Store: cs.WithRevocations(store), Clock: clk.Now, Logger: testLogger(),
		IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cookies.Close() })
	require.NoError(t, cookies.RevokeUser(context.Background(), "alice"))
	res, _ := e.client().post("/login?u=bob") // a real session, the control
	require.Equal(t, http.StatusOK, res.StatusCode)

	clk.Advance(10 * time.Hour) // past the session's deadlines
	require.Eventually(t, func() bool { return len(expiryOf(e.events, "bob")) == 1 }, 10*time.Second, 10*time.Millisecond)
	clk.Advance(800 * time.Hour)       // past the revocation's (a remembered login's 30 days, and an hour)
	time.Sleep(600 * time.Millisecond) // two more sweeps
	require.NoError(t, store.Close())
	assert.Len(t, storeExpiries(e.events), 1, "only bob's session expired: %+v", storeExpiries(e.events))
}
