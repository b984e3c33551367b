package tokens_test

import (
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/tokens"
)

// TestRoundTrip: issue, verify, refresh (the old refresh token dies), and
// revoke (the family is gone from the devices list).
func TestRoundTrip(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	ctx := t.Context()
	p := e.issue("alice")
	assert.Len(t, p.RefreshToken, 67, "a family part and 256 random bits, base64url")
	assert.Equal(t, e.clock.Now().Truncate(time.Second).Add(15*time.Minute), p.AccessExpires)
	assert.WithinDuration(t, e.clock.Now().Add(24*time.Hour), p.RefreshExpires, time.Second, "idle deadline first")

	c, err := e.verify(p.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)
	assert.NotEmpty(t, c.ID)
	assert.Equal(t, p.AccessExpires, c.ExpiresAt)
	infos := e.sessions("alice")
	require.Len(t, infos, 1, "the family is a session of its user")
	assert.Equal(t, c.SessionHandle, infos[0].Handle, "sid is the devices list handle")
	assert.Equal(t, "TestApp/1.0", infos[0].UserAgent)
	require.Len(t, e.events.of(session.EventLogin), 1)

	e.clock.Advance(10 * time.Minute)
	p2, err := e.refresh(p.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, p.RefreshToken, p2.RefreshToken)
	c2, err := e.verify(p2.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "alice", c2.Subject)
	assert.NotEqual(t, c.ID, c2.ID)
	infos = e.sessions("alice")
	require.Len(t, infos, 1, "a refresh replaces the family's record")
	assert.Equal(t, c2.SessionHandle, infos[0].Handle)
	require.NotEmpty(t, e.events.of(session.EventRenewed))

	require.NoError(t, e.tk.Revoke(ctx, p2.RefreshToken))
	assert.Empty(t, e.sessions("alice"))
	_, err = e.refresh(p2.RefreshToken)
	assert.ErrorIs(t, err, session.ErrNotFound)
	assert.NotErrorIs(t, err, tokens.ErrReused, "a revoked token is not reuse")
	assert.ErrorIs(t, e.tk.Revoke(ctx, p2.RefreshToken), session.ErrNotFound)
	_, err = e.tk.VerifyLive(req("Bearer " + p2.AccessToken))
	assert.ErrorIs(t, err, tokens.ErrInvalidToken, "VerifyLive sees the revocation")
	_, err = e.verify(p2.AccessToken)
	assert.NoError(t, err, "Verify makes no store call: valid until exp")
	e.clock.Advance(15 * time.Minute)
	_, err = e.verify(p2.AccessToken)
	assert.ErrorIs(t, err, tokens.ErrInvalidToken, "expired")
}

// TestReuseAfterGraceEndsFamily: the thief refreshed first; when the victim
// presents the retired token after the grace period, the whole family ends.
func TestReuseAfterGraceEndsFamily(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	p1 := e.issue("bob")
	other := e.issue("bob") // another device of bob: untouched
	e.clock.Advance(time.Minute)
	p2, err := e.refresh(p1.RefreshToken) // the thief
	require.NoError(t, err)
	e.clock.Advance(5 * time.Minute)
	p3, err := e.refresh(p2.RefreshToken) // the thief again
	require.NoError(t, err)
	e.clock.Advance(tokens.DefaultReuseGrace + time.Second)
	_, err = e.refresh(p1.RefreshToken) // the victim, two rotations later
	require.ErrorIs(t, err, tokens.ErrReused)
	assert.ErrorIs(t, err, session.ErrNotFound)

	for _, rt := range []string{p1.RefreshToken, p2.RefreshToken, p3.RefreshToken} {
		_, err := e.refresh(rt)
		assert.ErrorIs(t, err, session.ErrNotFound, "every token of the family is dead")
	}
	infos := e.sessions("bob")
	require.Len(t, infos, 1, "only bob's other device is left")
	_, err = e.refresh(other.RefreshToken)
	assert.NoError(t, err)
	_, err = e.tk.VerifyLive(req("Bearer " + p3.AccessToken))
	assert.ErrorIs(t, err, session.ErrNotFound)

	ev := e.events.of(session.EventRefreshReused)
	require.NotEmpty(t, ev)
	assert.Equal(t, "bob", ev[0].UserID)
	assert.Equal(t, "ended", ev[0].Reason)
	assert.Len(t, ev[0].Session, 16, "a hash prefix, not the token")
	assert.NotContains(t, p1.RefreshToken, ev[0].Session)
}

