package tokens_test

import (
	"context"
	"crypto"
	"errors"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/tokens"
)

// hookStore is a memory store whose Rotate first runs a hook once: the
// hook lands a second request between the first one's Load and Rotate.
type hookStore struct {
	*session.MemoryStore
	fired  atomic.Bool
	before func()
}

// Unwrap lets the Manager give the memory store its clock.
func (h *hookStore) Unwrap() session.Store { return h.MemoryStore }

func (h *hookStore) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	if rot.OldKey != "" && h.before != nil && h.fired.CompareAndSwap(false, true) {
		h.before()
	}
	return h.MemoryStore.Rotate(ctx, rot)
}

// TestConcurrentRefreshRace: two refreshes of one token, the second landing
// between the first one's load and its rotation. Both get a pair (the
// loser is the "lost response" retry: it rotates the winner's result once
// more), exactly one family is left, and its latest token is the live one.
func TestConcurrentRefreshRace(t *testing.T) {
	var hs *hookStore
	e := newEnv(t, func(now func() time.Time) session.Store {
		hs = &hookStore{MemoryStore: session.NewMemoryStore()}
		t.Cleanup(func() { _ = hs.Close() })
		return hs
	}, tokens.Config{})
	clock := e.clock

	p := e.issue("olga")
	clock.Advance(time.Minute)
	var second *tokens.Pair
	var secondErr error
	hs.before = func() { second, secondErr = e.refresh(p.RefreshToken) }
	first, firstErr := e.refresh(p.RefreshToken)
	require.NoError(t, secondErr, "the request that rotated first")
	require.NoError(t, firstErr, "the request whose rotation lost: a retry within grace")
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)

	infos := e.sessions("olga")
	require.Len(t, infos, 1, "one family, not two")
	c, err := e.verify(first.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, infos[0].Handle, c.SessionHandle, "the loser's pair is the family's current one")

	// The winner's refresh token was rotated by the loser: the client
	// must keep the last pair it received. A third duplicate of the
	// original is reuse.
	_, err = e.refresh(p.RefreshToken)
	require.ErrorIs(t, err, tokens.ErrReused)
	assert.Empty(t, e.sessions("olga"))
	_, err = e.refresh(first.RefreshToken)
	assert.ErrorIs(t, err, session.ErrNotFound)
}

// redisEnv is an env over a real redis-server started for the test.
func redisEnv(t *testing.T, hook redis.Hook) (*env, *redis.Client) {
	srv := redistest.StartServer(t)
	c := srv.Client(t)
	if hook != nil {
		c.AddHook(hook)
	}
	st := session.NewRedisStore(c, session.WithKeyPrefix("tokens-test:"))
	e := &env{t: t, events: &eventLog{}, key: testKey}
	m, err := session.New(session.Config{Store: st, Logger: testLogger(), OnEvent: e.events.add})
	require.NoError(t, err)
	e.m = m
	e.tk, err = tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}})
	require.NoError(t, err)
	return e, c
}

