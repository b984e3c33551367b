package session_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newKey(t testing.TB) []byte {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func newCookieStore(t testing.TB, keys ...[]byte) *session.CookieStore {
	cs, err := session.NewCookieStore(keys...)
	require.NoError(t, err)
	return cs
}

// cookieApp is testApp plus the routes the cookie-store tests need.
func cookieApp() *http.ServeMux {
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /handle", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).Handle())
	})
	app.HandleFunc("POST /persist", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).SetPersist(true); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	return app
}

func rejectedUnsealable(evs []session.Event) bool {
	for _, e := range evs {
		if e.Kind == session.EventRejected && e.Reason == "unsealable" {
			return true
		}
	}
	return false
}

func TestCookieStoreRoundTrip(t *testing.T) {
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t))}, cookieApp())
	c := e.client()

	res, _ := c.get("/get?k=a")
	assert.Nil(t, sessionCookie(res), "an untouched anonymous session gets no cookie")

	res, _ = c.post("/set?k=secret&v=plaintext-value-42")
	require.Equal(t, http.StatusOK, res.StatusCode)
	ck := sessionCookie(res)
	require.NotNil(t, ck)
	assert.True(t, ck.HttpOnly)
	assert.True(t, ck.Secure)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.Equal(t, "/", ck.Path)
	assert.NotContains(t, ck.Value, "plaintext")
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))

	_, body := c.get("/get?k=secret")
	assert.Equal(t, "plaintext-value-42", body)

	// A read-only request whose touch is not due sends no cookie.
	res, _ = c.get("/get?k=secret")
	assert.Nil(t, sessionCookie(res), "read-only request re-sealed the cookie")

	_, before := c.get("/handle")
	res, _ = c.post("/login?u=alice")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotNil(t, sessionCookie(res))
	_, after := c.get("/handle")
	assert.NotEqual(t, before, after, "login keeps the session ID")
	_, body = c.get("/whoami")
	assert.Equal(t, "alice", body)
	_, body = c.get("/get?k=secret")
	assert.Equal(t, "plaintext-value-42", body, "login dropped the values")

	res, _ = c.post("/inc")
	require.NotNil(t, sessionCookie(res))
	_, body = c.post("/inc")
	assert.Equal(t, "2", body)

	res, _ = c.post("/logout")
	require.Equal(t, http.StatusOK, res.StatusCode)
	ck = sessionCookie(res)
	require.NotNil(t, ck)
	assert.Empty(t, ck.Value)
	assert.Equal(t, -1, ck.MaxAge, "logout must expire the cookie")
	_, body = c.get("/whoami")
	assert.Empty(t, body)
	assert.Contains(t, e.events.kinds(), session.EventDestroyed)
}

// Every damaged cookie is a fresh session and an event, never an error page
// or a panic.
func TestCookieStoreTampering(t *testing.T) {
	key := newKey(t)
	e := newEnv(t, session.Config{Store: newCookieStore(t, key)}, cookieApp())
	c := e.client()
	c.post("/set?k=a&v=1")
	good := c.token()
	require.NotEmpty(t, good)
	other := e.client()
	other.post("/set?k=a&v=2")
	otherValue := other.token()

	// The same record sealed for another cookie name, and under another key.
	renamed := sealElsewhere(t, newCookieStore(t, key), "other-name")
	foreign := sealElsewhere(t, newCookieStore(t, newKey(t)), "__Host-Http-sid")

	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var bad []string
	for i := range len(good) {
		flip := b64[(strings.IndexByte(b64, good[i])+1)%64]
		bad = append(bad, good[:i]+string(flip)+good[i+1:])
	}
	for _, n := range []int{1, 10, len(good) / 2, len(good) - 1} {
		bad = append(bad, good[:len(good)-n])
	}
	bad = append(bad, good+"A", good+"AAAA", good+good,
		good[:10]+otherValue[10:], // another cookie's ciphertext under this header
		renamed, foreign, "", "x", strings.Repeat("A", 5000))

	for i, v := range bad {
		before := len(e.events.all())
		c.setToken(v)
		res, body := c.get("/get?k=a")
		require.Equal(t, http.StatusOK, res.StatusCode, "case %d", i)
		require.Empty(t, body, "case %d: a damaged cookie was accepted", i)
		if v != "" {
			require.True(t, rejectedUnsealable(e.events.all()[before:]), "case %d: no rejected event", i)
			if ck := sessionCookie(res); assert.NotNil(t, ck, "case %d", i) {
				assert.Equal(t, -1, ck.MaxAge, "case %d: the damaged cookie is expired", i)
			}
		}
	}
	// The good cookie still opens.
	c.setToken(good)
	_, body := c.get("/get?k=a")
	assert.Equal(t, "1", body)
}

