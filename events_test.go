package session_test

import (
	"context"
	"encoding/json"
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

// Events carry who, where and a keyed hash of the session, never the token.
func TestEventsCarryContextButNoToken(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.ua = "EventBrowser/1"
	c.post("/set?k=a&v=1")
	first := c.token()
	c.post("/login?u=alice")
	second := c.token()
	c.post("/renew")
	third := c.token()
	c.post("/logout")
	c.setToken(third) // replay the dead ID
	c.get("/whoami")
	c.setToken("garbage")
	c.get("/whoami")

	want := []string{session.EventCreated, session.EventLogin, session.EventRenewed, session.EventDestroyed, session.EventRejected}
	assert.Subset(t, e.events.kinds(), want)
	hashes := map[string]bool{}
	for _, ev := range e.events.all() {
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		for _, tok := range []string{first, second, third} {
			assert.NotContains(t, string(raw), tok, "event %s carries a token", ev.Kind)
		}
		assert.Equal(t, "127.0.0.1", ev.IP, ev.Kind)
		assert.Equal(t, "EventBrowser/1", ev.UserAgent, ev.Kind)
		assert.False(t, ev.Time.IsZero())
		if ev.Session != "" {
			assert.Len(t, ev.Session, 16, "a keyed hash prefix")
			hashes[ev.Kind+":"+ev.Session] = true
		}
		if ev.Kind == session.EventLogin || ev.Kind == session.EventRenewed || ev.Kind == session.EventDestroyed {
			assert.Equal(t, "alice", ev.UserID, ev.Kind)
		}
	}
	assert.NotEmpty(t, hashes)
	assert.NotContains(t, suiteLog.String(), third)
	assert.True(t, strings.Contains(suiteLog.String(), `"msg":"session.login"`), "events are logged through slog")
}

// Managers sharing an EventKey log the same hash for the same session, so
// lines from several instances correlate.
func TestEventKeyMakesHashesStable(t *testing.T) {
	k := []byte("0123456789abcdef0123456789abcdef")
	store := session.NewMemoryStore()
	defer store.Close()
	a := newEnv(t, session.Config{Store: store, EventKey: k}, testApp())
	b := newEnv(t, session.Config{Store: store, EventKey: k}, testApp())
	ca := a.client()
	ca.post("/login?u=alice")
	cb := b.client()
	cb.setToken(ca.token())
	cb.post("/logout")
	var login, logout string
	for _, ev := range a.events.all() {
		if ev.Kind == session.EventLogin {
			login = ev.Session
		}
	}
	for _, ev := range b.events.all() {
		if ev.Kind == session.EventDestroyed {
			logout = ev.Session
		}
	}
	require.NotEmpty(t, login)
	assert.Equal(t, login, logout)
}

// TestRedteamBindingEventUnderSessionLock breaks "Events are emitted after
// the session's lock is released: an OnEvent hook or a context-aware
// slog.Handler may call any Session method".
//
// checkBinding (binding.go) runs inside load, under s.mu, and calls m.emit
// directly instead of s.queue. Sequence: Config.Binding = BindLog (or
// BindReauth/BindDestroy) and an OnEvent hook that calls
// FromContext(ctx).UserID(); log in with User-Agent A; send one request
// with User-Agent B that reads the session. The hook blocks on s.mu, held
// by the same goroutine: the request hangs forever. A thief replaying a
// stolen cookie from another browser is enough to hang a worker per
// request. (A context-aware slog.Handler that reads the session hangs the
// same way.)
//
// Fix (one line): binding.go: m.emit(ctx, s.event(...)) -> s.queue(s.event(...)).
func TestRedteamBindingEventUnderSessionLock(t *testing.T) {
	for _, policy := range []session.BindingPolicy{session.BindLog, session.BindReauth, session.BindDestroy} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			m, err := session.New(session.Config{
				Logger:  testLogger(),
				Binding: policy,
				OnEvent: func(ctx context.Context, e session.Event) {
					if s := session.FromContext(ctx); s != nil {
						_ = s.UserID() // any Session method
					}
				},
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = m.Close() })
			h := m.Handler(testApp())

			login := httptest.NewRequest("POST", "https://example.com/login?u=alice", nil)
			login.Header.Set("User-Agent", "browser-A")
			w := serveWithin(h, login, 5*time.Second)
			require.NotNil(t, w, "login hung")
			require.Equal(t, 200, w.Code)
			ck := sessionCookie(w.Result())
			require.NotNil(t, ck)

			other := httptest.NewRequest("GET", "https://example.com/whoami", nil)
			other.Header.Set("User-Agent", "browser-B") // binding change
			other.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			w = serveWithin(h, other, 3*time.Second)
			assert.NotNil(t, w, "request deadlocked: EventBindingChanged is emitted under the session lock and the OnEvent hook called a Session method")
		})
	}
}