// TestRedisConcurrentRefresh runs the race above for many rounds on a real
// Redis, with real timing: whatever the interleaving, both refreshes get a
// pair, one family is left, and the original token a third time is reuse.
func TestRedisConcurrentRefresh(t *testing.T) {
	e, _ := redisEnv(t, nil)
	for i := range 100 {
		user := "user-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		p := e.issue(user)
		var wg sync.WaitGroup
		var ok atomic.Int32
		pairs := make([]*tokens.Pair, 2)
		for j := range 2 {
			wg.Go(func() {
				pp, err := e.tk.Refresh(context.Background(), req(), p.RefreshToken)
				if assert.NoError(t, err) {
					ok.Add(1)
					pairs[j] = record(pp)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(2), ok.Load(), "round %d", i)
		require.Len(t, e.sessions(user), 1, "round %d: one family", i)
		_, err := e.tk.Refresh(t.Context(), req(), p.RefreshToken)
		require.ErrorIs(t, err, tokens.ErrReused, "round %d", i)
		require.Empty(t, e.sessions(user), "round %d: the family ended", i)
		for _, pp := range pairs {
			_, err := e.tk.Refresh(t.Context(), req(), pp.RefreshToken)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d", i)
		}
	}
}

// TestRedisRoundTrips counts the round trips of each operation on a single
// server: Verify none, Refresh one (the refresh script, see
// session.Refresher), Issue one, VerifyLive one.
func TestRedisRoundTrips(t *testing.T) {
	hook := &redistest.RoundTrips{}
	e, _ := redisEnv(t, hook)
	p := e.issue("rt-user") // warm-up: the server learns the scripts
	p, err := e.refresh(p.RefreshToken)
	require.NoError(t, err)
	_, err = e.tk.VerifyLive(req("Bearer " + p.AccessToken)) // and Load's script
	require.NoError(t, err)

	count := func(f func()) int64 {
		hook.Store(0)
		f()
		return hook.Load()
	}
	assert.Equal(t, int64(1), count(func() { e.issue("rt-user") }), "Issue")
	assert.Equal(t, int64(1), count(func() { p, err = e.refresh(p.RefreshToken); require.NoError(t, err) }), "Refresh")
	assert.Equal(t, int64(0), count(func() { _, err = e.verify(p.AccessToken); require.NoError(t, err) }), "Verify")
	assert.Equal(t, int64(1), count(func() { _, err = e.tk.VerifyLive(req("Bearer " + p.AccessToken)); require.NoError(t, err) }), "VerifyLive")
}

// failStore fails every Load once armed.
type failStore struct {
	*session.MemoryStore
	fail atomic.Bool
}

// Unwrap lets the Manager give the memory store its clock.
func (f *failStore) Unwrap() session.Store { return f.MemoryStore }

func (f *failStore) Load(ctx context.Context, key string) (*session.Record, error) {
	if f.fail.Load() {
		return nil, errors.New("connection reset")
	}
	return f.MemoryStore.Load(ctx, key)
}

// TestHandlerLive: a revoked family's token is refused at once (401), a
// store failure is a 500 (never a 2xx, never a logout), and Refresh reports
// it as ErrStore.
func TestHandlerLive(t *testing.T) {
	var fs *failStore
	e := newEnv(t, func(now func() time.Time) session.Store {
		fs = &failStore{MemoryStore: session.NewMemoryStore()}
		t.Cleanup(func() { _ = fs.Close() })
		return fs
	}, tokens.Config{})
	p := e.issue("pat")
	h := e.tk.HandlerLive(httpHandlerFunc(func() {}))
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req("Bearer "+p.AccessToken))
		return rec
	}
	assert.Equal(t, 200, serve().Code)
	fs.fail.Store(true)
	rec := serve()
	assert.Equal(t, 500, rec.Code, "a store failure is not a 401")
	assert.NotContains(t, rec.Body.String(), "connection reset")
	_, err := e.refresh(p.RefreshToken)
	assert.ErrorIs(t, err, session.ErrStore)
	assert.NotErrorIs(t, err, session.ErrNotFound)
	fs.fail.Store(false)
	require.NoError(t, e.tk.Revoke(t.Context(), p.RefreshToken))
	rec = serve()
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
}

// TestRedisKilled: with the server gone, Refresh, Issue, Revoke and
// VerifyLive fail with ErrStore (a 5xx, not a logout), Verify still works,
// and after a restart nothing was lost or half-done.
func TestRedisKilled(t *testing.T) {
	srv := redistest.StartServer(t)
	st := session.NewRedisStore(srv.Client(t))
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	tk, err := tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}})
	require.NoError(t, err)
	ctx := t.Context()
	p, err := tk.Issue(ctx, req(), "quinn")
	require.NoError(t, err)
	record(p)

	srv.Kill()
	_, err = tk.Refresh(ctx, req(), p.RefreshToken)
	assert.ErrorIs(t, err, session.ErrStore)
	assert.NotErrorIs(t, err, session.ErrNotFound)
	_, err = tk.Issue(ctx, req(), "quinn")
	assert.ErrorIs(t, err, session.ErrStore)
	assert.ErrorIs(t, tk.Revoke(ctx, p.RefreshToken), session.ErrStore)
	_, err = tk.VerifyLive(req("Bearer " + p.AccessToken))
	assert.ErrorIs(t, err, session.ErrStore)
	_, err = tk.Verify(req("Bearer " + p.AccessToken))
	assert.NoError(t, err, "Verify needs no store")

	srv.Restart()
	// An in-memory server restarted empty has lost the family: the
	// client must log in again, never gets a pair from a dead family.
	_, err = tk.Refresh(ctx, req(), p.RefreshToken)
	assert.ErrorIs(t, err, session.ErrNotFound)
}

// TestRedisClusterLifecycle: on a Redis Cluster (where a rotation is
// several steps) refresh, a lost-response retry, reuse ending the family,
// and revocation from the devices list behave as on one server.
func TestRedisClusterLifecycle(t *testing.T) {
	cl := redistest.StartCluster(t)
	st := session.NewRedisStore(cl.Client(t))
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	tk, err := tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}})
	require.NoError(t, err)
	ctx := t.Context()
	refresh := func(rt string) (*tokens.Pair, error) {
		p, err := tk.Refresh(ctx, req(), rt)
		return record(p), err
	}
	for _, user := range []string{"ursula", "victor", "wendy"} {
		p1, err := tk.Issue(ctx, req(), user)
		require.NoError(t, err)
		record(p1)
		p2, err := refresh(p1.RefreshToken)
		require.NoError(t, err)
		p3, err := refresh(p2.RefreshToken)
		require.NoError(t, err)
		p4, err := refresh(p2.RefreshToken) // retry within grace
		require.NoError(t, err)
		infos, err := m.Sessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, infos, 1)
		c, err := tk.VerifyLive(req("Bearer " + p1.AccessToken))
		require.NoError(t, err, "VerifyLive follows three rotations")
		assert.Equal(t, user, c.Subject)
		if user == "wendy" {
			require.NoError(t, m.Revoke(ctx, user, infos[0].Handle))
			_, err = refresh(p4.RefreshToken)
			assert.ErrorIs(t, err, session.ErrNotFound)
			assert.NotErrorIs(t, err, tokens.ErrReused)
			continue
		}
		_, err = refresh(p1.RefreshToken) // its successor was used: reuse
		require.ErrorIs(t, err, tokens.ErrReused)
		for _, p := range []*tokens.Pair{p3, p4} {
			_, err = refresh(p.RefreshToken)
			assert.ErrorIs(t, err, session.ErrNotFound)
		}
		infos, err = m.Sessions(ctx, user)
		require.NoError(t, err)
		assert.Empty(t, infos)
	}
}