// sealElsewhere returns a live cookie value issued by another Manager
// using cs and the cookie name.
func sealElsewhere(t *testing.T, cs *session.CookieStore, name string) string {
	m, err := session.New(session.Config{Store: cs, Cookie: session.CookieConfig{Name: name}, Logger: testLogger()})
	require.NoError(t, err)
	rec := httpDo(m, http.MethodPost, "/set?k=a&v=1", nil)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == name {
			return ck.Value
		}
	}
	t.Fatal("no cookie")
	return ""
}

func TestCookieStoreExpiryFromSealedTimestamps(t *testing.T) {
	clk := newFakeClock()
	cfg := session.Config{Store: newCookieStore(t, newKey(t)), Clock: clk.Now,
		IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour}
	e := newEnv(t, cfg, cookieApp())

	c := e.client()
	c.post("/login?u=bob")
	idleCookie := c.token()
	clk.Advance(11 * time.Minute)
	res, body := c.get("/whoami")
	assert.Empty(t, body, "idle cookie accepted")
	assert.Contains(t, e.events.kinds(), session.EventExpiredIdle)
	if ck := sessionCookie(res); assert.NotNil(t, ck) {
		assert.Equal(t, -1, ck.MaxAge)
	}

	// Active all along, but past the absolute deadline: a cookie refreshed by
	// touches is still dead, and so is a replay of an older one.
	c = e.client()
	c.post("/login?u=bob")
	first := c.token()
	for range 11 { // 55 minutes, touched every 5
		clk.Advance(5 * time.Minute)
		_, body = c.get("/whoami")
		require.Equal(t, "bob", body)
	}
	assert.NotEqual(t, first, c.token(), "the touch re-sealed the cookie")
	clk.Advance(6 * time.Minute) // 61 minutes since login, 6 idle
	_, body = c.get("/whoami")
	assert.Empty(t, body, "absolute timeout not enforced")
	assert.Contains(t, e.events.kinds(), session.EventExpiredAbsolute)

	c.setToken(idleCookie)
	_, body = c.get("/whoami")
	assert.Empty(t, body, "a replayed old cookie was accepted")
}

func TestCookieStoreExpiryRealClock(t *testing.T) {
	cfg := session.Config{Store: newCookieStore(t, newKey(t)), IdleTimeout: 400 * time.Millisecond,
		AbsoluteTimeout: time.Second, TouchInterval: 50 * time.Millisecond}
	e := newEnv(t, cfg, cookieApp())
	c := e.client()
	c.post("/login?u=carol")
	_, body := c.get("/whoami")
	require.Equal(t, "carol", body)
	time.Sleep(500 * time.Millisecond)
	_, body = c.get("/whoami")
	assert.Empty(t, body, "idle timeout not enforced on the real clock")
	assert.Contains(t, e.events.kinds(), session.EventExpiredIdle)
}

