package session_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// headlessEnv is a Manager on a memory store with a fake clock.
func headlessEnv(t *testing.T, cfg session.Config) (*session.Manager, *fakeClock, *eventLog) {
	clock := newFakeClock()
	ev := &eventLog{}
	cfg.Clock, cfg.Logger, cfg.OnEvent = clock.Now, testLogger(), ev.add
	if cfg.Store == nil {
		ms := session.NewMemoryStore()
		t.Cleanup(func() { _ = ms.Close() })
		cfg.Store = ms
	}
	m, err := session.New(cfg)
	require.NoError(t, err)
	return m, clock, ev
}

// issued records a header session's token for the suite-wide log scan.
func issued(t *testing.T) func(*session.Issued, error) *session.Issued {
	return func(iss *session.Issued, err error) *session.Issued {
		t.Helper()
		require.NoError(t, err)
		suiteTokens.Store(iss.Token, struct{}{})
		return iss
	}
}

// TestHeadlessLifecycle: Issue, Rotate, reuse ends the session, End and
// CheckLive, with own lifetimes longer than the cookie timeouts.
func TestHeadlessLifecycle(t *testing.T) {
	m, clock, ev := headlessEnv(t, session.Config{})
	ctx := t.Context()
	r := httptest.NewRequest("POST", "/api/token", nil)
	r.Header.Set("User-Agent", "App/2")
	lt := session.Lifetimes{Idle: 2 * time.Hour, Absolute: 48 * time.Hour}
	a := issued(t)(m.Issue(ctx, r, "u1", lt))
	assert.Len(t, a.Token, 67)
	assert.Equal(t, "u1", a.UserID)
	assert.Equal(t, clock.Now().Add(2*time.Hour), a.Expires)
	assert.NotEqual(t, a.Token, a.Handle)

	clock.Advance(90 * time.Minute) // past the Manager's 30m idle
	infos, err := m.Sessions(ctx, "u1")
	require.NoError(t, err)
	require.Len(t, infos, 1, "own idle limit, longer than the Manager's")
	assert.Equal(t, a.Handle, infos[0].Handle)
	assert.Equal(t, "App/2", infos[0].UserAgent)

	b := issued(t)(m.Rotate(ctx, r, a.Token, 0))
	assert.True(t, a.CreatedAt.Equal(b.CreatedAt), "the session keeps its creation time")
	require.NoError(t, m.CheckLive(ctx, "u1", a.Handle), "a rotated handle leads to the live session")
	assert.ErrorIs(t, m.CheckLive(ctx, "u2", b.Handle), session.ErrNotFound, "another user's handle")

	_, err = m.Rotate(ctx, r, a.Token, 0)
	require.ErrorIs(t, err, session.ErrReused)
	require.ErrorIs(t, err, session.ErrNotFound)
	assert.NotContains(t, err.Error(), a.Token)
	_, err = m.Rotate(ctx, r, b.Token, 0)
	assert.ErrorIs(t, err, session.ErrNotFound, "the whole session ended")
	assert.ErrorIs(t, m.CheckLive(ctx, "u1", b.Handle), session.ErrNotFound)
	reused := 0
	for _, e := range ev.all() {
		if e.Kind == session.EventRefreshReused {
			reused++
			assert.Equal(t, "u1", e.UserID)
			assert.Len(t, e.Session, 16)
		}
	}
	assert.Equal(t, 1, reused)

	c := issued(t)(m.Issue(ctx, r, "u1", lt))
	require.NoError(t, m.End(ctx, c.Token))
	assert.ErrorIs(t, m.End(ctx, c.Token), session.ErrNotFound)
	_, err = m.Rotate(ctx, r, c.Token, time.Minute)
	assert.ErrorIs(t, err, session.ErrNotFound)
	assert.NotErrorIs(t, err, session.ErrReused, "an ended session's token is not reuse")

	d := issued(t)(m.Issue(ctx, r, "u1", lt))
	for range 3 {
		clock.Advance(90 * time.Minute)
		d = issued(t)(m.Rotate(ctx, r, d.Token, 0))
	}
	clock.Advance(2*time.Hour + time.Second)
	_, err = m.Rotate(ctx, r, d.Token, 0)
	assert.ErrorIs(t, err, session.ErrNotFound, "own idle limit")
}

