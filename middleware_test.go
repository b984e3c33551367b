package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testApp is the application most tests run behind the Handler.
func testApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /noop", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).GetString(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := session.FromContext(r.Context()).Set(q.Get("k"), q.Get("v")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "set")
	})
	mux.HandleFunc("POST /inc", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n := s.GetInt("n") + 1
		if err := s.Set("n", n); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		fmt.Fprint(w, "logged in")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "bye")
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Renew(r.Context()); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "renewed")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})
	return mux
}

func TestCookieAttributesAreHardened(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	res, _ := c.post("/set?k=a&v=1")
	require.Equal(t, 200, res.StatusCode)
	raw := res.Header.Get("Set-Cookie")
	ck := sessionCookie(res)
	require.NotNil(t, ck, "no session cookie in %q", raw)
	assert.Equal(t, "__Host-Http-sid", ck.Name)
	assert.Len(t, ck.Value, 43, "256-bit token, base64url")
	assert.True(t, ck.Secure, raw)
	assert.True(t, ck.HttpOnly, raw)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite, raw)
	assert.Equal(t, "/", ck.Path)
	assert.Empty(t, ck.Domain)
	assert.Zero(t, ck.MaxAge, "a browser-session cookie by default: %s", raw)
	assert.NotContains(t, raw, "Expires")
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Contains(t, res.Header.Values("Vary"), "Cookie")
}

func TestUntouchedAndReadOnlyAnonymousRequestsGetNoCookie(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	for _, p := range []string{"/noop", "/get?k=x", "/whoami"} {
		res, _ := c.get(p)
		assert.Empty(t, res.Header.Values("Set-Cookie"), p)
	}
	assert.Equal(t, 0, memCount(t, e.m.Store().(*session.MemoryStore)), "an untouched anonymous session was stored")
	res, _ := c.get("/noop")
	assert.Empty(t, res.Header.Values("Vary"), "a request that never touched the session does not vary on cookies")
}

func TestValuesPersistAcrossRequests(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	for i := 1; i <= 3; i++ {
		_, body := c.post("/inc")
		assert.Equal(t, strconv.Itoa(i), body)
	}
	tok := c.token()
	res, _ := c.post("/inc")
	assert.Nil(t, sessionCookie(res), "an existing session is not re-sent on every write")
	assert.Equal(t, tok, c.token())
}

func TestPlantedAndUnknownIDsAreNeverAdopted(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	for _, planted := range []string{
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // well-formed, never issued
		"attacker-chosen",                             // malformed
		strings.Repeat("A", 4000),                     // oversized
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", // not base64url
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", // non-canonical last char
		"%00%00", // garbage
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.x", // trailing junk
	} {
		c := e.client()
		c.setToken(planted)
		res, _ := c.post("/set?k=a&v=1")
		require.Equal(t, 200, res.StatusCode, planted)
		ck := sessionCookie(res)
		require.NotNil(t, ck)
		assert.NotEqual(t, planted, ck.Value, "planted ID adopted")
		assert.Len(t, ck.Value, 43)
		_, body := c.get("/get?k=a")
		assert.Equal(t, "1", body)
	}
	assert.Contains(t, e.events.kinds(), session.EventRejected)
}

func TestRejectedCookieIsExpiredOnReadOnlyRequest(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.setToken("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, _ := c.get("/get?k=a")
	ck := sessionCookie(res)
	require.NotNil(t, ck, "a stale cookie should be cleared")
	assert.Empty(t, ck.Value)
	assert.Equal(t, -1, ck.MaxAge, "Max-Age=0 expected, got %q", res.Header.Get("Set-Cookie"))
}

func TestLoginRenewsIDCarriesDataAndKillsOldID(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.ua = "TestBrowser/1.0"
	c.post("/set?k=cart&v=book")
	before := c.token()
	require.NotEmpty(t, before)

	res, _ := c.post("/login?u=alice")
	require.Equal(t, 200, res.StatusCode)
	after := c.token()
	assert.NotEqual(t, before, after, "login must issue a new ID")
	_, body := c.get("/get?k=cart")
	assert.Equal(t, "book", body, "data carried over")
	_, body = c.get("/whoami")
	assert.Equal(t, "alice", body)

	// The old ID is dead at once.
	old := e.client()
	old.setToken(before)
	_, body = old.get("/whoami")
	assert.Empty(t, body, "old ID still authenticates")
	_, body = old.get("/get?k=cart")
	assert.Empty(t, body, "old ID still carries data")

	infos, err := e.m.Sessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "TestBrowser/1.0", infos[0].UserAgent)
	assert.Equal(t, "127.0.0.1", infos[0].IP)
	assert.Contains(t, e.events.kinds(), session.EventLogin)
}

