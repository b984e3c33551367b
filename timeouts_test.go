package session_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One session (an admin's) can have shorter limits than the Manager's, never
// longer ones.
func TestPerSessionTimeouts(t *testing.T) {
	clk := newFakeClock()
	app := testApp().(*http.ServeMux)
	app.HandleFunc("POST /admin", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		require.NoError(t, s.Login(r.Context(), "root"))
		require.NoError(t, s.SetTimeouts(5*time.Minute, 20*time.Minute))
	})
	app.HandleFunc("POST /lax", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		require.NoError(t, s.Login(r.Context(), "user"))
		require.NoError(t, s.SetTimeouts(10*time.Hour, 100*time.Hour)) // capped at the Manager's
	})
	cfg := session.Config{Clock: clk.Now, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour,
		Store: session.NewMemoryStore(session.WithSweepInterval(0))}
	e := newEnv(t, cfg, app)

	admin := e.client()
	admin.post("/admin")
	clk.Advance(4 * time.Minute)
	_, body := admin.get("/whoami")
	require.Equal(t, "root", body)
	clk.Advance(6 * time.Minute) // 6 minutes idle: past the admin's 5
	_, body = admin.get("/whoami")
	assert.Empty(t, body, "the per-session idle timeout was not enforced")

	admin = e.client()
	admin.post("/admin")
	for range 5 { // active, but past 20 minutes in all
		clk.Advance(4*time.Minute + 30*time.Second)
		admin.get("/whoami")
	}
	_, body = admin.get("/whoami")
	assert.Empty(t, body, "the per-session absolute timeout was not enforced")

	lax := e.client()
	lax.post("/lax")
	clk.Advance(31 * time.Minute)
	_, body = lax.get("/whoami")
	assert.Empty(t, body, "a session's own limit can never exceed the Manager's")
}

// TestStoredLongerLimitsNeedPersist: a record whose own limits are longer
// than the Manager's but which is not persistent (one written before
// SetTimeouts capped what it stores) still ends at the Manager's limits;
// only a remembered (persistent) session keeps longer ones.
func TestStoredLongerLimitsNeedPersist(t *testing.T) {
	clk := newFakeClock()
	store := session.NewMemoryStore(session.WithSweepInterval(0))
	t.Cleanup(func() { _ = store.Close() })
	e := newEnv(t, session.Config{Clock: clk.Now, Store: store, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 8 * time.Hour}, testApp())
	plant := func(user string, persist bool) *client {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		tok := base64.RawURLEncoding.EncodeToString(raw)
		now := clk.Now()
		r := &session.Record{Meta: session.Meta{UserID: user, CreatedAt: now, LastSeen: now, AuthenticatedAt: now,
			IdleTimeout: 10 * time.Hour, AbsoluteTimeout: 100 * time.Hour, Persist: persist, Linger: time.Hour,
			Expires: now.Add(10 * time.Hour)}}
		require.NoError(t, store.Create(t.Context(), storeKeyOf(tok), r))
		c := e.client()
		c.setToken(tok)
		return c
	}
	legacy, kept := plant("legacy", false), plant("kept", true)
	clk.Advance(time.Hour) // idle past the Manager's 30 minutes
	_, who := legacy.get("/whoami")
	assert.Empty(t, who, "a non-persistent session outlived the Manager's idle limit")
	_, who = kept.get("/whoami")
	assert.Equal(t, "kept", who, "a persistent session keeps its own longer limits")
}
