package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of the stateless CSRF tokens of anonymous visitors (issue 11, item
// 2): a visitor who only reads a page with a form costs no store record.

// csrfCookieName is the anonymous visitor's nonce cookie over TLS.
const csrfCookieName = "__Host-Http-csrf"

// writeCountingStore counts the writes that reach the store.
type writeCountingStore struct {
	session.Store
	creates, updates, deletes atomic.Int64
}

func (s *writeCountingStore) Create(ctx context.Context, key string, r *session.Record) error {
	s.creates.Add(1)
	return s.Store.Create(ctx, key, r)
}

func (s *writeCountingStore) Update(ctx context.Context, key string, d *session.Delta) error {
	s.updates.Add(1)
	return s.Store.Update(ctx, key, d)
}

func (s *writeCountingStore) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *writeCountingStore) writes() int64 {
	return s.creates.Load() + s.updates.Load() + s.deletes.Load()
}

// newCountingCSRFEnv is newCSRFEnv on a memory store whose writes are
// counted.
func newCountingCSRFEnv(t *testing.T, cfg session.Config) (*env, *writeCountingStore, *session.MemoryStore) {
	t.Helper()
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	cs := &writeCountingStore{Store: ms}
	cfg.Store = cs
	return newCSRFEnv(t, cfg), cs, ms
}

// csrfCookie returns the response's Set-Cookie for the nonce cookie, or nil.
func csrfCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// nonce returns the nonce cookie value the client's jar holds ("" if none).
func (c *client) nonce() string {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == csrfCookieName {
			return ck.Value
		}
	}
	return ""
}

// setNonce plants a nonce cookie in the client's jar, as an attacker able to
// inject cookies would.
func (c *client) setNonce(v string) {
	u, _ := url.Parse(c.e.srv.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: csrfCookieName, Value: v, Path: "/", Secure: true}})
}

func TestCSRFLoginFormCostsNoStoreWrite(t *testing.T) {
	e, cs, ms := newCountingCSRFEnv(t, session.Config{})
	const visitors = 200
	var last *client
	var tok string
	for range visitors {
		c := e.client()
		res, body := c.get("/token")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Len(t, body, 86, "a masked token, like the session-bound ones")
		assert.Nil(t, sessionCookie(res), "no session for a visitor who stored nothing")
		if ck := csrfCookie(res, csrfCookieName); assert.NotNil(t, ck, "the token is bound to a nonce cookie") {
			assert.True(t, ck.HttpOnly && ck.Secure, "HttpOnly and Secure")
			assert.Equal(t, "/", ck.Path)
			assert.Empty(t, ck.Domain, "host-only")
			assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
			assert.Zero(t, ck.MaxAge, "a browser-session cookie")
		}
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"), "a response with Set-Cookie is not cached")
		assert.Contains(t, res.Header.Values("Vary"), "Cookie")
		last, tok = c, body
	}
	assert.Zero(t, cs.writes(), "rendering a form wrote to the store")
	assert.Zero(t, memCount(t, ms), "rendering a form left records in the store")

	// The same visitor, again: the nonce cookie is reused, not re-issued,
	// and a second page costs nothing either.
	nonce := last.nonce()
	res, tok2 := last.get("/token")
	assert.Nil(t, csrfCookie(res, csrfCookieName), "an existing nonce is kept")
	assert.NotEqual(t, tok, tok2, "masked per response")
	assert.Equal(t, nonce, last.nonce())

	// The token is accepted for an anonymous POST, still without a record.
	for _, tk := range []string{tok, tok2} {
		res, body := last.csrfPost("/any", tk)
		assert.Equal(t, http.StatusOK, res.StatusCode, body)
	}
	res, body := last.csrfPostForm("/any", url.Values{session.CSRFField: {tok}})
	assert.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Zero(t, cs.writes())
	assert.Zero(t, memCount(t, ms))

	// Storing a value is what creates the record.
	res, _ = last.csrfPost("/set?k=a&v=1", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, 1, memCount(t, ms))
	assert.Empty(t, e.csrfFailures())
}

