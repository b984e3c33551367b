package otelsession_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/otelsession"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// eventLog records the events a chained hook saw.
type eventLog struct {
	mu     sync.Mutex
	events []session.Event
}

func (l *eventLog) add(_ context.Context, e session.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []session.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]session.Event(nil), l.events...)
}

// TestThroughHandler drives a real Manager and m.Handler over HTTP: a
// login, a rejected bogus cookie, a replayed cookie after logout and a
// logout are counted by kind and reason, every store operation the
// requests and the devices API make is timed with its outcome, the chained
// hook still sees every event, and the live gauge follows the store.
func TestThroughHandler(t *testing.T) {
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	in, reader := newInstruments(t, otelsession.WithLiveSessions(func(ctx context.Context) (int64, error) {
		n, err := ms.Count(ctx)
		return int64(n), err
	}))
	var log eventLog
	m := newManager(t, ms, in, log.add)
	srv := httptest.NewServer(m.Handler(testApp()))
	t.Cleanup(srv.Close)
	ctx := context.Background()

	browser := newClient(t, srv)
	browser.do("POST", "/set", "", http.StatusOK)   // anonymous session created: create
	browser.do("POST", "/login", "", http.StatusOK) // load ok, rotate ok
	browser.do("POST", "/set", "", http.StatusOK)   // load ok, update ok
	browser.do("GET", "/", "", http.StatusOK)       // load ok (read-only: no write)
	loggedIn := browser.cookie()
	require.NotEmpty(t, loggedIn)

	live := find(t, collect(t, reader), "session.live")
	gauge, ok := live.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "session.live is an int64 gauge")
	require.Len(t, gauge.DataPoints, 1)
	n, err := ms.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(n), gauge.DataPoints[0].Value)
	assert.Positive(t, gauge.DataPoints[0].Value, "alice's session is live")

	infos, err := m.Sessions(ctx, "alice") // user_sessions ok
	require.NoError(t, err)
	require.Len(t, infos, 1)

	other := newClient(t, srv)
	other.do("GET", "/", "sid=not-a-token", http.StatusOK)      // rejected: malformed, no store call
	other.do("GET", "/", "sid="+storetest.Key(), http.StatusOK) // rejected: unknown (load not_found)

	browser.do("POST", "/logout", "", http.StatusOK) // load ok, delete ok
	other.do("GET", "/", loggedIn, http.StatusOK)    // the Tombstone: rejected as destroyed
	require.NoError(t, m.RevokeUser(ctx, "alice"))   // revoke_user ok
	browser.do("POST", "/login", "", http.StatusOK)  // a new session: rotate ok
	require.NoError(t, m.RevokeUser(ctx, "alice"))   // revoke_user ok
	browser.do("GET", "/", "", http.StatusOK)        // load not_found: revoked
	assert.Empty(t, browser.cookie(), "the revoked cookie is expired")

	metrics := collect(t, reader)
	events := eventCounts(t, metrics)
	assert.Equal(t, map[string]int64{
		session.EventCreated:                               1,
		session.EventLogin:                                 2,
		session.EventDestroyed:                             1,
		session.EventRejected + "/malformed":               1,
		session.EventRejected + "/unknown":                 1,
		session.EventRejected + "/" + session.EndDestroyed: 1,
		session.EventRejected + "/" + session.EndRevoked:   1,
		session.EventRevoked + "/revoke_user":              2,
	}, events)

	// The chained hook saw the same events, one for one.
	seen := map[string]int64{}
	for _, e := range log.all() {
		k := e.Kind
		if e.Kind == session.EventRejected || e.Kind == session.EventRevoked {
			k += "/" + e.Reason
		}
		seen[k]++
	}
	assert.Equal(t, events, seen, "Chain passes every event on")

	stores := storeCounts(t, metrics)
	for _, want := range []string{
		"create/ok", "load/ok", "load/not_found", "rotate/ok", "update/ok",
		"end_family/ok", "user_sessions/ok", "revoke_user/ok",
	} {
		assert.Positive(t, stores[want], "no %s measurement; got %v", want, stores)
	}
	assert.Equal(t, uint64(2), stores["revoke_user/ok"])
	assert.Equal(t, uint64(1), stores["user_sessions/ok"])
	assert.Zero(t, stores["load/error"]+stores["update/error"]+stores["rotate/error"], "no failure happened")

	assertNoPersonalData(t, metrics, log.all(), loggedIn, srv.Listener.Addr().String())
}