func TestCookieStoreKeyRotation(t *testing.T) {
	oldKey, newKeyB := newKey(t), newKey(t)
	app := cookieApp()
	before := newEnv(t, session.Config{Store: newCookieStore(t, oldKey)}, app)
	c := before.client()
	c.post("/login?u=dave")
	c.post("/set?k=a&v=kept")
	sealedOld := c.token()

	after := newEnv(t, session.Config{Store: newCookieStore(t, newKeyB, oldKey)}, app)
	c2 := after.client()
	c2.setToken(sealedOld)
	res, body := c2.get("/whoami")
	assert.Equal(t, "dave", body, "rotation logged the user out")
	ck := sessionCookie(res)
	require.NotNil(t, ck, "a cookie under an older key must be re-sealed at once")
	assert.NotEqual(t, sealedOld, ck.Value)

	// The re-sealed cookie opens with the new key alone.
	only := newEnv(t, session.Config{Store: newCookieStore(t, newKeyB)}, app)
	c3 := only.client()
	c3.setToken(ck.Value)
	_, body = c3.get("/get?k=a")
	assert.Equal(t, "kept", body)
	c3.setToken(sealedOld)
	_, body = c3.get("/whoami")
	assert.Empty(t, body, "a dropped key still opens")
	assert.True(t, rejectedUnsealable(only.events.all()))
}

func TestCookieStoreTooLarge(t *testing.T) {
	var setErr error
	app := cookieApp()
	app.HandleFunc("POST /big", func(w http.ResponseWriter, r *http.Request) {
		setErr = session.FromContext(r.Context()).Set("big", strings.Repeat("x", 4000))
		fmt.Fprint(w, "done")
	})
	app.HandleFunc("POST /fill", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		for i := 0; ; i++ {
			if err := s.Set(fmt.Sprint("k", i), strings.Repeat("y", 100)); err != nil {
				setErr = err
				break
			}
		}
	})
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t))}, app)
	c := e.client()
	c.post("/set?k=a&v=kept")
	res, _ := c.post("/big")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.ErrorIs(t, setErr, session.ErrTooLarge)
	assert.Nil(t, sessionCookie(res), "a refused Set must leave the cookie as it was")
	_, body := c.get("/get?k=a")
	assert.Equal(t, "kept", body)

	// Filling up value by value stops at the limit with a cookie that fits.
	setErr = nil
	res, _ = c.post("/fill")
	require.ErrorIs(t, setErr, session.ErrTooLarge)
	raw := res.Header.Get("Set-Cookie")
	require.NotEmpty(t, raw)
	assert.LessOrEqual(t, len(raw), cookieLimit)
	assert.Greater(t, len(raw), cookieLimit-200, "the limit is far from 4096: the size check is off")
	_, body = c.get("/get?k=k0")
	assert.Equal(t, strings.Repeat("y", 100), body)
	_, body = c.get("/get?k=a")
	assert.Equal(t, "kept", body)

	// Login adds the device and must fit too (or fail cleanly).
	res, _ = c.post("/persist")
	require.Equal(t, http.StatusOK, res.StatusCode)
	raw = res.Header.Get("Set-Cookie")
	assert.LessOrEqual(t, len(raw), cookieLimit)
}

func TestCookieStoreStatelessLimits(t *testing.T) {
	cs := newCookieStore(t, newKey(t))
	var errs []error
	app := cookieApp()
	app.HandleFunc("POST /others", func(w http.ResponseWriter, r *http.Request) {
		errs = append(errs, session.FromContext(r.Context()).RevokeOthers(r.Context()))
	})
	e := newEnv(t, session.Config{Store: cs}, app)
	c := e.client()
	c.post("/login?u=erin")
	c.post("/others")
	ctx := context.Background()
	_, err := e.m.Sessions(ctx, "erin")
	errs = append(errs, err, e.m.Revoke(ctx, "erin", strings.Repeat("A", 43)), e.m.RevokeUser(ctx, "erin"))
	for i, err := range errs {
		assert.ErrorIs(t, err, errors.ErrUnsupported, "case %d", i)
	}

	_, err = session.New(session.Config{Store: cs, MaxSessionsPerUser: 3})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)
	_, err = session.New(session.Config{Store: cs, TokenHeader: "Authorization"})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)

	for _, keys := range [][][]byte{nil, {nil}, {nil, newKey(t)}, {make([]byte, 16)}, {make([]byte, 32), make([]byte, 32)}} {
		_, err = session.NewCookieStore(keys...)
		assert.ErrorIs(t, err, session.ErrInvalidConfig)
	}
	_, err = session.NewCookieStore(newKey(t), nil) // no old key
	assert.NoError(t, err)

	// The Store methods say plainly that nothing is kept on the server.
	_, err = cs.Load(ctx, "k")
	assert.ErrorIs(t, err, session.ErrNotFound)
	assert.ErrorIs(t, cs.Create(ctx, "k", &session.Record{}), errors.ErrUnsupported)
	assert.ErrorIs(t, cs.Update(ctx, "k", &session.Delta{}), session.ErrNotFound)
	assert.NoError(t, cs.Delete(ctx, "k"))
}