func TestCSRFStatelessTokenIsBoundToItsNonce(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	a, b := e.client(), e.client()
	tokA, tokB := a.csrfGetToken(), b.csrfGetToken()
	nonceA, nonceB := a.nonce(), b.nonce()
	require.NotEmpty(t, nonceA)
	require.NotEqual(t, nonceA, nonceB)

	res, _ := a.csrfPost("/any", tokB)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "another visitor's token")

	// Without the nonce cookie the token is worthless.
	bare := e.client()
	res, _ = bare.csrfPost("/any", tokA)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "no nonce cookie")
	assert.Empty(t, bare.token(), "a refused anonymous POST creates no session")

	// An attacker who chooses the nonce cannot compute a token for it: the
	// token is a MAC under the Manager's key, not the nonce itself.
	forged := e.client()
	// Another first character: six other bits of the nonce (a change of
	// the last one may decode to the same bytes, its low bits unused).
	first := "B"
	if nonceA[0] == 'B' {
		first = "C"
	}
	forged.setNonce(first + nonceA[1:])
	res, _ = forged.csrfPost("/any", tokA)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "a different nonce")
	for _, bad := range []string{"", "x", strings.Repeat("A", 43), nonceA + "A", nonceA + "." + nonceA, "\x00\xff"} {
		forged.setNonce(bad)
		res, _ = forged.csrfPost("/any", tokA)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, "nonce %q", bad)
	}

	// Another Manager (another key) does not accept this one's tokens, even
	// with the same nonce.
	e2 := newCSRFEnv(t, session.Config{})
	other := e2.client()
	other.setNonce(nonceA)
	res, _ = other.csrfPost("/any", tokA)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "another Manager's key")

	// The right pair still works.
	res, _ = a.csrfPost("/any", tokA)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	for _, r := range e.csrfFailures() {
		assert.Equal(t, "mismatch", r)
	}
}

func TestCSRFStatelessTokenRotatesOnLogin(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	pre := c.csrfGetToken()
	preNonce := c.nonce()

	res, body := c.csrfPost("/login?u=alice", pre)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	require.NotNil(t, sessionCookie(res))
	ck := csrfCookie(res, csrfCookieName)
	require.NotNil(t, ck, "login expires the anonymous nonce cookie")
	assert.Empty(t, ck.Value)
	assert.Less(t, ck.MaxAge, 0, "Max-Age=0")
	assert.Empty(t, c.nonce())

	res, _ = c.csrfPost("/any", pre)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "a pre-login token must not work after login")

	// Even with the old nonce cookie back in the jar (a lost expiry, or
	// planted by an attacker), a logged-in session takes only its own token.
	c.setNonce(preNonce)
	res, _ = c.csrfPost("/any", pre)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "pre-login token with its nonce, after login")

	post := c.csrfGetToken()
	res, _ = c.csrfPost("/any", post)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, []string{"mismatch", "mismatch"}, e.csrfFailures())
}

