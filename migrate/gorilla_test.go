package migrate_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/migrate"
)

var (
	gorillaHashKey  = bytes.Repeat([]byte{1}, 32)
	gorillaBlockKey = bytes.Repeat([]byte{2}, 32)
)

// gorillaLogin logs userID in with a real gorilla/sessions CookieStore and
// returns its cookie.
func gorillaLogin(t *testing.T, userID any) *http.Cookie {
	t.Helper()
	store := sessions.NewCookieStore(gorillaHashKey, gorillaBlockKey)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.Get(r, "app-session")
		require.NoError(t, err)
		s.Values["userID"] = userID
		s.Values["theme"] = "dark"
		s.AddFlash("welcome back")
		require.NoError(t, s.Save(r, w))
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "app-session" {
			return c
		}
	}
	t.Fatal("gorilla set no cookie")
	return nil
}

func gorillaImporter(t *testing.T, once func(context.Context, string, time.Time) (bool, error)) session.Importer {
	t.Helper()
	imp, err := migrate.Gorilla(migrate.GorillaConfig{
		Cookie:   http.Cookie{Name: "app-session", Secure: true, SameSite: http.SameSiteNoneMode},
		KeyPairs: [][]byte{gorillaHashKey, gorillaBlockKey},
		UserKey:  "userID",
		Once:     once,
	})
	require.NoError(t, err)
	return imp
}

// The bar: a user logged in with gorilla/sessions stays logged in across
// the switch: the first request with only gorilla's cookie ends with our
// cookie, the same user and the values, and gorilla's cookie expired.
func TestGorillaUserStaysLoggedIn(t *testing.T) {
	legacy := gorillaLogin(t, 42)
	m, h, ev := newManager(t, gorillaImporter(t, nil))
	code, body, set := serve(h, legacy)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "42|dark", body)
	ours := set[ourCookie]
	require.NotNil(t, ours)
	require.NotNil(t, set["app-session"], "gorilla's cookie is expired")
	assert.Equal(t, -1, set["app-session"].MaxAge)
	assert.True(t, set["app-session"].Secure)
	assert.Equal(t, 1, ev.count(session.EventImported))

	// Our cookie: the same session, with gorilla's flashes kept under
	// their key.
	var flashes []string
	h2 := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		flashes, _ = session.Get[[]string](s, "_flash")
		w.Write([]byte(s.UserID()))
	}))
	_, body, _ = serve(h2, ours)
	assert.Equal(t, "42", body)
	assert.Equal(t, []string{"welcome back"}, flashes)
}

// With Once (here on a real Redis), a copy of the cookie presented again,
// before or after the browser dropped it, adopts nothing: one legacy
// cookie, one session.
func TestGorillaOnce(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	legacy := gorillaLogin(t, "alice")
	m, h, _ := newManager(t, gorillaImporter(t, migrate.RedisOnce(rdb, "")))

	_, body, set := serve(h, legacy)
	assert.Equal(t, "alice|dark", body)
	assert.NotNil(t, set[ourCookie])
	_, body, set = serve(h, legacy)
	assert.Equal(t, "|", body, "a claimed cookie is not adopted again")
	assert.Nil(t, set[ourCookie])
	assert.NotNil(t, set["app-session"])
	infos, err := m.Sessions(context.Background(), "alice")
	require.NoError(t, err)
	assert.Len(t, infos, 1)
	keys, err := rdb.Keys(context.Background(), "migrate:once:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	ttl, err := rdb.TTL(context.Background(), keys[0]).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 29*24*time.Hour, "the claim lasts as long as the cookie could open")
}

// Forged, tampered and garbage cookies do not open: nothing is adopted,
// the request is served anonymous, session.import_failed is emitted and the
// cookie expired.
func TestGorillaBadCookie(t *testing.T) {
	_, h, ev := newManager(t, gorillaImporter(t, nil))
	good := gorillaLogin(t, 42).Value
	other := sessions.NewCookieStore(bytes.Repeat([]byte{9}, 32))
	forged := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	s, _ := other.Get(req, "app-session")
	s.Values["userID"] = 1
	require.NoError(t, s.Save(req, forged))
	for _, v := range []string{
		forged.Result().Cookies()[0].Value, // another key
		good[:len(good)-2] + "AA",          // tampered
		"%%%", strings.Repeat("A", 5000), "",
	} {
		code, body, set := serve(h, &http.Cookie{Name: "app-session", Value: v})
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "|", body)
		assert.Nil(t, set[ourCookie])
		require.NotNil(t, set["app-session"])
		assert.Equal(t, -1, set["app-session"].MaxAge)
	}
	assert.Equal(t, 5, ev.count(session.EventImportFailed))
}

func TestGorillaConfig(t *testing.T) {
	for _, cfg := range []migrate.GorillaConfig{
		{KeyPairs: [][]byte{gorillaHashKey}, UserKey: "u"},
		{Cookie: http.Cookie{Name: "s"}, UserKey: "u"},
		{Cookie: http.Cookie{Name: "s"}, KeyPairs: [][]byte{gorillaHashKey}},
	} {
		_, err := migrate.Gorilla(cfg)
		assert.ErrorIs(t, err, session.ErrInvalidConfig)
	}
}
