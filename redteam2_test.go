package session_test

// Red-team round 2: each test here is a promise of ../shared/DESIGN.md
// broken as an attacker (or an ordinary client) would break it. They are
// expected to FAIL until the library is fixed.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DESIGN: "Changes made after the headers went out are saved when the
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

// DESIGN: "An error response (store failure) keeps the headers that outer
// middleware set before the handler ran (CSP, frame and referrer policies)
// and drops only what the handler added."
//
// The wrapper remembers only the *names* of the outer headers (as 32-bit
// hashes), not their values. A handler that relaxes a policy for its own
// page (an embeddable widget: CSP frame-ancestors *, no X-Frame-Options)
// and then hits a store failure has its relaxed values served on the error
// page: the outer CSP is replaced by the handler's, and the outer
// X-Frame-Options is gone.
func TestRedteam2ErrorResponseServesHandlerModifiedOuterHeaders(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// This page may be framed by anyone.
		w.Header().Set("Content-Security-Policy", "frame-ancestors *")
		w.Header().Del("X-Frame-Options")
		w.Header().Add("Referrer-Policy", "unsafe-url")
		_ = session.FromContext(r.Context()).Set("a", "1")
		fmt.Fprint(w, "widget")
	})
	e := newOuterEnv(t, session.Config{Store: failingStore{}}, app, withSecurityHeaders)
	res, body := e.client().get("/")
	require.Equal(t, http.StatusInternalServerError, res.StatusCode, body)
	assert.Equal(t, securityHeaders["Content-Security-Policy"], res.Header.Get("Content-Security-Policy"),
		"the error page carries the handler's CSP, not the one outer middleware set")
	assert.Equal(t, securityHeaders["X-Frame-Options"], res.Header.Get("X-Frame-Options"),
		"the outer X-Frame-Options is missing from the error page")
	assert.Equal(t, []string{securityHeaders["Referrer-Policy"]}, res.Header.Values("Referrer-Policy"),
		"the error page carries a value the handler added to an outer header")
}