// assertNoPersonalData checks every attribute of every data point against
// the fixed vocabulary, and against what the requests carried: no session
// hash, token, user, IP or User-Agent may appear in any key or value.
func assertNoPersonalData(t *testing.T, metrics []metricdata.Metrics, events []session.Event, cookie, addr string) {
	t.Helper()
	forbidden := []string{"alice", "127.0.0.1", "otelsession-test-agent", strings.TrimPrefix(cookie, "sid="), addr}
	for _, e := range events {
		for _, s := range []string{e.Session, e.UserID, e.IP, e.UserAgent} {
			if s != "" {
				forbidden = append(forbidden, s)
			}
		}
	}
	allowedKeys := map[string]bool{
		"session.event.kind": true, "session.event.reason": true,
		"session.store.operation": true, "session.store.outcome": true,
	}
	attrs := allAttributes(metrics)
	require.NotEmpty(t, attrs)
	for _, kv := range attrs {
		assert.True(t, allowedKeys[string(kv.Key)], "unexpected attribute key %q", kv.Key)
		v := kv.Value.String()
		for _, f := range forbidden {
			assert.NotContains(t, v, f, "attribute %s carries personal or session data", kv.Key)
		}
		if kv.Key == "session.event.kind" {
			assert.True(t, strings.HasPrefix(v, "session.") || v == "other", "kind %q", v)
		}
	}
}

// TestClientTextNeverBecomesAnAttribute: events whose Reason holds text a
// client chose (the Origin of a refused cross-origin request, the previous
// IP on a binding change), unknown kinds and unknown reasons map to the
// fixed vocabulary.
func TestClientTextNeverBecomesAnAttribute(t *testing.T) {
	in, reader := newInstruments(t)
	ctx := context.Background()
	hostile := "POST from https://evil.example/?u=alice"
	in.OnEvent(ctx, session.Event{Kind: session.EventCrossOrigin, Reason: hostile, IP: "192.0.2.1", UserAgent: "ua", Session: "abcd", UserID: "alice"})
	in.OnEvent(ctx, session.Event{Kind: session.EventBindingChanged, Reason: "was 192.0.2.1", UserID: "alice"})
	in.OnEvent(ctx, session.Event{Kind: session.EventRejected, Reason: hostile})
	in.OnEvent(ctx, session.Event{Kind: session.EventStoreError, Reason: "load"})
	in.OnEvent(ctx, session.Event{Kind: "app.custom." + hostile, Reason: hostile})
	in.OnEvent(ctx, session.Event{Kind: session.EventCSRFFailure, Reason: "mismatch"})

	metrics := collect(t, reader)
	assert.Equal(t, map[string]int64{
		session.EventCrossOrigin:               1,
		session.EventBindingChanged:            1,
		session.EventRejected + "/other":       1,
		session.EventStoreError + "/load":      1,
		"other":                                1,
		session.EventCSRFFailure + "/mismatch": 1,
	}, eventCounts(t, metrics))
	assertNoPersonalData(t, metrics, nil, "sid=abcd", "192.0.2.1")
	for _, kv := range allAttributes(metrics) {
		assert.NotContains(t, kv.Value.String(), "evil")
	}
}

// failingStore fails every call with a backend error.
type failingStore struct{ session.Store }

var errBackend = errors.New("backend down")

func (failingStore) Load(context.Context, string) (*session.Record, error) {
	return nil, errors.Join(session.ErrStore, errBackend)
}

// TestStoreFailureThroughHandler: a failing store gives a 5xx, an error
// outcome on the histogram and a store_error event naming the step.
func TestStoreFailureThroughHandler(t *testing.T) {
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	in, reader := newInstruments(t)
	m := newManager(t, failingStore{ms}, in, nil)
	srv := httptest.NewServer(m.Handler(testApp()))
	t.Cleanup(srv.Close)
	newClient(t, srv).do("GET", "/", "sid="+storetest.Key(), http.StatusInternalServerError)

	metrics := collect(t, reader)
	assert.Equal(t, map[string]int64{session.EventStoreError + "/load": 1}, eventCounts(t, metrics))
	assert.Equal(t, map[string]uint64{"load/error": 1}, storeCounts(t, metrics))
}

// TestConcurrentRequests: under the race detector, many concurrent
// requests are each measured exactly once.
func TestConcurrentRequests(t *testing.T) {
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	in, reader := newInstruments(t)
	m := newManager(t, ms, in, nil)
	srv := httptest.NewServer(m.Handler(testApp()))
	t.Cleanup(srv.Close)

	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	for range workers {
		c := newClient(t, srv)
		c.do("POST", "/login", "", http.StatusOK)
		wg.Go(func() {
			for range rounds {
				req, _ := http.NewRequest("GET", srv.URL+"/", nil)
				resp, err := c.c.Do(req)
				if assert.NoError(t, err) {
					_ = resp.Body.Close()
					assert.Equal(t, http.StatusOK, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	metrics := collect(t, reader)
	assert.Equal(t, uint64(workers*rounds), storeCounts(t, metrics)["load/ok"])
	assert.Equal(t, int64(workers), eventCounts(t, metrics)[session.EventLogin])
}
