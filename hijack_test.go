package session_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hijackApp is testApp plus /raw, which sets a value, hijacks the
// connection the way a WebSocket library does (w.(http.Hijacker)) and
// answers by hand on the raw connection.
func hijackApp(t *testing.T, store func() session.Store, result chan<- error) http.Handler {
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.Set("ws", "before-hijack")
		hj, ok := w.(http.Hijacker)
		if !ok {
			result <- errors.New("the response does not implement http.Hijacker")
			http.Error(w, "no hijacker", http.StatusNotImplemented)
			return
		}
		conn, brw, err := hj.Hijack()
		result <- err
		if err != nil {
			http.Error(w, "hijack refused", http.StatusBadRequest)
			return
		}
		defer conn.Close()
		// Committed before the hand-over, not when the handler returns.
		rec, err := store().Load(r.Context(), s.Handle())
		stored := err == nil && string(rec.Values["ws"]) == `"before-hijack"`
		// Nothing more goes through the wrapper.
		_, werr := w.Write([]byte("late"))
		body := fmt.Sprintf("stored:%v write:%v", stored, errors.Is(werr, http.ErrHijacked))
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		_ = brw.Flush()
	})
	return app
}

// WebSocket libraries check w.(http.Hijacker): the wrapper passes Hijack
// through, commits the session before the hand-over, and writes nothing
// after it. Before: the assertion failed ("does not implement
// http.Hijacker"). gorilla/websocket and coder/websocket themselves are
// exercised in e2e/websocket_test.go.
func TestHijackCommitsFirst(t *testing.T) {
	var e *env
	result := make(chan error, 4)
	e = newEnv(t, session.Config{}, hijackApp(t, func() session.Store { return e.m.Store() }, result))
	c := e.client()
	c.post("/set?k=a&v=1")
	tok := c.token()
	require.NotEmpty(t, tok)
	res, body := c.get("/raw")
	require.NoError(t, <-result)
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "stored:true write:true", body)
	_, got := c.get("/get?k=ws")
	assert.Equal(t, "before-hijack", got)
	assert.Equal(t, tok, c.token(), "the session cookie is unchanged")
}

// A new session's ID cannot travel through a connection the library answers
// by hand: Hijack refuses (ErrHeadersSent) and the error response carries
// the cookie, so the value is not lost. A store failure refuses the hijack
// and answers with the error handler.
func TestHijackRefusals(t *testing.T) {
	var e *env
	result := make(chan error, 4)
	e = newEnv(t, session.Config{}, hijackApp(t, func() session.Store { return e.m.Store() }, result))
	c := e.client()
	res, _ := c.get("/raw")
	assert.ErrorIs(t, <-result, session.ErrHeadersSent)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.NotNil(t, sessionCookie(res), "the new session's cookie goes out with the refusal")
	_, got := c.get("/get?k=ws")
	assert.Equal(t, "before-hijack", got)

	failing := newEnv(t, session.Config{Store: failingStore{}}, hijackApp(t, func() session.Store { return failingStore{} }, result))
	fc := failing.client()
	fc.setToken("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, body := fc.get("/raw")
	err := <-result
	assert.ErrorIs(t, err, session.ErrStore)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode, "the error handler's response")
	assert.NotContains(t, body, "secret-detail")
}

// Over HTTP/2 there is nothing to hijack: the error wraps
// http.ErrNotSupported and nothing breaks.
func TestHijackNotSupportedOverHTTP2(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	result := make(chan error, 1)
	srv := httptest.NewUnstartedServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _, err := w.(http.Hijacker).Hijack()
		result <- err
		fmt.Fprint(w, r.Proto)
	})))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	tr.ForceAttemptHTTP2 = true
	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
	res, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, "HTTP/2.0", string(b))
	assert.ErrorIs(t, <-result, http.ErrNotSupported)
}
