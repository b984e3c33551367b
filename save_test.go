package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Session.Save lets a streaming handler learn whether a change made after
// the headers went out was kept: the store's error comes back (wrapping
// ErrStore), and a successful Save is visible to the next request.
func TestSaveWhileStreamingReportsStoreError(t *testing.T) {
	store := newFlakyStore()
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()

		assert.NoError(t, s.Set("late", "kept"))
		store.failUpdate.Store(true)
		err := s.Save(r.Context())
		fmt.Fprintf(w, "store:%v ", errors.Is(err, session.ErrStore))
		assert.NotContains(t, fmt.Sprint(err), "AAAA", "no token in the error")
		store.failUpdate.Store(false)
		fmt.Fprintf(w, "retry:%v ", s.Save(r.Context()))
		// After the headers, a change that needs a cookie is refused.
		fmt.Fprintf(w, "login:%v", errors.Is(s.Login(r.Context(), "bob"), session.ErrHeadersSent))
	})
	app.HandleFunc("POST /destroy-then-stream", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.GetString("a") // load
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		// Another tab logs out meanwhile.
		assert.NoError(t, store.Delete(r.Context(), s.Handle()))
		assert.NoError(t, s.Set("late", "x"))
		err := s.Save(r.Context())
		fmt.Fprintf(w, "gone:%v sent:%v", errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrHeadersSent))
	})
	e := newEnv(t, session.Config{Store: store}, app)
	c := e.client()
	res, _ := c.post("/login?u=alice")
	require.Equal(t, 200, res.StatusCode)

	_, body := c.get("/stream")
	assert.Equal(t, "store:true retry:<nil> login:true", body)
	_, got := c.get("/get?k=late")
	assert.Equal(t, "kept", got)
	var sawSave bool
	for _, ev := range storeErrorEvents(e) {
		sawSave = sawSave || ev.Reason == "save"
	}
	assert.True(t, sawSave, "the failed Save is an event too")

	_, body = c.post("/destroy-then-stream")
	assert.Equal(t, "gone:true sent:true", body)
}

// Before the headers go out, Save creates a new session at once; its
// cookie still goes out with the headers.
func TestSaveBeforeHeadersCreatesTheSession(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		assert.NoError(t, s.Set("a", "1"))
		assert.NoError(t, s.Save(r.Context()))
		assert.False(t, s.IsNew(), "stored by Save")
		fmt.Fprint(w, s.GetString("a"))
	})
	e := newEnv(t, session.Config{}, app)
	res, body := e.client().get("/")
	assert.Equal(t, "1", body)
	assert.NotNil(t, sessionCookie(res))
}

// Invariant: "Changes made after the headers went out are saved when the
// handler returns; ... a failure of that final save is logged and emitted
// as session.store_error, never silently dropped."
//
// A Server-Sent Events handler returns because the client went away: that
// is how every SSE stream ends. By then r.Context() is cancelled, and the
// final commit runs under it (finish -> commitCtx(w.req.Context())). Every
// shipped store refuses a cancelled context (memory: ctx.Err() first;
// go-redis: the same), and storeFailure suppresses the event for
// context.Canceled. So a value set while streaming is dropped with no log
// line and no event: exactly the silent loss the promise rules out.
func TestRedteam2StreamEndedByClientLosesValueSilently(t *testing.T) {
	ready := make(chan struct{})
	finished := make(chan struct{})
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.GetString("a") // a logged-in page loads its session
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		// While streaming: remember how far the client got.
		assert.NoError(t, s.Set("progress", "42"))
		fmt.Fprint(w, "data: 42\n\n")
		http.NewResponseController(w).Flush()
		close(ready)
		<-r.Context().Done() // the stream ends when the client leaves
	})
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r) // Handler's finish has run when this returns
			if r.URL.Path == "/sse" {
				close(finished)
			}
		})
	}
	e := newOuterEnv(t, session.Config{}, app, outer)
	c := e.client()
	res, _ := c.post("/set?k=a&v=1")
	require.Equal(t, http.StatusOK, res.StatusCode)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/sse", nil)
	require.NoError(t, err)
	res, err = c.http.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	<-ready
	cancel() // the visitor closes the tab
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the SSE handler never returned")
	}

	_, got := c.get("/get?k=progress")
	var reported bool
	for _, ev := range storeErrorEvents(e) {
		reported = reported || ev.Reason == "final_commit"
	}
	assert.True(t, got == "42" || reported,
		"a value set while streaming was neither saved (got %q) nor reported as session.store_error; events: %v",
		got, e.events.kinds())
}

// A value set after the headers went out whose final save fails is not
// dropped silently: the failure is logged and emitted as
// session.store_error with Reason "final_commit". Before: finish ignored
// the error and no event fired.
func TestFinalCommitFailureIsAnEvent(t *testing.T) {
	store := newFlakyStore()
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		store.failUpdate.Store(true)
		assert.NoError(t, session.FromContext(r.Context()).Set("late", "lost"))
		fmt.Fprint(w, "streamed")
	})
	e := newEnv(t, session.Config{Store: store}, app)
	c := e.client()
	res, _ := c.post("/set?k=a&v=1")
	require.Equal(t, 200, res.StatusCode)

	res, body := c.get("/stream")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "streamed", body)
	require.Eventually(t, func() bool { return len(storeErrorEvents(e)) > 0 }, 5*time.Second, 10*time.Millisecond,
		"no session.store_error event: %v", e.events.kinds())
	ev := storeErrorEvents(e)[0]
	assert.Equal(t, "final_commit", ev.Reason)
	assert.Contains(t, suiteLog.String(), `"reason":"final_commit"`)
	store.failUpdate.Store(false)
	_, got := c.get("/get?k=late")
	assert.Empty(t, got, "the failed value was not stored")
}

// Every store failure is an event, not only a log line: a load failure
// emits session.store_error with Reason "load".
func TestStoreFailuresAreEvents(t *testing.T) {
	e := newEnv(t, session.Config{Store: failingStore{}}, testApp())
	c := e.client()
	c.setToken("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, body := c.get("/get?k=a")
	require.Equal(t, 500, res.StatusCode)
	assert.NotContains(t, body, "secret-detail")
	evs := storeErrorEvents(e)
	require.Len(t, evs, 1, "events: %v", e.events.kinds())
	assert.Equal(t, "load", evs[0].Reason)
	for _, ev := range e.events.all() {
		assert.False(t, strings.Contains(ev.Reason, "secret-detail"), "store detail in an event: %q", ev.Reason)
	}
}