func TestLoginAsAnotherUserDropsPreviousUsersData(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	c.post("/set?k=secret&v=alices")
	c.post("/login?u=bob")
	_, body := c.get("/get?k=secret")
	assert.Empty(t, body, "bob must not inherit alice's values")
}

func TestRenewKeepsUserAndData(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	c.post("/set?k=a&v=1")
	before := c.token()
	res, _ := c.post("/renew")
	require.Equal(t, 200, res.StatusCode)
	assert.NotEqual(t, before, c.token())
	_, body := c.get("/whoami")
	assert.Equal(t, "alice", body)
	_, body = c.get("/get?k=a")
	assert.Equal(t, "1", body)
	old := e.client()
	old.setToken(before)
	_, body = old.get("/whoami")
	assert.Empty(t, body)
}

func TestLogoutDeletesRecordAndExpiresCookie(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	tok := c.token()
	res, _ := c.post("/logout")
	ck := sessionCookie(res)
	require.NotNil(t, ck)
	assert.Empty(t, ck.Value)
	raw := res.Header.Get("Set-Cookie")
	assert.Contains(t, raw, "Max-Age=0")
	assert.Contains(t, raw, "Path=/")
	assert.Contains(t, raw, "Secure")
	assert.Contains(t, raw, "HttpOnly")
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(t, 0, memCount(t, e.m.Store().(*session.MemoryStore)), "server record survived logout")

	replay := e.client()
	replay.setToken(tok)
	_, body := replay.get("/whoami")
	assert.Empty(t, body, "a logged-out ID still works")
}

// A request that loaded the session before a logout in another tab must not
// bring it back when it commits afterwards (scs and express-session do).
func TestCommitAfterLogoutInAnotherTabDoesNotResurrect(t *testing.T) {
	loaded := make(chan struct{})
	proceed := make(chan struct{})
	app := testApp().(*http.ServeMux)
	app.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.GetString("x") // load now
		close(loaded)
		<-proceed
		_ = s.Set("late", "write")
		fmt.Fprint(w, "done")
	})
	e := newEnv(t, session.Config{}, app)
	c := e.client()
	c.post("/login?u=alice")
	tok := c.token()

	slow := e.client()
	slow.setToken(tok)
	done := make(chan *http.Response)
	go func() {
		res, _ := slow.post("/slow")
		done <- res
	}()
	<-loaded
	res, _ := c.post("/logout")
	require.Equal(t, 200, res.StatusCode)
	close(proceed)
	slowRes := <-done
	assert.Equal(t, 200, slowRes.StatusCode)

	replay := e.client()
	replay.setToken(tok)
	_, body := replay.get("/whoami")
	assert.Empty(t, body, "the logged-out session came back")
	assert.Equal(t, 0, memCount(t, e.m.Store().(*session.MemoryStore)))
	ck := sessionCookie(slowRes)
	require.NotNil(t, ck, "the late request should clear the dead cookie")
	assert.Empty(t, ck.Value)
}

func TestIdleTimeoutEnforcedServerSide(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, session.Config{Clock: clk.Now, IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour, Store: session.NewMemoryStore(session.WithSweepInterval(0))}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	clk.Advance(9 * time.Minute)
	_, body := c.get("/whoami")
	require.Equal(t, "alice", body, "active within the idle timeout")
	clk.Advance(9 * time.Minute) // touched at 9m, so still alive at 18m
	_, body = c.get("/whoami")
	require.Equal(t, "alice", body, "the touch must move the idle deadline")
	clk.Advance(11 * time.Minute)
	res, body := c.get("/whoami")
	assert.Empty(t, body, "idle session still alive although the client sent its cookie")
	ck := sessionCookie(res)
	require.NotNil(t, ck)
	assert.Empty(t, ck.Value)
	assert.Contains(t, e.events.kinds(), session.EventExpiredIdle)
}

func TestAbsoluteTimeoutEnforcedServerSide(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, session.Config{Clock: clk.Now, IdleTimeout: 10 * time.Minute, AbsoluteTimeout: 30 * time.Minute, Store: session.NewMemoryStore(session.WithSweepInterval(0))}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	for range 3 {
		clk.Advance(9 * time.Minute)
		_, body := c.get("/whoami")
		require.Equal(t, "alice", body)
	}
	clk.Advance(4 * time.Minute) // 31 minutes after login, never idle for long
	_, body := c.get("/whoami")
	assert.Empty(t, body)
	assert.Contains(t, e.events.kinds(), session.EventExpiredAbsolute)
}

