package session_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore counts Loads, to show what is refused before the store.
type countingStore struct {
	session.Store
	loads atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, key string) (*session.Record, error) {
	c.loads.Add(1)
	return c.Store.Load(ctx, key)
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSignedIDsRotateWithoutLoggingAnyoneOut(t *testing.T) {
	mem := session.NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	store := &countingStore{Store: mem}
	oldKey, newKey := key(1), key(2)

	// Issued under the old key.
	e1 := newEnv(t, session.Config{Store: store, SigningKeys: [][]byte{oldKey}}, testApp())
	c := e1.client()
	c.post("/login?u=alice")
	signed := c.token()
	tok, sig, ok := strings.Cut(signed, ".")
	require.True(t, ok, "signed cookie is token.mac: %q", signed)
	assert.Len(t, tok, 43)
	assert.Len(t, sig, 43)

	// Rotate: the new key signs, the old one still verifies.
	e2 := newEnv(t, session.Config{Store: store, SigningKeys: [][]byte{newKey, oldKey}}, testApp())
	c2 := e2.client()
	c2.setToken(signed)
	res, body := c2.get("/whoami")
	assert.Equal(t, "alice", body, "rotation logged the user out")
	ck := sessionCookie(res)
	require.NotNil(t, ck, "the cookie is re-issued under the new key")
	assert.True(t, strings.HasPrefix(ck.Value, tok+"."), "same session, new signature")
	assert.NotEqual(t, signed, ck.Value)

	// Drop the old key: cookies still signed with it stop working, without
	// a store lookup.
	e3 := newEnv(t, session.Config{Store: store, SigningKeys: [][]byte{newKey}}, testApp())
	c3 := e3.client()
	c3.setToken(signed)
	before := store.loads.Load()
	_, body = c3.get("/whoami")
	assert.Empty(t, body)
	assert.Equal(t, before, store.loads.Load(), "a bad signature must be refused before the store")
	c3.setToken(ck.Value) // the re-issued one works
	_, body = c3.get("/whoami")
	assert.Equal(t, "alice", body)

	// Forged and unsigned IDs are refused without a store round trip.
	for _, v := range []string{tok, tok + "." + strings.Repeat("A", 43), tok + ".", "." + sig, signed + "x"} {
		f := e3.client()
		f.setToken(v)
		before := store.loads.Load()
		_, body := f.get("/whoami")
		assert.Empty(t, body, v)
		assert.Equal(t, before, store.loads.Load(), v)
	}
	assert.Contains(t, e3.events.kinds(), session.EventRejected)

	_, err := session.New(session.Config{SigningKeys: [][]byte{[]byte("short")}})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)
}

func TestHeaderTransportForAPIClients(t *testing.T) {
	for _, hdr := range []string{"X-Auth-Token", "Authorization"} {
		t.Run(hdr, func(t *testing.T) {
			m, err := session.New(session.Config{TokenHeader: hdr, Logger: testLogger()})
			require.NoError(t, err)
			defer m.Close()
			h := m.Handler(testApp())
			send := func(method, path, token string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(method, "https://api.example"+path, nil)
				if token != "" {
					if hdr == "Authorization" {
						req.Header.Set(hdr, "Bearer "+token)
					} else {
						req.Header.Set(hdr, token)
					}
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			res := send("POST", "/login?u=alice", "")
			require.Equal(t, 200, res.Code)
			assert.Empty(t, res.Header().Values("Set-Cookie"), "no cookie in header mode")
			tok := res.Header().Get("X-Auth-Token")
			require.Len(t, tok, 43)
			suiteTokens.Store(tok, struct{}{})
			assert.Equal(t, "no-store", res.Header().Get("Cache-Control"))

			assert.Equal(t, "alice", send("GET", "/whoami", tok).Body.String())
			// Never from the URL.
			assert.Empty(t, send("GET", "/whoami?X-Auth-Token="+tok+"&access_token="+tok+"&sid="+tok, "").Body.String())
			// A cookie is ignored in header mode.
			req := httptest.NewRequest("GET", "https://api.example/whoami", nil)
			req.AddCookie(&http.Cookie{Name: "__Host-Http-sid", Value: tok})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Empty(t, rec.Body.String())

			res = send("POST", "/logout", tok)
			assert.Equal(t, []string{""}, res.Header().Values("X-Auth-Token"), "logout clears the token")
			assert.Empty(t, send("GET", "/whoami", tok).Body.String())
		})
	}
	// A different Authorization scheme is not a session token.
	m, err := session.New(session.Config{TokenHeader: "Authorization", Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	req := httptest.NewRequest("GET", "/whoami", nil)
	req.SetBasicAuth("u", "p")
	rec := httptest.NewRecorder()
	m.Handler(testApp()).ServeHTTP(rec, req)
	assert.Equal(t, 200, rec.Code)
	assert.Empty(t, rec.Header().Values("X-Auth-Token"))
}

func TestCookieIsNeverReadFromURL(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	tok := c.token()
	anon := e.client()
	for _, q := range []string{"?sid=", "?__Host-Http-sid=", "?__Host-sid=", "?session=", "?token="} {
		_, body := anon.get("/whoami" + q + tok)
		assert.Empty(t, body, q)
	}
}

func TestClientBindingPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy     session.BindingPolicy
		stillUser  bool
		recentAuth bool
	}{
		{session.BindLog, true, true},
		{session.BindReauth, true, false},
		{session.BindDestroy, false, false},
	} {
		app := testApp().(*http.ServeMux)
		app.HandleFunc("GET /auth", func(w http.ResponseWriter, r *http.Request) {
			s := session.FromContext(r.Context())
			if !s.AuthenticatedAt().IsZero() {
				w.Write([]byte("recent"))
			}
		})
		e := newEnv(t, session.Config{Binding: tc.policy}, app)
		c := e.client()
		c.ua = "Firefox/1"
		c.post("/login?u=alice")
		_, body := c.get("/whoami")
		require.Equal(t, "alice", body)
		require.NotContains(t, e.events.kinds(), session.EventBindingChanged, "same device")

		c.ua = "Chrome/2" // the cookie shows up on another device
		_, body = c.get("/auth")
		assert.Equal(t, tc.recentAuth, body == "recent", "policy %d", tc.policy)
		_, body = c.get("/whoami")
		assert.Equal(t, tc.stillUser, body == "alice", "policy %d", tc.policy)
		assert.Contains(t, e.events.kinds(), session.EventBindingChanged)
	}
}
