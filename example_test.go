package session_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sessionkit/session"
)

// A visit counter: the whole integration is New, Handler and FromContext.
func ExampleManager_Handler() {
	m, err := session.New(session.Config{}) // in-memory store, safe defaults
	if err != nil {
		panic(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n := s.GetInt("visits") + 1
		if err := s.Set("visits", n); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n)
	})
	h := m.Handler(mux)

	// Two requests from one browser.
	var cookie string
	for range 2 {
		req := httptest.NewRequest("GET", "https://example.com/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c := rec.Result().Cookies(); len(c) > 0 {
			cookie = c[0].Name + "=" + c[0].Value
		}
		fmt.Println(rec.Body.String())
	}
	// Output:
	// visit 1
	// visit 2
}

// Login renews the ID, binds the user and records the device; Destroy logs
// out on the server and in the browser.
func ExampleSession_Login() {
	m, _ := session.New(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer m.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the credentials first ...
		if err := session.FromContext(r.Context()).Login(r.Context(), "alice"); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Destroy(r.Context())
	})
	h := m.Handler(mux)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "https://example.com/login", nil))
	set := rec.Header().Get("Set-Cookie")
	fmt.Println(rec.Code, strings.Contains(set, "HttpOnly; Secure; SameSite=Lax"))

	infos, _ := m.Sessions(context.Background(), "alice")
	fmt.Println(len(infos), "session for alice")

	req := httptest.NewRequest("POST", "https://example.com/logout", nil)
	req.Header.Set("Cookie", strings.Split(set, ";")[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0"))
	infos, _ = m.Sessions(context.Background(), "alice")
	fmt.Println(len(infos), "sessions for alice")
	// Output:
	// 303 true
	// 1 session for alice
	// true
	// 0 sessions for alice
}

// Typed reads: values keep their Go types through the store.
func ExampleGet() {
	type Cart struct{ Items []string }
	m, _ := session.New(session.Config{})
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.Set("cart", Cart{Items: []string{"book"}})
		cart, ok := session.Get[Cart](s, "cart")
		fmt.Println(cart.Items, ok)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "https://example.com/", nil))
	// Output: [book] true
}

// After a password change: end every other session of the user and keep
// this one under a fresh ID.
func ExampleSession_RevokeOthers() {
	m, _ := session.New(session.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		switch r.URL.Path {
		case "/login":
			_ = s.Login(r.Context(), "alice")
		case "/password":
			// ... verify the old password, store the new hash ...
			if err := s.RevokeOthers(r.Context()); err != nil {
				http.Error(w, "error", http.StatusInternalServerError)
			}
		}
	}))
	login := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "https://example.com/login", nil))
		return strings.Split(rec.Header().Get("Set-Cookie"), ";")[0]
	}
	laptop := login()
	_ = login() // phone
	infos, _ := m.Sessions(context.Background(), "alice")
	fmt.Println(len(infos), "devices")

	req := httptest.NewRequest("POST", "https://example.com/password", nil)
	req.Header.Set("Cookie", laptop)
	h.ServeHTTP(httptest.NewRecorder(), req)
	infos, _ = m.Sessions(context.Background(), "alice")
	fmt.Println(len(infos), "device")
	// Output:
	// 2 devices
	// 1 device
}
