package session_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The features built on the Manager work the same on a cookie store: CSRF
// tokens (the session's secret travels sealed in the cookie), and they
// rotate with Login.
func TestCookieStoreCSRF(t *testing.T) {
	e := newCSRFEnv(t, session.Config{Store: newCookieStore(t, newKey(t))})
	c := e.client()
	res, _ := c.csrfPost("/set?k=a&v=1", c.csrfGetToken())
	require.Equal(t, http.StatusOK, res.StatusCode, "anonymous stateless token")
	res, _ = c.csrfPost("/login?u=gina", c.csrfGetToken())
	require.Equal(t, http.StatusOK, res.StatusCode)

	tok := c.csrfGetToken()
	res, _ = c.csrfPost("/set?k=b&v=2", tok)
	require.Equal(t, http.StatusOK, res.StatusCode, "the session's own token")
	res, _ = c.csrfPost("/set?k=b&v=3", "AAAA"+tok[4:])
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "a forged token passed")
	_, body := c.get("/get?k=b")
	assert.Equal(t, "2", body)

	other := e.client()
	other.csrfPost("/login?u=hal", other.csrfGetToken())
	res, _ = other.csrfPost("/set?k=b&v=4", tok)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "another session's token passed")
}

func TestCookieStorePersistRenewAndBinding(t *testing.T) {
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t)), Binding: session.BindDestroy}, cookieApp())
	c := e.client()
	c.ua = "browser-1"
	c.post("/login?u=ivy")
	c.post("/set?k=a&v=kept")
	res, _ := c.post("/persist")
	ck := sessionCookie(res)
	require.NotNil(t, ck)
	assert.Greater(t, ck.MaxAge, 0, "SetPersist: the sealed cookie is persistent")

	_, before := c.get("/handle")
	res, _ = c.post("/renew")
	require.Equal(t, http.StatusOK, res.StatusCode)
	_, after := c.get("/handle")
	assert.NotEqual(t, before, after, "Renew kept the ID")
	_, body := c.get("/get?k=a")
	assert.Equal(t, "kept", body)
	res, _ = c.get("/handle") // a persistent cookie keeps its Max-Age across re-seals
	assert.Nil(t, sessionCookie(res), "read-only request")

	c.ua = "browser-2" // another device presents the cookie: BindDestroy ends it
	_, body = c.get("/whoami")
	assert.Empty(t, body)
	assert.Contains(t, e.events.kinds(), session.EventBindingChanged)
}

// Documented: concurrent requests on one cookie session are last-writer-
// wins on the whole record (the server stores merge per key instead).
func TestCookieStoreConcurrentRequestsAreLastWriterWins(t *testing.T) {
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t))}, cookieApp())
	c := e.client()
	c.post("/set?k=base&v=1")
	sealedBase := c.token()

	var wg sync.WaitGroup
	results := make([]string, 2)
	for i, k := range []string{"x", "y"} {
		wg.Go(func() {
			tab := e.client()
			tab.setToken(sealedBase)
			res, _ := tab.post("/set?k=" + k + "&v=1")
			if ck := sessionCookie(res); ck != nil {
				results[i] = ck.Value
			}
		})
	}
	wg.Wait()
	for i, v := range results {
		require.NotEmpty(t, v, "tab %d got no cookie", i)
		tab := e.client()
		tab.setToken(v)
		_, x := tab.get("/get?k=x")
		_, y := tab.get("/get?k=y")
		_, base := tab.get("/get?k=base")
		assert.Equal(t, "1", base)
		assert.True(t, (x == "1") != (y == "1"), "each cookie holds only its own request's write (x=%q y=%q)", x, y)
	}
}

// A new session filled to the limit in the request that creates it (with a
// CSRF token issued first) is still created: the size Set checks is the
// size commit seals.
func TestCookieStoreNewSessionFilledToTheLimit(t *testing.T) {
	var setErr error
	app := cookieApp()
	app.HandleFunc("POST /fill-new", func(w http.ResponseWriter, r *http.Request) {
		_ = session.CSRFToken(r)
		s := session.FromContext(r.Context())
		for i := 0; ; i++ {
			if err := s.Set(fmt.Sprint("k", i), strings.Repeat("z", 37)); err != nil {
				setErr = err
				break
			}
		}
	})
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t))}, app)
	c := e.client()
	res, _ := c.post("/fill-new")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.ErrorIs(t, setErr, session.ErrTooLarge)
	for _, raw := range res.Header.Values("Set-Cookie") {
		assert.LessOrEqual(t, len(raw), cookieLimit)
	}
	_, body := c.get("/get?k=k0")
	assert.Equal(t, strings.Repeat("z", 37), body)
}

// A WebSocket upgrade (Hijack) on a cookie store: a change made before it
// could only travel in a Set-Cookie the hijacked connection cannot carry,
// so Hijack refuses it (ErrHeadersSent) rather than losing it; a request
// that changed nothing hijacks, even when its cookie is due a re-seal under
// a newer key.
func TestCookieStoreHijack(t *testing.T) {
	oldKey, newKeyB := newKey(t), newKey(t)
	results := make(chan error, 4)
	app := cookieApp()
	app.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("set") != "" {
			_ = session.FromContext(r.Context()).Set("ws", "x")
		}
		_ = session.FromContext(r.Context()).UserID()
		conn, brw, err := w.(http.Hijacker).Hijack()
		results <- err
		if err != nil {
			http.Error(w, "refused", http.StatusBadRequest)
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		_ = brw.Flush()
	})
	before := newEnv(t, session.Config{Store: newCookieStore(t, oldKey)}, app)
	c := before.client()
	c.post("/login?u=jo")
	sealedOld := c.token()

	e := newEnv(t, session.Config{Store: newCookieStore(t, newKeyB, oldKey)}, app)
	c = e.client()
	c.setToken(sealedOld)
	res, _ := c.get("/ws")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, <-results, "a read-only upgrade was refused")

	res, _ = c.get("/ws?set=1")
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.ErrorIs(t, <-results, session.ErrHeadersSent, "a change before the hijack would be lost")
}
