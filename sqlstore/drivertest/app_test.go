package drivertest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
)

// app is a Manager on a store behind a test HTTP server.
type app struct {
	m      *session.Manager
	srv    *httptest.Server
	events *events
}

// events records the events a Manager emitted, and their kinds.
type events struct {
	mu    sync.Mutex
	kinds []string
	all   []session.Event
}

func (e *events) add(_ context.Context, ev session.Event) {
	e.mu.Lock()
	e.kinds = append(e.kinds, ev.Kind)
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

// expiries returns the events of sessions the store dropped for expiry
// (Reason "expired"), by user.
func (e *events) expiries() map[string][]session.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][]session.Event{}
	for _, ev := range e.all {
		if ev.Reason == "expired" {
			out[ev.UserID] = append(out[ev.UserID], ev)
		}
	}
	return out
}

func (e *events) has(kind string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range e.kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// newApp serves a small application: /login?u=, /set?k=&v=, /get?k=,
// /whoami, /renew, /logout.
func newApp(t *testing.T, st session.Store, audit *sqlstore.Store, cfg session.Config) *app {
	t.Helper()
	a := &app{events: &events{}}
	cfg.Store = st
	cfg.Cookie.AllowInsecure = true
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.OnEvent = func(ctx context.Context, e session.Event) {
		a.events.add(ctx, e)
		if audit != nil {
			audit.Audit(ctx, e)
		}
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusConflict) }
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set(r.URL.Query().Get("k"), r.URL.Query().Get("v")); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).GetString(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, session.FromContext(r.Context()).UserID())
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Renew(r.Context()); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			fail(w, err)
			return
		}
		io.WriteString(w, "ok")
	})
	a.srv = httptest.NewServer(m.Handler(mux))
	t.Cleanup(a.srv.Close)
	return a
}

// client is a browser: a cookie jar and a User-Agent.
type client struct {
	t  *testing.T
	a  *app
	hc *http.Client
	ua string
}

func (a *app) client(t *testing.T, ua string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, a: a, hc: &http.Client{Jar: jar}, ua: ua}
}

// do sends a request and returns the status and body.
func (c *client) do(method, path string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.a.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("User-Agent", c.ua)
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

func (c *client) post(path string) (int, string) { return c.do("POST", path) }
func (c *client) get(path string) (int, string)  { return c.do("GET", path) }

// cookies returns the client's cookies for the app.
func (c *client) cookies() []*http.Cookie {
	u, _ := url.Parse(c.a.srv.URL)
	return c.hc.Jar.Cookies(u)
}

// copyTo gives other the same cookies (a stolen or shared session).
func (c *client) copyTo(other *client) {
	u, _ := url.Parse(c.a.srv.URL)
	other.hc.Jar.SetCookies(u, c.cookies())
}