// TestRetryWithinGrace: a client whose refresh response was lost retries
// with the same token and stays logged in; a second duplicate is reuse.
func TestRetryWithinGrace(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	p1 := e.issue("carol")
	e.clock.Advance(time.Minute)
	lost, err := e.refresh(p1.RefreshToken)
	require.NoError(t, err)
	e.clock.Advance(3 * time.Second)
	p2, err := e.refresh(p1.RefreshToken) // the retry
	require.NoError(t, err, "a retry within the grace period keeps the client logged in")
	assert.NotEqual(t, lost.RefreshToken, p2.RefreshToken)
	_, err = e.verify(p2.AccessToken)
	require.NoError(t, err)
	require.Len(t, e.sessions("carol"), 1)

	_, err = e.refresh(p1.RefreshToken) // a second duplicate
	require.ErrorIs(t, err, tokens.ErrReused)
	assert.Empty(t, e.sessions("carol"))
	_, err = e.refresh(p2.RefreshToken)
	assert.ErrorIs(t, err, session.ErrNotFound)
}

// TestNoGrace: with ReuseGrace negative even an immediate retry is reuse.
func TestNoGrace(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{ReuseGrace: -1})
	p1 := e.issue("dan")
	_, err := e.refresh(p1.RefreshToken)
	require.NoError(t, err)
	_, err = e.refresh(p1.RefreshToken)
	require.ErrorIs(t, err, tokens.ErrReused)
	assert.Empty(t, e.sessions("dan"))
}

// TestRevokeFromDevices: the user ends the API client from the devices
// list (Revoke) or everywhere (RevokeUser): refresh fails at once and
// VerifyLive refuses the access token; Verify accepts it until exp (the
// documented trade-off).
func TestRevokeFromDevices(t *testing.T) {
	for _, all := range []bool{false, true} {
		e := newEnv(t, nil, tokens.Config{})
		ctx := t.Context()
		p := e.issue("erin")
		e.clock.Advance(time.Minute)
		p2, err := e.refresh(p.RefreshToken)
		require.NoError(t, err)
		infos := e.sessions("erin")
		require.Len(t, infos, 1)
		if all {
			require.NoError(t, e.m.RevokeUser(ctx, "erin"))
		} else {
			require.NoError(t, e.m.Revoke(ctx, "erin", infos[0].Handle))
		}
		_, err = e.refresh(p2.RefreshToken)
		assert.ErrorIs(t, err, session.ErrNotFound)
		assert.NotErrorIs(t, err, tokens.ErrReused)
		for _, at := range []string{p.AccessToken, p2.AccessToken} {
			_, err = e.tk.VerifyLive(req("Bearer " + at))
			assert.ErrorIs(t, err, tokens.ErrInvalidToken, "VerifyLive, older sid followed too")
			_, err = e.verify(at)
			assert.NoError(t, err, "Verify: no store call, valid until exp")
		}
		assert.Empty(t, e.sessions("erin"))
	}
}

// TestVerifyLiveFollowsRefresh: an access token issued before a refresh is
// still live (its sid names the rotated handle).
func TestVerifyLiveFollowsRefresh(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	p := e.issue("fay")
	_, err := e.tk.VerifyLive(req("Bearer " + p.AccessToken))
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	_, err = e.refresh(p.RefreshToken)
	require.NoError(t, err)
	c, err := e.tk.VerifyLive(req("Bearer " + p.AccessToken))
	require.NoError(t, err)
	assert.Equal(t, "fay", c.Subject)
}

// TestFamilyLimits: the family's own idle and absolute limits, on the
// Manager's clock, longer than the cookie sessions' (30m, 8h).
func TestFamilyLimits(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, nil, tokens.Config{})
		p := e.issue("gus")
		e.clock.Advance(2 * time.Hour) // past the Manager's 30m idle
		require.Len(t, e.sessions("gus"), 1, "listed until its own idle limit")
		p, err := e.refresh(p.RefreshToken)
		require.NoError(t, err)
		e.clock.Advance(24*time.Hour + time.Second)
		assert.Empty(t, e.sessions("gus"))
		_, err = e.refresh(p.RefreshToken)
		assert.ErrorIs(t, err, session.ErrNotFound)
		assert.NotErrorIs(t, err, tokens.ErrReused)
	})
	t.Run("absolute", func(t *testing.T) {
		e := newEnv(t, nil, tokens.Config{RefreshLifetime: 3 * time.Hour, RefreshIdle: time.Hour})
		p := e.issue("hal")
		start := e.clock.Now()
		var err error
		for e.clock.Now().Sub(start) < 3*time.Hour-50*time.Minute {
			e.clock.Advance(50 * time.Minute)
			p, err = e.refresh(p.RefreshToken)
			require.NoError(t, err)
			assert.False(t, p.RefreshExpires.After(start.Add(3*time.Hour)))
			assert.False(t, p.AccessExpires.After(p.RefreshExpires), "an access token never outlives its family")
		}
		e.clock.Advance(50 * time.Minute)
		_, err = e.refresh(p.RefreshToken)
		assert.ErrorIs(t, err, session.ErrNotFound, "past the absolute lifetime")
		assert.Empty(t, e.sessions("hal"))
	})
}