// A value set after the headers went out cannot reach a cookie: Set says so.
func TestCookieStoreSetAfterHeaders(t *testing.T) {
	var setErr error
	app := cookieApp()
	app.HandleFunc("POST /late", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		w.WriteHeader(http.StatusOK)
		setErr = s.Set("late", "v")
	})
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t))}, app)
	c := e.client()
	c.post("/set?k=a&v=1")
	c.post("/late")
	assert.ErrorIs(t, setErr, session.ErrHeadersSent)
}

// Documented limit: a copy of a cookie taken before logout stays valid
// until its deadline (there is no server state to end it).
func TestCookieStoreReplayAfterLogoutIsTheDocumentedLimit(t *testing.T) {
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t))}, cookieApp())
	c := e.client()
	c.post("/login?u=frank")
	stolen := c.token()
	c.post("/logout")
	c.setToken(stolen)
	_, body := c.get("/whoami")
	assert.Equal(t, "frank", body, "if this changed, update the CookieStore doc and README")
}

// httpDo runs one request through m.Handler(cookieApp()) on a recorder.
func httpDo(m *session.Manager, method, target string, cookie *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://example.com"+target, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	m.Handler(cookieApp()).ServeHTTP(rec, req)
	return rec
}

// The size check of Set uses the cookie's real attributes: a remembered
// session's Max-Age (days) is longer than the normal absolute timeout's
// (here a minute), so a Set that fits the one but not the other must fail
// rather than be dropped at commit under a 200.
func TestCookieStoreRememberedCookieFits(t *testing.T) {
	var setErr error
	var e *env
	app := rememberApp(func() *session.Manager { return e.m }).(*http.ServeMux)
	app.HandleFunc("POST /fill-max", func(w http.ResponseWriter, r *http.Request) {
		_ = session.CSRFToken(r) // the session holds its CSRF secret: no room reserved for one
		s := session.FromContext(r.Context())
		for n := cookieLimit; n > 0; n-- {
			if setErr = s.Set("big", strings.Repeat("x", n)); setErr == nil {
				return
			}
		}
	})
	e = newEnv(t, session.Config{Store: newCookieStore(t, newKey(t)), IdleTimeout: time.Minute, AbsoluteTimeout: time.Minute}, app)
	c := e.client()
	res, _ := c.post("/login-remember?u=kim")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Greater(t, sessionCookie(res).MaxAge, 24*60*60)

	res, _ = c.post("/fill-max")
	require.NoError(t, setErr)
	assert.NotContains(t, e.events.kinds(), session.EventStoreError)
	if assert.NotNil(t, sessionCookie(res), "a Set that returned nil was not sent") {
		assert.LessOrEqual(t, len(res.Header.Get("Set-Cookie")), cookieLimit)
		assert.Greater(t, sessionCookie(res).MaxAge, 24*60*60)
	}
}

// cookieLimit is the documented bound of a CookieStore session's
// Set-Cookie header (RFC 6265's 4096 bytes), asserted as a number here so
// a change to the constant in the package cannot pass unnoticed.
const cookieLimit = 4096
