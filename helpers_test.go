package session_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testkit"
	"github.com/stretchr/testify/require"
)

// suite is what TestMain scans after the run: every line any test Manager
// logged and every session token any test client received, none of which may
// appear in a log line (ASVS 16.2.5).
var suite = testkit.Scan{What: "session token"}

var (
	suiteLog    = &suite.Log
	suiteTokens = &suite.Secrets // token -> struct{}
)

func TestMain(m *testing.M) { testkit.Main(m, &suite) }

// lockedBuffer is a log sink for one test.
type lockedBuffer = testkit.Buffer

// testLogger returns a logger writing JSON lines to the suite log (and to t
// on failure, via the returned buffer).
func testLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(suiteLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fakeClock is a settable clock, shared by a Manager and its store.
type fakeClock = testkit.Clock

func newFakeClock() *fakeClock { return testkit.NewClock(time.Now()) }

// env is a TLS test server running a Manager, and helpers to talk to it.
type env struct {
	t      *testing.T
	m      *session.Manager
	srv    *httptest.Server
	events *eventLog
}

type eventLog struct {
	mu sync.Mutex
	ev []session.Event
}

func (l *eventLog) add(_ context.Context, e session.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.ev {
		out = append(out, e.Kind)
	}
	return out
}

func (l *eventLog) all() []session.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]session.Event(nil), l.ev...)
}

// newEnv starts an HTTPS server with a Manager built from cfg around h.
func newEnv(t *testing.T, cfg session.Config, h http.Handler) *env {
	t.Helper()
	ev := &eventLog{}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = ev.add
	}
	m, err := session.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	srv := httptest.NewTLSServer(m.Handler(h))
	t.Cleanup(srv.Close)
	return &env{t: t, m: m, srv: srv, events: ev}
}

// client is a browser-like client: its own cookie jar, recording every
// session token it receives for the suite-wide log scan.
type client struct {
	t    *testing.T
	e    *env
	http *http.Client
	ua   string
}

func (e *env) client() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	base := e.srv.Client().Transport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: e.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	return &client{t: e.t, e: e, http: &http.Client{
		Jar:       jar,
		Transport: recordTokens{base},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

type recordTokens struct{ rt http.RoundTripper }

func (r recordTokens) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.rt.RoundTrip(req)
	if err == nil {
		for _, c := range res.Cookies() {
			if c.Value != "" {
				suiteTokens.Store(c.Value, struct{}{})
			}
		}
	}
	return res, err
}

// do sends a request and returns the response with its body read.
func (c *client) do(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	require.NoError(c.t, err)
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.http.Do(req)
	require.NoError(c.t, err)
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	require.NoError(c.t, res.Body.Close())
	return res, string(b)
}

func (c *client) get(path string) (*http.Response, string) { return c.do("GET", path, nil) }
func (c *client) post(path string) (*http.Response, string) {
	return c.do("POST", path, nil)
}

// token returns the session token the client's jar holds ("" if none).
func (c *client) token() string {
	u := c.e.srv.URL
	req, _ := http.NewRequest("GET", u, nil)
	for _, ck := range c.http.Jar.Cookies(req.URL) {
		if ck.Name == c.e.cookieName() {
			return ck.Value
		}
	}
	return ""
}

// setToken plants a cookie value in the client's jar.
func (c *client) setToken(v string) {
	req, _ := http.NewRequest("GET", c.e.srv.URL, nil)
	c.http.Jar.SetCookies(req.URL, []*http.Cookie{{Name: c.e.cookieName(), Value: v, Path: "/"}})
}

func (e *env) cookieName() string { return "__Host-Http-sid" }

// sessionCookie returns the response's Set-Cookie for the session, or nil.
func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "__Host-Http-sid" || c.Name == "sid" {
			return c
		}
	}
	return nil
}

// rtStoreKey mirrors the package's storeKey (SHA-256, base64url).
func rtStoreKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// storeKeyOf is the store key of a session token issued under the default
// cookie name: base64url(SHA-256("__Host-Http-sid:" + token)), as the
// README's Redis key layout documents.
func storeKeyOf(tok string) string { return rtStoreKey("__Host-Http-sid:" + tok) }

// rtHeaderFamily mirrors headerFamily: the family of a header token.
func rtHeaderFamily(token string) string { return rtStoreKey("hdrfam:" + token[:24]) }

// serveWithin runs one request through h and reports the recorder, or nil
// when it did not finish within d (the handler goroutine is leaked: it is
// stuck on a lock, which is the finding).
func serveWithin(h http.Handler, r *http.Request, d time.Duration) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, r)
	}()
	select {
	case <-done:
		return w
	case <-time.After(d):
		return nil
	}
}

// deleteHookStore is hookStore plus a hook that runs once just before a
// Delete or an EndFamily reaches the store (it lands another request
// between the two store steps of Manager.Revoke or Destroy: the load and
// the end).
type deleteHookStore struct {
	*hookStore
	beforeDelete atomic.Pointer[func(key string)]
}

func (d *deleteHookStore) Delete(ctx context.Context, key string) error {
	if f := d.beforeDelete.Swap(nil); f != nil {
		(*f)(key)
	}
	return d.hookStore.Delete(ctx, key)
}

func (d *deleteHookStore) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	if f := d.beforeDelete.Swap(nil); f != nil {
		(*f)(family)
	}
	return d.hookStore.EndFamily(ctx, family)
}

// longChain is more renewals than any hop limit the Manager once had (8
// when following a logout, 256 for a reused refresh token).
const longChain = 12

// flakyStore is a memory store whose Update fails while failUpdate is set.
type flakyStore struct {
	session.Store
	failUpdate atomic.Bool
}

func newFlakyStore() *flakyStore { return &flakyStore{Store: session.NewMemoryStore()} }

func (f *flakyStore) Update(ctx context.Context, key string, d *session.Delta) error {
	if f.failUpdate.Load() {
		return fmt.Errorf("%w: %w", session.ErrStore, errBackend)
	}
	return f.Store.Update(ctx, key, d)
}

func storeErrorEvents(e *env) []session.Event {
	var out []session.Event
	for _, ev := range e.events.all() {
		if ev.Kind == session.EventStoreError {
			out = append(out, ev)
		}
	}
	return out
}
