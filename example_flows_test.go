package session_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
)

// quietManager returns a Manager that logs nothing, for the examples.
func quietManager(cfg session.Config) *session.Manager {
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := session.New(cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// loginFrom logs alice in through h from a browser with the given
// User-Agent and returns its cookie.
func loginFrom(h http.Handler, userAgent string) string {
	req := httptest.NewRequest("POST", "https://example.com/login", nil)
	req.Header.Set("User-Agent", userAgent)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return strings.Split(rec.Header().Get("Set-Cookie"), ";")[0]
}

// "Your devices": list a user's sessions, then end one of them by its
// handle. The handle is not a cookie: it cannot be used to log in.
func ExampleManager_Revoke() {
	m := quietManager(session.Config{})
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), "alice"); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
		}
	}))
	loginFrom(h, "Firefox on the laptop")
	loginFrom(h, "Safari on the phone")

	ctx := context.Background()
	infos, _ := m.Sessions(ctx, "alice")
	slices.SortFunc(infos, func(a, b session.SessionInfo) int { return strings.Compare(a.UserAgent, b.UserAgent) })
	for _, s := range infos {
		fmt.Println(s.UserAgent)
	}
	// The user clicks "log out" next to the phone.
	if err := m.Revoke(ctx, "alice", infos[1].Handle); err != nil {
		panic(err)
	}
	infos, _ = m.Sessions(ctx, "alice")
	fmt.Println(len(infos), "left:", infos[0].UserAgent)
	// Output:
	// Firefox on the laptop
	// Safari on the phone
	// 1 left: Firefox on the laptop
}

// A session on Redis: any redis.UniversalClient (a single node, Sentinel,
// or a Cluster). Run Redis with maxmemory-policy noeviction (see
// SECURITY.md).
func ExampleNewRedisStore() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	defer rdb.Close()
	m, err := session.New(session.Config{Store: session.NewRedisStore(rdb)})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	mux := http.NewServeMux() // the application's routes
	_ = http.ListenAndServeTLS(":8443", "cert.pem", "key.pem", m.Handler(mux))
}

// Sensitive routes ask for the password again when the last login is more
// than five minutes old.
func ExampleRequireRecentAuth() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m := quietManager(session.Config{Clock: func() time.Time { return now }})
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice")
	})
	askPassword := http.RedirectHandler("/reauth", http.StatusSeeOther)
	settings := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "email changed")
	})
	mux.Handle("POST /email", session.RequireRecentAuth(5*time.Minute, askPassword)(settings))
	h := m.Handler(mux)

	cookie := loginFrom(h, "Firefox")
	change := func() {
		req := httptest.NewRequest("POST", "https://example.com/email", nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Location"), rec.Body.String())
	}
	change()
	now = now.Add(10 * time.Minute)
	change()
	// Output:
	// 200  email changed
	// 303 /reauth
}

// OnEvent receives every security event, for metrics or an audit trail. It
// must be fast and safe for concurrent use. Events never carry a token:
// Session is a keyed hash.
func ExampleConfig_onEvent() {
	var mu sync.Mutex
	counts := map[string]int{}
	m := quietManager(session.Config{
		OnEvent: func(_ context.Context, e session.Event) {
			mu.Lock()
			counts[e.Kind]++
			mu.Unlock()
		},
	})
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice")
	}))
	loginFrom(h, "Firefox")
	req := httptest.NewRequest("GET", "https://example.com/", nil)
	req.Header.Set("Cookie", "__Host-Http-sid=forged-or-expired")
	h.ServeHTTP(httptest.NewRecorder(), req)

	mu.Lock()
	defer mu.Unlock()
	fmt.Println(session.EventLogin, counts[session.EventLogin])
	fmt.Println(session.EventRejected, counts[session.EventRejected])
	// Output:
	// session.login 2
	// session.rejected 1
}

// Config.Import adopts the session of the library being replaced (here a
// stand-in for scs: package migrate has the real importers). The legacy
// record is consumed before it is returned, so that it is adopted once.
func ExampleImporter() {
	var mu sync.Mutex
	legacy := map[string]string{"legacy-token": "alice"} // legacy ID -> user
	m := quietManager(session.Config{
		Import: func(_ context.Context, r *http.Request) (session.Imported, error) {
			c, err := r.Cookie("session")
			if err != nil {
				return session.Imported{}, nil // no legacy cookie
			}
			mu.Lock()
			user, ok := legacy[c.Value]
			delete(legacy, c.Value) // consume it: at most once
			mu.Unlock()
			old := &http.Cookie{Name: "session", Path: "/"}
			if !ok {
				return session.Imported{Legacy: old}, nil // gone: expire the cookie
			}
			return session.Imported{Legacy: old, UserID: user, Values: map[string]any{"theme": "dark"}}, nil
		},
	})
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		fmt.Printf("user %q theme %q\n", s.UserID(), s.GetString("theme"))
	}))
	for range 2 {
		req := httptest.NewRequest("GET", "https://example.com/", nil)
		req.Header.Set("Cookie", "session=legacy-token")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			fmt.Printf("  Set-Cookie %s (MaxAge %d)\n", c.Name, c.MaxAge)
		}
	}
	// Output:
	// user "alice" theme "dark"
	//   Set-Cookie __Host-Http-sid (MaxAge 0)
	//   Set-Cookie session (MaxAge -1)
	// user "" theme ""
	//   Set-Cookie session (MaxAge -1)
}
