package session_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routerWriter is a router's own response writer, as gin's is: it writes
// to the underlying writer and reports whether it did (Written).
type routerWriter struct {
	http.ResponseWriter
	written bool
}

func (w *routerWriter) WriteHeader(code int) {
	w.written = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *routerWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *routerWriter) Written() bool { return w.written }

// uncommittedEnv mounts app the way a naive router adapter does: Handler
// wraps the router's writer, and app writes through the router's writer
// (which it holds) instead of the one Handler passes.
type uncommittedEnv struct {
	m      *session.Manager
	events *eventLog
	logs   *bytes.Buffer
}

func newUncommittedEnv(t *testing.T) *uncommittedEnv {
	t.Helper()
	e := &uncommittedEnv{events: &eventLog{}, logs: &bytes.Buffer{}}
	m, err := session.New(session.Config{
		OnEvent: e.events.add,
		Logger:  slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	e.m = m
	return e
}

// serve runs one request; bypass chooses whether app writes through the
// router's writer (true) or through the one Handler passed (false).
func (e *uncommittedEnv) serve(app func(w http.ResponseWriter, r *http.Request), bypass bool, cookies ...*http.Cookie) *http.Response {
	rec := httptest.NewRecorder()
	rw := &routerWriter{ResponseWriter: rec}
	req := httptest.NewRequest("POST", "https://example.com/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bypass {
			w = rw
		}
		app(w, r)
	})).ServeHTTP(rw, req)
	return rec.Result()
}

func countKind(events []session.Event, kind string) int {
	n := 0
	for _, ev := range events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func TestUncommittedSessionWrittenAroundTheMiddlewareIsReportedOnce(t *testing.T) {
	e := newUncommittedEnv(t)
	app := func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		assert.NoError(t, s.Set("cart", "3 items"))
		_, _ = io.WriteString(w, "ok")
	}
	res := e.serve(app, true)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Empty(t, res.Header.Values("Set-Cookie"), "the cookie cannot have gone out")

	evs := e.events.all()
	require.Equal(t, 1, countKind(evs, session.EventUncommitted), "%v", e.events.kinds())
	for _, ev := range evs {
		if ev.Kind == session.EventUncommitted {
			assert.Contains(t, ev.Reason, "ginsession")
			assert.Contains(t, ev.Reason, "another ResponseWriter")
		}
	}
	assert.Zero(t, countKind(evs, session.EventCreated), "a session no client can present was stored")
	n, err := e.m.Store().(*session.MemoryStore).Count(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.Contains(t, e.logs.String(), "level=ERROR msg="+session.EventUncommitted)
}

func TestUncommittedLoginIsReported(t *testing.T) {
	e := newUncommittedEnv(t)
	app := func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, session.FromContext(r.Context()).Login(r.Context(), "alice"))
		w.WriteHeader(http.StatusNoContent)
	}
	res := e.serve(app, true)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Empty(t, res.Header.Values("Set-Cookie"))
	evs := e.events.all()
	require.Equal(t, 1, countKind(evs, session.EventUncommitted), "%v", e.events.kinds())
	for _, ev := range evs {
		if ev.Kind == session.EventUncommitted {
			assert.Equal(t, "alice", ev.UserID)
		}
	}
}

// A stored session's value change needs no cookie: it is still saved, and
// still reported (the cache headers were lost, and the next Login would be).
func TestUncommittedValueChangeOfStoredSessionIsSavedAndReported(t *testing.T) {
	e := newUncommittedEnv(t)
	set := func(v string) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			assert.NoError(t, session.FromContext(r.Context()).Set("k", v))
			_, _ = io.WriteString(w, "ok")
		}
	}
	res := e.serve(set("1"), false)
	cookies := res.Cookies()
	require.NotEmpty(t, cookies)
	assert.Zero(t, countKind(e.events.all(), session.EventUncommitted))

	e.serve(set("2"), true, cookies...)
	assert.Equal(t, 1, countKind(e.events.all(), session.EventUncommitted))

	var got string
	e.serve(func(w http.ResponseWriter, r *http.Request) {
		got = session.FromContext(r.Context()).GetString("k")
	}, false, cookies...)
	assert.Equal(t, "2", got)
}

func TestUncommittedNotReportedForCorrectOrUnchangedResponses(t *testing.T) {
	e := newUncommittedEnv(t)
	// Through Handler's writer: the normal path.
	res := e.serve(func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, session.FromContext(r.Context()).Set("k", "v"))
		_, _ = io.WriteString(w, "ok")
	}, false)
	assert.NotEmpty(t, res.Header.Values("Set-Cookie"))
	// The handler writes nothing: the commit goes with the headers the
	// router writes afterwards.
	res = e.serve(func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, session.FromContext(r.Context()).Set("k", "v"))
	}, false)
	assert.NotEmpty(t, res.Header.Values("Set-Cookie"))
	// Written around Handler, but the session never changed.
	e.serve(func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).GetString("k")
		_, _ = io.WriteString(w, "ok")
	}, true)
	assert.Zero(t, countKind(e.events.all(), session.EventUncommitted), "%v", e.events.kinds())
	assert.False(t, strings.Contains(e.logs.String(), session.EventUncommitted))
}
