package tokens_test

import (
	"crypto"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/tokens"
)

// A refresh family is one session: any token it ever had, presented again,
// ends it, however many rotations ago and however long ago (within the
// family's lifetime), whether presented to Refresh or to Revoke.

// familyStores are the stores the family findings run on: the memory store
// on the fake clock, and real Redis servers (single node and Cluster).
func familyStores(t *testing.T) map[string]func(t *testing.T) *env {
	return map[string]func(t *testing.T) *env{
		"Memory": func(t *testing.T) *env { return newEnv(t, nil, tokens.Config{}) },
		"Redis": func(t *testing.T) *env {
			e, _ := redisEnv(t, nil)
			return e
		},
		"Cluster": func(t *testing.T) *env {
			cl := redistest.StartCluster(t)
			st := session.NewRedisStore(cl.Client(t))
			e := &env{t: t, events: &eventLog{}, key: testKey}
			m, err := session.New(session.Config{Store: st, Logger: testLogger(), OnEvent: e.events.add})
			require.NoError(t, err)
			e.m = m
			e.tk, err = tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}})
			require.NoError(t, err)
			return e
		},
	}
}

// TestReuseAfterLongChain (issue finding 1): a thief who refreshes a stolen
// token more than 256 times does not make reuse detection give up: the
// victim's original token ends the family.
func TestReuseAfterLongChain(t *testing.T) {
	for name, newE := range familyStores(t) {
		t.Run(name, func(t *testing.T) {
			e := newE(t)
			victim := e.issue("vera")
			cur := victim
			for i := range 300 {
				var err error
				cur, err = e.refresh(cur.RefreshToken)
				require.NoError(t, err, "refresh %d", i)
			}
			c, err := e.tk.VerifyLive(req("Bearer " + victim.AccessToken))
			require.NoError(t, err, "VerifyLive follows 300 rotations: its handle's family is live")
			assert.Equal(t, "vera", c.Subject)
			_, err = e.refresh(victim.RefreshToken)
			require.ErrorIs(t, err, tokens.ErrReused, "the victim's token, 300 rotations later")
			_, err = e.tk.VerifyLive(req("Bearer " + victim.AccessToken))
			require.ErrorIs(t, err, session.ErrNotFound, "the family ended: its access tokens are refused at once")
			_, err = e.refresh(cur.RefreshToken)
			require.ErrorIs(t, err, session.ErrNotFound, "the thief's family must be ended")
			assert.Empty(t, e.sessions("vera"))
			assert.NotEmpty(t, e.events.of(session.EventRefreshReused))
		})
	}
}

// TestReuseAfterIdle (finding 2): the thief refreshes hourly, so the family
// lives past RefreshIdle while the victim's token's tombstone is long gone;
// the victim back 26 hours later still gets ErrReused and ends the family.
func TestReuseAfterIdle(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	victim := e.issue("walt")
	cur := victim
	for range 26 {
		e.clock.Advance(time.Hour)
		var err error
		cur, err = e.refresh(cur.RefreshToken)
		require.NoError(t, err)
	}
	_, err := e.refresh(victim.RefreshToken)
	require.ErrorIs(t, err, tokens.ErrReused, "26 h after its rotation, past RefreshIdle (24 h)")
	_, err = e.refresh(cur.RefreshToken)
	require.ErrorIs(t, err, session.ErrNotFound)
	assert.Empty(t, e.sessions("walt"))
}

