package memcachedstore_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/require"
)

// app is a small application under m.Handler: log in, read who is logged
// in, write a value, log out. Every session holds its owner's name as a
// value too, so a test can tell a session that came back wrong.
type app struct {
	t   testing.TB
	m   *session.Manager
	srv *httptest.Server

	mu     sync.Mutex
	during func() // run inside the next /set handler, after the Set
}

func newApp(t testing.TB, st session.Store) *app {
	t.Helper()
	return newAppConfig(t, session.Config{Store: st})
}

// newAppConfig is newApp with more of the Manager's configuration.
func newAppConfig(t testing.TB, cfg session.Config) *app {
	t.Helper()
	cfg.Cookie = session.CookieConfig{Name: "sid", AllowInsecure: true}
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := session.New(cfg)
	require.NoError(t, err)
	a := &app{t: t, m: m}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		u := r.URL.Query().Get("u")
		if err := s.Login(r.Context(), u); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		_ = s.Set("owner", u)
		_ = s.Set("pad", r.URL.Query().Get("pad"))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_, _ = io.WriteString(w, s.UserID()+"|"+s.GetString("owner"))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.Set("v", r.URL.Query().Get("v"))
		a.mu.Lock()
		f := a.during
		a.during = nil
		a.mu.Unlock()
		if f != nil {
			f()
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).RevokeOthers(r.Context()); err != nil {
			http.Error(w, "revoke failed", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
		}
	})
	a.srv = httptest.NewServer(m.Handler(mux))
	t.Cleanup(a.srv.Close)
	return a
}

// duringNextSet runs f inside the next /set handler, after its Set and
// before the commit.
func (a *app) duringNextSet(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.during = f
}

// browser is one client: it keeps the sid cookie it was given.
type browser struct {
	a     *app
	token string
	ua    string
}

func (a *app) browser() *browser { return &browser{a: a} }

// do sends a request with the browser's cookie and keeps the cookie the
// response sets; it returns the status and body.
func (b *browser) do(method, path string) (int, string) {
	b.a.t.Helper()
	req, err := http.NewRequest(method, b.a.srv.URL+path, nil)
	require.NoError(b.a.t, err)
	if b.ua != "" {
		req.Header.Set("User-Agent", b.ua)
	}
	if b.token != "" {
		req.AddCookie(&http.Cookie{Name: "sid", Value: b.token})
	}
	res, err := b.a.srv.Client().Do(req)
	require.NoError(b.a.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.Name == "sid" {
			b.token = c.Value
			if c.MaxAge < 0 {
				b.token = ""
			}
		}
	}
	return res.StatusCode, string(body)
}

// whoami returns the status and the user and owner the session names.
func (b *browser) whoami() (status int, user, owner string) {
	status, body := b.do("GET", "/whoami")
	user, owner, _ = strings.Cut(body, "|")
	return status, user, owner
}