func TestCSRFPlantedNonceCannotReachLoggedInSession(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	victim := e.client()
	tok := victim.csrfGetToken()
	res, _ := victim.csrfPost("/login?u=victim", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = victim.csrfPost("/set?k=a&v=mine", victim.csrfGetToken())
	require.Equal(t, http.StatusOK, res.StatusCode)

	// The attacker gets a valid anonymous pair of their own and plants the
	// nonce cookie in the victim's browser.
	attacker := e.client()
	atok := attacker.csrfGetToken()
	victim.setNonce(attacker.nonce())
	for _, send := range []func() (*http.Response, string){
		func() (*http.Response, string) { return victim.csrfPost("/set?k=a&v=evil", atok) },
		func() (*http.Response, string) {
			return victim.csrfPostForm("/set", url.Values{"k": {"a"}, "v": {"evil"}, session.CSRFField: {atok}})
		},
	} {
		res, _ := send()
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
	}
	_, v := victim.get("/get?k=a")
	assert.Equal(t, "mine", v)
}

func TestCSRFStatelessTokenSurvivesTheFirstStoredValue(t *testing.T) {
	e, cs, ms := newCountingCSRFEnv(t, session.Config{})

	// The form was rendered anonymously; the post stores a value (and so
	// creates the session). The token keeps working afterwards, until login.
	c := e.client()
	tok := c.csrfGetToken()
	res, _ := c.csrfPost("/set?k=a&v=1", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotNil(t, sessionCookie(res))
	ck := csrfCookie(res, csrfCookieName)
	require.NotNil(t, ck, "the nonce cookie is retired once the session is stored")
	assert.Less(t, ck.MaxAge, 0)
	res, _ = c.csrfPost("/set?k=a&v=2", tok)
	assert.Equal(t, http.StatusOK, res.StatusCode, "the page's token outlives the session's creation")
	res, _ = c.csrfPost("/any", c.csrfGetToken())
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, int64(1), cs.creates.Load())

	// A page that hands out a token and then stores a value in the same
	// response: the token in that page verifies against the new session.
	d := e.client()
	res, body := d.get("/token-then-set")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotNil(t, sessionCookie(res))
	assert.Nil(t, csrfCookie(res, csrfCookieName), "no nonce cookie for a session stored in the same response")
	res, _ = d.csrfPost("/any", body)
	assert.Equal(t, http.StatusOK, res.StatusCode)

	// A stored session of another tab: a token from an earlier anonymous
	// page (same browser) still verifies.
	f := e.client()
	tok = f.csrfGetToken()
	res, _ = f.get("/set-only?k=b&v=1")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotNil(t, sessionCookie(res))
	res, _ = f.csrfPost("/any", tok)
	assert.Equal(t, http.StatusOK, res.StatusCode)

	// Login still rotates it.
	res, _ = f.csrfPost("/login?u=f", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = f.csrfPost("/any", tok)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, 3, memCount(t, ms))
}

func TestCSRFLogoutIssuesAFreshNonce(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	pre := c.csrfGetToken()
	preNonce := c.nonce()
	res, _ := c.csrfPost("/login?u=alice", pre)
	require.Equal(t, http.StatusOK, res.StatusCode)
	// The browser kept the old nonce (the expiry got lost).
	c.setNonce(preNonce)
	res, body := c.csrfPost("/logout-token", c.csrfGetToken())
	require.Equal(t, http.StatusOK, res.StatusCode)
	ck := csrfCookie(res, csrfCookieName)
	require.NotNil(t, ck, "a page rendered after logout gets a new nonce")
	assert.NotEqual(t, preNonce, ck.Value)
	res, _ = c.csrfPost("/any", body)
	assert.Equal(t, http.StatusOK, res.StatusCode, "the token of the logged-out page")
	res, _ = c.csrfPost("/any", pre)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "the pre-login token stays dead after logout")
}

func TestCSRFNonceCookieFollowsCookieConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cookie session.CookieConfig
		want   string
		secure bool
		same   http.SameSite
	}{
		{"default", session.CookieConfig{}, "__Host-Http-csrf", true, http.SameSiteLaxMode},
		{"strict", session.CookieConfig{SameSite: http.SameSiteStrictMode}, "__Host-Http-csrf", true, http.SameSiteStrictMode},
		{"none", session.CookieConfig{SameSite: http.SameSiteNoneMode}, "__Host-Http-csrf", true, http.SameSiteNoneMode},
		{"insecure", session.CookieConfig{AllowInsecure: true}, "csrf", false, http.SameSiteLaxMode},
		{"custom session name", session.CookieConfig{Name: "__Host-app"}, "__Host-Http-csrf", true, http.SameSiteLaxMode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCSRFEnv(t, session.Config{Cookie: tc.cookie})
			c := e.client()
			res, tok := c.get("/token")
			require.Equal(t, http.StatusOK, res.StatusCode)
			ck := csrfCookie(res, tc.want)
			require.NotNil(t, ck, "%v", res.Header.Values("Set-Cookie"))
			assert.Equal(t, tc.secure, ck.Secure)
			assert.True(t, ck.HttpOnly)
			assert.Equal(t, tc.same, ck.SameSite)
			assert.Equal(t, "/", ck.Path)
			assert.Empty(t, ck.Domain)
			res, _ = c.csrfPost("/any", tok)
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
	for _, name := range []string{"__Host-Http-csrf", "csrf"} {
		_, err := session.New(session.Config{Cookie: session.CookieConfig{Name: name, AllowInsecure: name == "csrf"}})
		assert.True(t, errors.Is(err, session.ErrInvalidConfig), "session cookie named like the CSRF cookie: %v", err)
	}
}

func TestCSRFTokenOutsideBodyAfterHeadersSentKeepsExistingNonce(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	tok := c.csrfGetToken()
	// A page that writes its body before asking for a token: with a nonce
	// cookie already in the request, no Set-Cookie is needed.
	res, late := c.get("/late-token")
	require.Equal(t, http.StatusOK, res.StatusCode)
	late = strings.TrimPrefix(late, "body first\n")
	require.Len(t, late, 86)
	res, _ = c.csrfPost("/any", late)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.csrfPost("/any", tok)
	assert.Equal(t, http.StatusOK, res.StatusCode)

	// Without a nonce yet, a late token would be one the browser cannot
	// back: none is given.
	fresh := e.client()
	res, late = fresh.get("/late-token")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "body first\n", late)
	assert.Nil(t, csrfCookie(res, csrfCookieName))
}