// TestCapCountsFamilies: a family counts under MaxSessionsPerUser.
func TestCapCountsFamilies(t *testing.T) {
	clock := newFakeClock()
	m, err := session.New(session.Config{Clock: clock.Now, Logger: testLogger(), MaxSessionsPerUser: 2, RefuseOverLimit: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	tk, err := tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}, Clock: clock.Now})
	require.NoError(t, err)
	for range 2 {
		p, err := tk.Issue(t.Context(), req(), "ivy")
		require.NoError(t, err)
		record(p)
	}
	_, err = tk.Issue(t.Context(), req(), "ivy")
	assert.ErrorIs(t, err, session.ErrTooManySessions)
}

// TestCookieAndTokenKeySpaces: a refresh token presented as a session
// cookie is unknown, and a cookie session's ID cannot be refreshed.
func TestCookieAndTokenKeySpaces(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	p := e.issue("jay")
	var sawUser string
	h := e.m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { sawUser = session.FromContext(r.Context()).UserID() }))
	r := req()
	r.Header.Set("Cookie", "__Host-Http-sid="+p.RefreshToken)
	r.Method = "GET"
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Empty(t, sawUser, "a refresh token is not a cookie session")
	require.Len(t, e.sessions("jay"), 1)
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	keys := []crypto.Signer{testKey}
	for name, cfg := range map[string]tokens.Config{
		"no key":               {},
		"access over 1h":       {SigningKeys: keys, AccessLifetime: 61 * time.Minute},
		"refresh below access": {SigningKeys: keys, AccessLifetime: 30 * time.Minute, RefreshLifetime: 20 * time.Minute, RefreshIdle: 10 * time.Minute},
		"idle over lifetime":   {SigningKeys: keys, RefreshLifetime: time.Hour, RefreshIdle: 2 * time.Hour},
		"negative leeway":      {SigningKeys: keys, Leeway: -time.Second},
		"huge leeway":          {SigningKeys: keys, Leeway: time.Hour},
		"negative access":      {SigningKeys: keys, AccessLifetime: -time.Minute},
		"P-384 key":            {SigningKeys: append(keys, p384Key(t))},
		"RSA key":              {SigningKeys: append(keys, rsaKey(t))},
		"duplicate key":        {SigningKeys: append(keys, keys[0])},
		"nil key":              {SigningKeys: append(keys, nil)},
	} {
		_, err := tokens.New(e.m, cfg)
		assert.ErrorIs(t, err, session.ErrInvalidConfig, name)
	}
	_, err := tokens.New(nil, tokens.Config{SigningKeys: keys})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)
	_, err = tokens.New(e.m, tokens.Config{SigningKeys: keys, AccessLifetime: time.Hour, RefreshLifetime: time.Hour})
	assert.NoError(t, err, "the bounds themselves are allowed")
}

func TestIssueNeedsUser(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	_, err := e.tk.Issue(t.Context(), req(), "")
	assert.ErrorIs(t, err, session.ErrNoUser)
	for _, bad := range []string{"", "short", string(make([]byte, 43)), "x.y.z"} {
		_, err := e.refresh(bad)
		assert.ErrorIs(t, err, session.ErrNotFound)
		assert.False(t, errors.Is(err, tokens.ErrReused))
	}
}

// TestReuseDetectedHoursLater: a retired refresh token is still recognised
// (its tombstone lingers for the family's idle limit, not the cookie
// sessions' 30 minutes), so a thief who kept the family alive is caught
// when the victim comes back hours later.
func TestReuseDetectedHoursLater(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	victim := e.issue("quentin")
	p := victim
	var err error
	for range 8 { // the thief refreshes every 15 minutes for two hours
		e.clock.Advance(15 * time.Minute)
		p, err = e.refresh(p.RefreshToken)
		require.NoError(t, err)
	}
	_, err = e.refresh(victim.RefreshToken)
	require.ErrorIs(t, err, tokens.ErrReused)
	_, err = e.refresh(p.RefreshToken)
	assert.ErrorIs(t, err, session.ErrNotFound, "the thief's chain, eight rotations on, is ended")
	assert.Empty(t, e.sessions("quentin"))
}
