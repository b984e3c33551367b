// Package sessiontest helps test handlers that use [session.Session]: build
// a request that carries a session (anonymous, or logged in as a user, with
// values), run a handler under [session.Manager.Handler], and read back what
// it committed: the values and user the store now holds, the session
// cookie, and the events emitted.
//
//	h := sessiontest.New(t, session.Config{}) // memory store
//	req := h.Request("POST", "/checkout", nil, sessiontest.User("alice"), sessiontest.Values(map[string]any{"cart": 3}))
//	res := h.Run(checkout, req)
//	if res.Session().Has("cart") { t.Error("cart not emptied") }
//
// Sessions are set up and read back through the Manager's public API only,
// so any [session.Store] (Config.Store) works the same way.
package sessiontest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session"
)

// Harness runs handlers under one [session.Manager] and records its events.
type Harness struct {
	t      testing.TB
	m      *session.Manager
	cookie string // the session cookie's name

	mu     sync.Mutex
	events []session.Event
}

// New returns a Harness around a Manager built from cfg (the memory store
// when cfg.Store is nil). cfg.OnEvent, when set, still receives every
// event. Without cfg.Logger nothing is logged (the events are in each
// [Result]). It fails t if cfg is invalid, and closes the Manager when t
// ends.
func New(t testing.TB, cfg session.Config) *Harness {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Harness{t: t, cookie: cookieName(&cfg.Cookie)}
	next := cfg.OnEvent
	cfg.OnEvent = func(ctx context.Context, e session.Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
		if next != nil {
			next(ctx, e)
		}
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatalf("sessiontest: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	h.m = m
	return h
}

// cookieName returns the session cookie's name under c (see
// [session.CookieConfig] Name).
func cookieName(c *session.CookieConfig) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.AllowInsecure:
		return "sid"
	}
	return "__Host-Http-sid"
}

// Manager returns the Manager the Harness runs handlers under.
func (h *Harness) Manager() *session.Manager { return h.m }

// Option describes the session a request built by [Harness.Request]
// carries.
type Option func(*setup)

type setup struct {
	user   string
	values map[string]any
}

// User makes the request's session logged in as userID (by
// [session.Session.Login]).
func User(userID string) Option { return func(s *setup) { s.user = userID } }

// Values stores vs in the request's session (by [session.Session.Set]).
func Values(vs map[string]any) Option {
	return func(s *setup) {
		if s.values == nil {
			s.values = make(map[string]any, len(vs))
		}
		for k, v := range vs {
			s.values[k] = v
		}
	}
}

// Request returns a request for target (a path or an https URL) carrying a
// stored session as the options describe; without options it carries no
// session cookie (an anonymous visitor). The session is created through
// the Manager like a real one, so it passes every check a real one does.
func (h *Harness) Request(method, target string, body io.Reader, opts ...Option) *http.Request {
	h.t.Helper()
	var su setup
	for _, o := range opts {
		o(&su)
	}
	r := newRequest(method, target, body)
	if su.user == "" && len(su.values) == 0 {
		return r
	}
	res := h.Run(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		for k, v := range su.values {
			if err := s.Set(k, v); err != nil {
				h.t.Errorf("sessiontest: set %q: %v", k, err)
			}
		}
		if su.user != "" {
			if err := s.Login(r.Context(), su.user); err != nil {
				h.t.Errorf("sessiontest: login %q: %v", su.user, err)
			}
		}
	}), newRequest("POST", "/", nil))
	if res.Cookie == nil {
		h.t.Fatalf("sessiontest: the session was not stored (events %v)", res.Events)
	}
	r.AddCookie(res.Cookie)
	return r
}

// newRequest is httptest.NewRequest with an https URL for a path, so a
// Secure cookie is at home.
func newRequest(method, target string, body io.Reader) *http.Request {
	if strings.HasPrefix(target, "/") {
		target = "https://example.com" + target
	}
	return httptest.NewRequest(method, target, body)
}

// Result is what a handler run by [Harness.Run] committed.
type Result struct {
	// Response is the recorded response; Body its body.
	Response *http.Response
	Body     string
	// Cookie is the session cookie the client holds afterwards: the one
	// the response set, else the request's; nil when the session ended
	// (its cookie expired) or there is none.
	Cookie *http.Cookie
	// Events are the events the Manager emitted during the run.
	Events []session.Event

	h *Harness
}

// Run serves r with handler under the Manager's Handler and returns what
// it committed.
func (h *Harness) Run(handler http.Handler, r *http.Request) *Result {
	h.t.Helper()
	h.mu.Lock()
	from := len(h.events)
	h.mu.Unlock()
	rec := httptest.NewRecorder()
	h.m.Handler(handler).ServeHTTP(rec, r)
	res := &Result{Response: rec.Result(), Body: rec.Body.String(), h: h}
	res.Cookie = h.committedCookie(res.Response, r)
	h.mu.Lock()
	res.Events = append([]session.Event(nil), h.events[from:]...)
	h.mu.Unlock()
	return res
}

// committedCookie returns the session cookie a client holds after res.
func (h *Harness) committedCookie(res *http.Response, r *http.Request) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == h.cookie {
			if c.MaxAge < 0 || c.Value == "" {
				return nil
			}
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	if c, err := r.Cookie(h.cookie); err == nil {
		return &http.Cookie{Name: c.Name, Value: c.Value}
	}
	return nil
}

// Session returns the session as the store holds it after the run, read
// through the Manager with the committed cookie (an anonymous, empty
// session when there is none): use its getters, [session.Get] and
// UserID. Reading it is a request of its own (it may refresh the idle
// deadline, as any request does).
func (res *Result) Session() *session.Session {
	var s *session.Session
	r := newRequest("GET", "/", nil)
	if res.Cookie != nil {
		r.AddCookie(res.Cookie)
	}
	res.h.m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		s = session.FromContext(r.Context())
		_ = s.Keys() // load now, while the request runs
	})).ServeHTTP(httptest.NewRecorder(), r)
	return s
}

// UserID returns the user of the committed session, "" if anonymous.
func (res *Result) UserID() string { return res.Session().UserID() }

// Next returns a request for target carrying the committed session cookie,
// as the client's next request would.
func (res *Result) Next(method, target string, body io.Reader) *http.Request {
	r := newRequest(method, target, body)
	if res.Cookie != nil {
		r.AddCookie(res.Cookie)
	}
	return r
}

// Kinds returns the kinds of res.Events, in order.
func (res *Result) Kinds() []string {
	out := make([]string, 0, len(res.Events))
	for _, e := range res.Events {
		out = append(out, e.Kind)
	}
	return out
}