// TestHeadlessEndedByRevokeOthers: a password change in the browser
// (RevokeOthers) ends the user's API clients too, and a header token is
// never a cookie.
func TestHeadlessEndedByRevokeOthers(t *testing.T) {
	var m *session.Manager
	e := newEnv(t, session.Config{}, devicesApp(&m))
	m = e.m
	ctx := t.Context()
	iss := issued(t)(m.Issue(ctx, httptest.NewRequest("POST", "/", nil), "alice", session.Lifetimes{}))
	other := issued(t)(m.Issue(ctx, httptest.NewRequest("POST", "/", nil), "bob", session.Lifetimes{}))

	intruder := e.client()
	intruder.setToken(iss.Token)
	_, body := intruder.get("/whoami")
	assert.Empty(t, body, "a header token is not a cookie")

	c := e.client()
	res, _ := c.post("/login?u=alice")
	require.Equal(t, 200, res.StatusCode)
	infos, err := m.Sessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 2, "browser and API client side by side")
	_, err = m.Rotate(ctx, httptest.NewRequest("POST", "/", nil), c.token(), time.Minute)
	assert.ErrorIs(t, err, session.ErrNotFound, "a cookie token is not a header token")

	res, _ = c.post("/revoke-others")
	require.Equal(t, 200, res.StatusCode)
	_, err = m.Rotate(ctx, httptest.NewRequest("POST", "/", nil), iss.Token, time.Minute)
	assert.ErrorIs(t, err, session.ErrNotFound)
	infos, err = m.Sessions(ctx, "alice")
	require.NoError(t, err)
	assert.Len(t, infos, 1)
	issued(t)(m.Rotate(ctx, httptest.NewRequest("POST", "/", nil), other.Token, 0))
}

// TestHeadlessOnRedis runs the header-session lifecycle on miniredis, a
// real server (the one-round-trip Refresher script) and a Cluster (Load,
// then Rotate).
func TestHeadlessOnRedis(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		st := session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix()))
		m, err := session.New(session.Config{Store: st, Logger: testLogger()})
		require.NoError(t, err)
		ctx := t.Context()
		r := httptest.NewRequest("POST", "/api/token", nil)
		lt := session.Lifetimes{Idle: time.Hour, Absolute: 24 * time.Hour}

		a := issued(t)(m.Issue(ctx, r, "redis-u", lt))
		b := issued(t)(m.Rotate(ctx, r, a.Token, time.Minute))
		assert.WithinDuration(t, a.CreatedAt, b.CreatedAt, time.Millisecond, "the session keeps its creation time")
		assert.Equal(t, "redis-u", b.UserID)
		assert.WithinDuration(t, time.Now().Add(time.Hour), b.Expires, 5*time.Second)
		c := issued(t)(m.Rotate(ctx, r, a.Token, time.Minute)) // retry of a lost response
		require.NoError(t, m.CheckLive(ctx, "redis-u", a.Handle))
		infos, err := m.Sessions(ctx, "redis-u")
		require.NoError(t, err)
		require.Len(t, infos, 1)
		assert.Equal(t, c.Handle, infos[0].Handle)
		_, err = m.Rotate(ctx, r, a.Token, time.Minute) // a second duplicate
		require.ErrorIs(t, err, session.ErrReused)
		_, err = m.Rotate(ctx, r, c.Token, time.Minute)
		require.ErrorIs(t, err, session.ErrNotFound)
		infos, err = m.Sessions(ctx, "redis-u")
		require.NoError(t, err)
		assert.Empty(t, infos)

		d := issued(t)(m.Issue(ctx, r, "redis-u", lt))
		require.NoError(t, m.RevokeUser(ctx, "redis-u"))
		_, err = m.Rotate(ctx, r, d.Token, time.Minute)
		assert.ErrorIs(t, err, session.ErrNotFound, "revoked by generation")
		assert.NotErrorIs(t, err, session.ErrReused)

		e := issued(t)(m.Issue(ctx, r, "redis-u", lt))
		require.NoError(t, m.End(ctx, e.Token))
		_, err = m.Rotate(ctx, r, e.Token, time.Minute)
		assert.ErrorIs(t, err, session.ErrNotFound)
		assert.NotErrorIs(t, err, session.ErrReused)

		// A cookie session's record (no own limits) is never refreshed.
		now := time.Now()
		require.NoError(t, st.Create(ctx, "cookie-record-key-0000000000000000000000000", &session.Record{Meta: session.Meta{UserID: "redis-u", CreatedAt: now, LastSeen: now, Expires: now.Add(time.Hour)}}))
		_, err = st.Refresh(ctx, "cookie-record-key-0000000000000000000000000", "new-key-000000000000000000000000000000000000", now)
		if errors.Is(err, errors.ErrUnsupported) {
			return // a Cluster: Manager.Rotate loads, then rotates
		}
		assert.ErrorIs(t, err, session.ErrNotFound)
	})
}

// TestIssueWithoutRequest: a header session issued with no request (a job,
// a test) has no device, and no panic.
func TestIssueWithoutRequest(t *testing.T) {
	m, _, _ := headlessEnv(t, session.Config{})
	iss, err := m.Issue(t.Context(), nil, "job", session.Lifetimes{})
	require.NoError(t, err)
	assert.Empty(t, iss.UserAgent)
	next, err := m.Rotate(t.Context(), nil, iss.Token, 0)
	require.NoError(t, err)
	require.NoError(t, m.End(t.Context(), next.Token))
}
