package tokens_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testkit"
	"github.com/sessionkit/session/tokens"
)

// suite is what TestMain scans after the run: every line any test Manager
// logged and every access or refresh token any test client received, none of which may
// appear in a log line (ASVS 16.2.5).
var suite = testkit.Scan{What: "access or refresh token",
	Proof: func(logs string) bool { return strings.Contains(logs, session.EventRenewed) },
}

var (
	suiteLog    = &suite.Log
	suiteTokens = &suite.Secrets // token -> struct{}
)

func TestMain(m *testing.M) { testkit.Main(m, &suite) }

// record notes a pair's tokens for the log scan and returns it.
func record(p *tokens.Pair) *tokens.Pair {
	if p != nil {
		suiteTokens.Store(p.AccessToken, struct{}{})
		suiteTokens.Store(p.RefreshToken, struct{}{})
	}
	return p
}

// fakeClock is a settable clock, shared by a Manager and its store.
type fakeClock = testkit.Clock

func newFakeClock() *fakeClock { return testkit.NewClock(time.Now()) }

type eventLog struct {
	mu sync.Mutex
	ev []session.Event
}

func (l *eventLog) add(_ context.Context, e session.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) of(kind string) []session.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []session.Event
	for _, e := range l.ev {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// env is a Manager, its Tokens and what the test watches.
type env struct {
	t      *testing.T
	m      *session.Manager
	tk     *tokens.Tokens
	clock  *fakeClock
	events *eventLog
	key    ed25519.PrivateKey
}

// testKey is a fixed Ed25519 key (tests only).
var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// newEnv builds a Manager over the store newStore returns for the fake
// clock (nil: a memory store) and Tokens with cfg (its keys and clock filled in when empty).
func newEnv(t *testing.T, newStore func(now func() time.Time) session.Store, cfg tokens.Config) *env {
	t.Helper()
	e := &env{t: t, clock: newFakeClock(), events: &eventLog{}, key: testKey}
	var store session.Store
	if newStore != nil {
		store = newStore(e.clock.Now)
	} else {
		ms := session.NewMemoryStore()
		t.Cleanup(func() { _ = ms.Close() })
		store = ms
	}
	m, err := session.New(session.Config{
		Store:   store,
		Clock:   e.clock.Now,
		Logger:  testLogger(),
		OnEvent: e.events.add,
	})
	require.NoError(t, err)
	if cfg.SigningKeys == nil {
		cfg.SigningKeys = []crypto.Signer{e.key}
	}
	if cfg.Clock == nil {
		cfg.Clock = e.clock.Now
	}
	e.m = m
	e.tk, err = tokens.New(m, cfg)
	require.NoError(t, err)
	return e
}

// req is a request from a client device.
func req(authorization ...string) *http.Request {
	r := httptest.NewRequest("POST", "https://api.example/token", nil)
	r.Header.Set("User-Agent", "TestApp/1.0")
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	return r
}

func (e *env) issue(user string) *tokens.Pair {
	e.t.Helper()
	p, err := e.tk.Issue(e.t.Context(), req(), user)
	require.NoError(e.t, err)
	return record(p)
}

func (e *env) refresh(rt string) (*tokens.Pair, error) {
	p, err := e.tk.Refresh(e.t.Context(), req(), rt)
	if err != nil && len(rt) > 8 {
		require.NotContains(e.t, err.Error(), rt, "a refresh token in an error string")
	}
	return record(p), err
}

func (e *env) verify(access string) (*tokens.Claims, error) {
	c, err := e.tk.Verify(req("Bearer " + access))
	if err != nil && len(access) > 8 {
		require.NotContains(e.t, err.Error(), access, "an access token in an error string")
	}
	return c, err
}

func (e *env) sessions(user string) []session.SessionInfo {
	e.t.Helper()
	infos, err := e.m.Sessions(e.t.Context(), user)
	require.NoError(e.t, err)
	return infos
}

// testLogger writes JSON lines to the suite log.
func testLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(suiteLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// httpHandlerFunc is a handler that calls f and answers 200.
func httpHandlerFunc(f func()) http.Handler {
	return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { f() })
}

// claimsProbe stores the claims Handler put in the context.
func claimsProbe(got **tokens.Claims) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { *got = tokens.FromContext(r.Context()) })
}