func TestConcurrentRequestsKeepDistinctKeys(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := c.post(fmt.Sprintf("/set?k=k%d&v=%d", i, i))
			assert.Equal(t, 200, res.StatusCode)
		}()
	}
	wg.Wait()
	for i := range 64 {
		_, body := c.get(fmt.Sprintf("/get?k=k%d", i))
		assert.Equal(t, strconv.Itoa(i), body, "lost update of k%d", i)
	}
}

func TestStreamingResponseStillSetsCookieAndSaves(t *testing.T) {
	app := http.NewServeMux()
	app.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		require.NoError(t, s.Set("before", "1"))
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		require.NoError(t, http.NewResponseController(w).Flush())
		// After the headers went out, changes to an existing session are
		// still saved; ID changes are refused.
		assert.NoError(t, s.Set("after", "2"))
		assert.ErrorIs(t, s.Renew(r.Context()), session.ErrHeadersSent)
		assert.ErrorIs(t, s.Login(r.Context(), "x"), session.ErrHeadersSent)
		assert.ErrorIs(t, s.Destroy(r.Context()), session.ErrHeadersSent)
		fmt.Fprint(w, "data: two\n\n")
	})
	app.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		fmt.Fprint(w, s.GetString("before"), s.GetString("after"))
	})
	app.HandleFunc("GET /late-new", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.GetString("x")
		w.WriteHeader(200)
		assert.ErrorIs(t, s.Set("k", "v"), session.ErrHeadersSent, "a new session's cookie can no longer reach the browser")
	})
	e := newEnv(t, session.Config{}, app)
	c := e.client()
	res, body := c.get("/stream")
	assert.Equal(t, "data: one\n\ndata: two\n\n", body)
	require.NotNil(t, sessionCookie(res), "a streamed response must still set the cookie")
	_, body = c.get("/read")
	assert.Equal(t, "12", body)

	res, _ = e.client().get("/late-new")
	assert.Nil(t, sessionCookie(res))
}

func TestResponseControllerReachesUnderlyingWriter(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		assert.NoError(t, rc.SetWriteDeadline(time.Now().Add(time.Minute)))
		assert.NoError(t, rc.EnableFullDuplex())
		_ = session.FromContext(r.Context()).Set("a", 1)
		assert.NoError(t, rc.Flush())
	})
	e := newEnv(t, session.Config{}, app)
	res, _ := e.client().get("/")
	assert.NotNil(t, sessionCookie(res))
}

