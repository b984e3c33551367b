package migrate_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// events records a Manager's events.
type events struct {
	mu sync.Mutex
	ev []session.Event
}

func (l *events) add(_ context.Context, e session.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *events) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (l *events) reasons(kind string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.ev {
		if e.Kind == kind {
			out = append(out, e.Reason)
		}
	}
	return out
}

// newManager returns a Manager on the memory store importing with imp, and
// its handler, which answers "user|theme".
func newManager(t *testing.T, imp session.Importer) (*session.Manager, http.Handler, *events) {
	t.Helper()
	ev := &events{}
	m, err := session.New(session.Config{Import: imp, OnEvent: ev.add})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		io.WriteString(w, s.UserID()+"|"+s.GetString("theme"))
	}))
	return m, h, ev
}

// serve runs one request with cookies through h and returns the status,
// the body and the response's cookies by name.
func serve(h http.Handler, cookies ...*http.Cookie) (int, string, map[string]*http.Cookie) {
	req := httptest.NewRequest("GET", "https://app.example/", nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	got := map[string]*http.Cookie{}
	for _, c := range res.Cookies() {
		got[c.Name] = c
	}
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), got
}

const ourCookie = "__Host-Http-sid"
