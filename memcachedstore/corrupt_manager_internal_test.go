package memcachedstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A session item overwritten with garbage is rejected by the Manager with
// reason "corrupt": the item deleted, the cookie expired, one event and no
// store error, never a 5xx.
func TestCorruptItemIsRejectedByManager(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c := memcache.New(srv.Addr)
	st := New(c, WithPrefix("corruptm:"))
	var mu sync.Mutex
	var events []session.Event
	m, err := session.New(session.Config{Store: st, Logger: slog.New(slog.DiscardHandler),
		Cookie:  session.CookieConfig{Name: "sid", AllowInsecure: true},
		OnEvent: func(_ context.Context, e session.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	require.NoError(t, err)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if r.Method == http.MethodPost {
			require.NoError(t, s.Login(r.Context(), "u"))
		}
		_, _ = w.Write([]byte(s.UserID()))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	require.Equal(t, 200, rec.Code)
	var token string
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "sid" {
			token = ck.Value
		}
	}
	require.NotEmpty(t, token)
	sum := sha256.Sum256([]byte(token))
	ikey := st.s.itemKey(base64.RawURLEncoding.EncodeToString(sum[:]))
	_, err = c.Get(ikey)
	require.NoError(t, err, "the test names the session's item")
	require.NoError(t, c.Set(&memcache.Item{Key: ikey, Value: []byte("garbage"), Expiration: 60}))

	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sid", Value: token})
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, 200, rec.Code)
	assert.Empty(t, rec.Body.String())
	_, err = c.Get(ikey)
	assert.ErrorIs(t, err, memcache.ErrCacheMiss, "the corrupt item is deleted")
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, e := range events {
		assert.NotEqual(t, session.EventStoreError, e.Kind)
		if e.Kind == session.EventRejected && e.Reason == "corrupt" {
			n++
		}
	}
	assert.Equal(t, 1, n)
}

// A header session (Manager.Issue) whose item is overwritten with garbage:
// its rotations answer ErrNotFound (the client logs in again), the item is
// deleted, one "corrupt" rejection is emitted and no store error, never a
// store failure on every rotation until the item's expiry.
func TestCorruptHeaderSessionItemIsRejected(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c := memcache.New(srv.Addr)
	st := New(c, WithPrefix("corrupth:"))
	var mu sync.Mutex
	var events []session.Event
	m, err := session.New(session.Config{Store: st, Logger: slog.New(slog.DiscardHandler),
		OnEvent: func(_ context.Context, e session.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	require.NoError(t, err)
	ctx := t.Context()
	iss, err := m.Issue(ctx, nil, "mallory", session.Lifetimes{})
	require.NoError(t, err)
	ikey := st.s.itemKey(iss.Handle)
	_, err = c.Get(ikey)
	require.NoError(t, err, "the test names the session's item")
	require.NoError(t, c.Set(&memcache.Item{Key: ikey, Value: []byte("garbage"), Expiration: 60}))

	for i := range 3 {
		_, err := m.Rotate(ctx, nil, iss.Token, 0)
		require.ErrorIs(t, err, session.ErrNotFound, "rotation %d after the corruption", i)
	}
	_, err = c.Get(ikey)
	assert.ErrorIs(t, err, memcache.ErrCacheMiss, "the corrupt item is deleted")
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, e := range events {
		assert.NotEqual(t, session.EventStoreError, e.Kind, "%+v", e)
		if e.Kind == session.EventRejected && e.Reason == "corrupt" {
			n++
		}
	}
	assert.Equal(t, 1, n)
}