func TestCrossSitePostIsRefusedWithoutSideEffects(t *testing.T) {
	e := newEnv(t, session.Config{}, testApp())
	c := e.client()
	c.post("/login?u=alice")
	tok := c.token()
	for name, hdr := range map[string][]string{
		"fetch-metadata": {"Sec-Fetch-Site", "cross-site"},
		"foreign-origin": {"Origin", "https://evil.example"},
	} {
		for _, path := range []string{"/logout", "/set?k=planted&v=evil", "/login?u=mallory"} {
			res, _ := c.do("POST", path, nil, hdr...)
			assert.Equal(t, http.StatusForbidden, res.StatusCode, "%s %s", name, path)
			assert.Empty(t, res.Header.Values("Set-Cookie"), "%s %s", name, path)
		}
	}
	assert.Equal(t, tok, c.token())
	_, body := c.get("/whoami")
	assert.Equal(t, "alice", body, "a cross-site request changed the session")
	_, body = c.get("/get?k=planted")
	assert.Empty(t, body)

	// A fresh visitor cannot be handed a session by a cross-site form.
	v := e.client()
	res, _ := v.do("POST", "/set?k=planted&v=evil", nil, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Empty(t, v.token())
	assert.Contains(t, e.events.kinds(), session.EventCrossOrigin)

	// Same-origin browsers and non-browser clients pass.
	res, _ = c.do("POST", "/inc", nil, "Sec-Fetch-Site", "same-origin")
	assert.Equal(t, 200, res.StatusCode)
	res, _ = c.do("POST", "/inc", nil, "Origin", e.srv.URL)
	assert.Equal(t, 200, res.StatusCode)
	res, _ = c.post("/inc")
	assert.Equal(t, 200, res.StatusCode)
	// Safe methods are never refused.
	res, _ = c.do("GET", "/whoami", nil, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, 200, res.StatusCode)
}

func TestCrossOriginTrustedOriginsAndOptOut(t *testing.T) {
	e := newEnv(t, session.Config{TrustedOrigins: []string{"https://partner.example"}}, testApp())
	res, _ := e.client().do("POST", "/inc", nil, "Origin", "https://partner.example", "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, 200, res.StatusCode)
	res, _ = e.client().do("POST", "/inc", nil, "Origin", "https://other.example", "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, 403, res.StatusCode)

	open := newEnv(t, session.Config{DisableCrossOriginProtection: true}, testApp())
	res, _ = open.client().do("POST", "/inc", nil, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, 200, res.StatusCode)

	_, err := session.New(session.Config{TrustedOrigins: []string{"not a url"}})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)
}

func TestAuthenticatedReadGetsNoStoreUnlessHandlerChose(t *testing.T) {
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /cached", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})
	e := newEnv(t, session.Config{}, app)
	c := e.client()
	c.post("/login?u=alice")
	res, _ := c.get("/whoami")
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"), "a private page must not be cached")
	assert.Contains(t, res.Header.Values("Vary"), "Cookie")
	res, _ = c.get("/cached")
	assert.Equal(t, "private, max-age=60", res.Header.Get("Cache-Control"))

	anon := e.client()
	anon.post("/set?k=a&v=1")
	res, _ = anon.get("/get?k=a")
	assert.Empty(t, res.Header.Get("Cache-Control"), "anonymous reads stay cacheable (privately)")
	assert.Contains(t, res.Header.Values("Vary"), "Cookie")
}

// failingStore fails every call with a detailed error that must not reach
// the client.
type failingStore struct{ session.Store }

var errBackend = errors.New("dial tcp 10.0.0.9:6379: connection refused (secret-detail)")

func (failingStore) Load(context.Context, string) (*session.Record, error) { return nil, errBackend }
func (failingStore) Create(context.Context, string, *session.Record) error { return errBackend }
func (failingStore) Update(context.Context, string, *session.Delta) error  { return errBackend }
func (failingStore) Delete(context.Context, string) error                  { return errBackend }

func TestStoreErrorsBecomeErrorResponses(t *testing.T) {
	e := newEnv(t, session.Config{Store: failingStore{}}, testApp())
	c := e.client()
	// Commit failure of a new session: 500, generic, no cookie.
	res, body := c.post("/set?k=a&v=1")
	assert.Equal(t, 500, res.StatusCode)
	assert.NotContains(t, body, "secret-detail")
	assert.NotContains(t, body, "set")
	assert.Nil(t, sessionCookie(res))
	// Load failure with a cookie: 500 even though the handler wrote 200.
	c.setToken("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, body = c.get("/get?k=a")
	assert.Equal(t, 500, res.StatusCode)
	assert.NotContains(t, body, "secret-detail")
	// A request that never touches the session is unaffected.
	res, _ = c.get("/noop")
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, suiteLog.String(), "secret-detail", "the detail goes to the log")
}

func TestCustomErrorHandler(t *testing.T) {
	var got error
	e := newEnv(t, session.Config{Store: failingStore{}, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}}, testApp())
	res, body := e.client().post("/set?k=a&v=1")
	assert.Equal(t, 503, res.StatusCode)
	assert.Equal(t, "try later\n", body)
	assert.ErrorIs(t, got, session.ErrStore)
	assert.ErrorIs(t, got, errBackend)
}

func TestPersistentCookie(t *testing.T) {
	app := testApp().(*http.ServeMux)
	app.HandleFunc("POST /remember", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, session.FromContext(r.Context()).SetPersist(true))
	})
	e := newEnv(t, session.Config{}, app)
	c := e.client()
	c.post("/login?u=alice")
	res, _ := c.post("/remember")
	ck := sessionCookie(res)
	require.NotNil(t, ck)
	assert.InDelta(t, (30 * time.Minute).Seconds(), ck.MaxAge, 5, "Max-Age = time to the idle deadline")

	all := newEnv(t, session.Config{Cookie: session.CookieConfig{Persist: true, Partitioned: true, SameSite: http.SameSiteNoneMode}}, testApp())
	res, _ = all.client().post("/set?k=a&v=1")
	ck = sessionCookie(res)
	require.NotNil(t, ck)
	assert.Positive(t, ck.MaxAge)
	assert.Contains(t, res.Header.Get("Set-Cookie"), "Partitioned")
}

func TestUnencodableValueIsAnErrorNotAPanic(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		err := s.Set("ch", make(chan int))
		assert.ErrorIs(t, err, session.ErrEncode)
		assert.False(t, s.Has("ch"))
	})
	e := newEnv(t, session.Config{}, app)
	res, _ := e.client().get("/")
	assert.Equal(t, 200, res.StatusCode)
	assert.Nil(t, sessionCookie(res), "nothing was stored")
}

func TestCancelledContextIsAnError(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = m.Sessions(ctx, "alice")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, m.RevokeUser(ctx, "alice"), context.Canceled)
}

// Invariant: "An error response (store failure) keeps the headers that outer
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
