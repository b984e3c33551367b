package sessiontest_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sessiontest"
)

func counter(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	if err := s.Set("n", s.GetInt("n")+1); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func logout(w http.ResponseWriter, r *http.Request) {
	if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// runStores runs fn on the memory store (the default) and on a sealed
// cookie store: the harness uses only the Manager's public API.
func runStores(t *testing.T, fn func(t *testing.T, h *sessiontest.Harness)) {
	t.Run("memory", func(t *testing.T) { fn(t, sessiontest.New(t, session.Config{})) })
	t.Run("explicit-memory", func(t *testing.T) {
		fn(t, sessiontest.New(t, session.Config{Store: session.NewMemoryStore()}))
	})
	t.Run("cookie", func(t *testing.T) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		cs, err := session.NewCookieStore(key)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, sessiontest.New(t, session.Config{Store: cs}))
	})
}

func TestValuesPersistAcrossRuns(t *testing.T) {
	runStores(t, func(t *testing.T, h *sessiontest.Harness) {
		res := h.Run(http.HandlerFunc(counter), h.Request("POST", "/", nil))
		if res.Cookie == nil {
			t.Fatal("no session cookie committed")
		}
		res = h.Run(http.HandlerFunc(counter), res.Next("POST", "/", nil))
		if got := res.Session().GetInt("n"); got != 2 {
			t.Fatalf("n = %d, want 2", got)
		}
	})
}

func TestLoggedInRequestAndLogout(t *testing.T) {
	runStores(t, func(t *testing.T, h *sessiontest.Harness) {
		req := h.Request("POST", "/logout", nil, sessiontest.User("alice"), sessiontest.Values(map[string]any{"n": 5}))
		pre := h.Run(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), req)
		if pre.UserID() != "alice" || pre.Session().GetInt("n") != 5 {
			t.Fatalf("set-up session: user %q n %d", pre.UserID(), pre.Session().GetInt("n"))
		}
		res := h.Run(http.HandlerFunc(logout), pre.Next("POST", "/logout", nil))
		if res.Cookie != nil {
			t.Fatalf("cookie still set after logout: %v", res.Cookie)
		}
		if res.UserID() != "" || res.Session().Has("n") {
			t.Fatal("logged-out session still readable")
		}
		found := false
		for _, k := range res.Kinds() {
			found = found || k == session.EventDestroyed
		}
		if !found {
			t.Fatalf("events %v, want %s", res.Kinds(), session.EventDestroyed)
		}
	})
}

func TestAnonymousReadOnlyRequestCommitsNothing(t *testing.T) {
	h := sessiontest.New(t, session.Config{})
	res := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, session.FromContext(r.Context()).GetString("x"))
	}), h.Request("GET", "/", nil))
	if res.Cookie != nil || len(res.Events) != 0 {
		t.Fatalf("cookie %v, events %v", res.Cookie, res.Kinds())
	}
}

func TestOnEventStillCalled(t *testing.T) {
	n := 0
	h := sessiontest.New(t, session.Config{OnEvent: func(_ context.Context, _ session.Event) { n++ }})
	h.Request("GET", "/", nil, sessiontest.User("u"))
	if n == 0 {
		t.Fatal("the Config's OnEvent was not called")
	}
}