func TestCSRFStatelessTokensFollowSigningKeys(t *testing.T) {
	oldKey, newKey := key(7), key(8)
	// Two instances behind one load balancer share the signing keys, and so
	// accept each other's anonymous tokens.
	a := newCSRFEnv(t, session.Config{SigningKeys: [][]byte{oldKey}})
	b := newCSRFEnv(t, session.Config{SigningKeys: [][]byte{oldKey}})
	ca := a.client()
	tok := ca.csrfGetToken()
	cb := b.client()
	cb.setNonce(ca.nonce())
	res, _ := cb.csrfPost("/any", tok)
	assert.Equal(t, http.StatusOK, res.StatusCode, "another instance with the same keys")

	// Rotation: the new key signs, the old one still verifies.
	rotated := newCSRFEnv(t, session.Config{SigningKeys: [][]byte{newKey, oldKey}})
	cr := rotated.client()
	cr.setNonce(ca.nonce())
	res, _ = cr.csrfPost("/any", tok)
	assert.Equal(t, http.StatusOK, res.StatusCode, "a token from before the rotation")
	dropped := newCSRFEnv(t, session.Config{SigningKeys: [][]byte{newKey}})
	cd := dropped.client()
	cd.setNonce(ca.nonce())
	res, _ = cd.csrfPost("/any", tok)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "the old key was dropped")
}

// FuzzCSRFStateless sends arbitrary token and Cookie header pairs to an
// anonymous visitor's check through Handler and CSRF: it never panics,
// answers 200 or a generic 403, and accepts only the token of the one nonce
// the server issued, carried in that nonce's cookie.
func FuzzCSRFStateless(f *testing.F) {
	m, err := session.New(session.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(f, err)
	f.Cleanup(func() { _ = m.Close() })
	h := m.Handler(m.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.CSRFToken(r))
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookies := rec.Result().Cookies()
	require.Len(f, cookies, 1)
	require.Equal(f, csrfCookieName, cookies[0].Name)
	nonce, valid := cookies[0].Value, rec.Body.String()
	secret, ok := csrfRefUnmask(valid)
	require.True(f, ok)

	f.Add(valid, csrfCookieName+"="+nonce)
	f.Add(valid, "a=b; "+csrfCookieName+"="+nonce+"; c=d")
	f.Add(valid, csrfCookieName+`="`+nonce+`"`)
	f.Add(valid, csrfCookieName+"="+nonce[:42]+"B")
	f.Add(valid, csrfCookieName+"="+nonce+"; __Host-Http-sid="+nonce)
	f.Add(valid, "csrf="+nonce)
	f.Add(valid[:85], csrfCookieName+"="+nonce)
	f.Add("", csrfCookieName+"=")
	f.Add(valid, csrfCookieName+"="+strings.Repeat("A", 300))

	f.Fuzz(func(t *testing.T, tok, cookie string) {
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set(session.CSRFHeader, tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got, ok := csrfRefUnmask(tok)
		tokenOK := ok && bytes.Equal(got, secret)
		switch rec.Code {
		case http.StatusOK:
			if !tokenOK || !strings.Contains(cookie, nonce) {
				t.Fatalf("accepted token %q with cookie %q", tok, cookie)
			}
		case http.StatusForbidden:
			if rec.Body.String() != "Forbidden\n" {
				t.Fatalf("body %q is not generic", rec.Body.String())
			}
			if tokenOK && cookie == csrfCookieName+"="+nonce {
				t.Fatalf("refused the issued pair")
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}