// TestRedisReuseAfterIdle is TestReuseAfterIdle on a real Redis with short
// limits: the store's own TTLs drop the retired token's tombstone.
func TestRedisReuseAfterIdle(t *testing.T) {
	srv := redistest.StartServer(t)
	st := session.NewRedisStore(srv.Client(t), session.WithKeyPrefix("idle-test:"))
	m, err := session.New(session.Config{Store: st, Logger: testLogger(), RotationGrace: 200 * time.Millisecond})
	require.NoError(t, err)
	tk, err := tokens.New(m, tokens.Config{
		SigningKeys: []crypto.Signer{testKey}, RefreshIdle: time.Second, RefreshLifetime: time.Minute, AccessLifetime: 30 * time.Second,
		ReuseGrace: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	ctx := t.Context()
	victim, err := tk.Issue(ctx, req(), "xena")
	require.NoError(t, err)
	cur := victim
	for range 6 { // 3 s: the victim's tombstone (1 s) is gone
		time.Sleep(500 * time.Millisecond)
		cur, err = tk.Refresh(ctx, req(), cur.RefreshToken)
		require.NoError(t, err)
	}
	_, err = tk.Refresh(ctx, req(), victim.RefreshToken)
	require.ErrorIs(t, err, tokens.ErrReused, "a retired token past its tombstone's life")
	_, err = tk.Refresh(ctx, req(), cur.RefreshToken)
	require.ErrorIs(t, err, session.ErrNotFound)
	infos, err := m.Sessions(ctx, "xena")
	require.NoError(t, err)
	assert.Empty(t, infos)
}

// TestRevokeWithRetiredToken (finding 3): a client's logout with a refresh
// token the thief already rotated ends the family.
func TestRevokeWithRetiredToken(t *testing.T) {
	for name, newE := range familyStores(t) {
		t.Run(name, func(t *testing.T) {
			e := newE(t)
			victim := e.issue("yuri")
			thief, err := e.refresh(victim.RefreshToken)
			require.NoError(t, err)
			thief, err = e.refresh(thief.RefreshToken)
			require.NoError(t, err)
			require.NoError(t, e.tk.Revoke(t.Context(), victim.RefreshToken), "a retired token ends its family")
			_, err = e.refresh(thief.RefreshToken)
			require.ErrorIs(t, err, session.ErrNotFound)
			assert.Empty(t, e.sessions("yuri"))
			err = e.tk.Revoke(t.Context(), victim.RefreshToken)
			require.ErrorIs(t, err, session.ErrNotFound, "nothing left to end")
		})
	}
}

// TestRevokeRacingRefresh lands the victim's Revoke between the thief's
// refresh's load and its rotation: the rotation must not survive.
func TestRevokeRacingRefresh(t *testing.T) {
	var hs *hookStore
	e := newEnv(t, func(now func() time.Time) session.Store {
		hs = &hookStore{MemoryStore: session.NewMemoryStore()}
		t.Cleanup(func() { _ = hs.Close() })
		return hs
	}, tokens.Config{})
	victim := e.issue("zoe")
	thief, err := e.refresh(victim.RefreshToken)
	require.NoError(t, err)
	var revokeErr error
	hs.before = func() { revokeErr = e.tk.Revoke(t.Context(), victim.RefreshToken) }
	next, err := e.refresh(thief.RefreshToken)
	require.NoError(t, revokeErr)
	require.ErrorIs(t, err, session.ErrNotFound, "the refresh that lost to the logout")
	require.Nil(t, next)
	assert.Empty(t, e.sessions("zoe"))
}

// TestRedisRevokeRacingRefresh races a thief's refreshes against the
// victim's Revoke with a retired token on a real Redis, many rounds: after
// both, nothing of the family is live.
func TestRedisRevokeRacingRefresh(t *testing.T) {
	for _, name := range []string{"Redis", "Cluster"} {
		t.Run(name, func(t *testing.T) {
			e := familyStores(t)[name](t)
			ctx := t.Context()
			rounds := 100
			if name == "Cluster" {
				rounds = 30
			}
			for round := range rounds {
				victim := e.issue("amos")
				thief, err := e.refresh(victim.RefreshToken)
				require.NoError(t, err)
				var wg sync.WaitGroup
				start := make(chan struct{})
				var last *tokens.Pair
				wg.Add(2)
				go func() {
					defer wg.Done()
					<-start
					cur := thief
					for range 5 {
						p, err := e.tk.Refresh(ctx, req(), cur.RefreshToken)
						if err != nil {
							assert.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
							return
						}
						cur, last = p, p
					}
				}()
				go func() {
					defer wg.Done()
					<-start
					// Not found is an answer too: on a Cluster the
					// thief's refresh, finding the end under way, reports
					// reuse and ends the family itself first.
					if err := e.tk.Revoke(ctx, victim.RefreshToken); err != nil {
						assert.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
					}
				}()
				close(start)
				wg.Wait()
				if last != nil {
					_, err := e.tk.Refresh(ctx, req(), last.RefreshToken)
					require.ErrorIs(t, err, session.ErrNotFound, "round %d: a refresh escaped the logout", round)
				}
				require.Empty(t, e.sessions("amos"), "round %d", round)
			}
		})
	}
}
