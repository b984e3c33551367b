package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
)

// failoverApp is the application of the failover test: every store failure
// is a 500, so a 2xx means the library reported the change as done.
func failoverApp(m func() *session.Manager) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) {
		code := http.StatusInternalServerError
		if errors.Is(err, session.ErrNotFound) {
			code = http.StatusConflict
		}
		http.Error(w, "error", code)
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := session.FromContext(r.Context()).Set(q.Get("k"), q.Get("v")); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		fmt.Fprintf(w, "%s|%s", s.UserID(), s.GetString(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /revoke-user", func(w http.ResponseWriter, r *http.Request) {
		if err := m().RevokeUser(r.Context(), r.URL.Query().Get("u")); err != nil {
			fail(w, err)
		}
	})
	return mux
}

// failoverLedger records what the library acknowledged (a 2xx) during the
// load, to hold against what the promoted replica holds afterwards.
type failoverLedger struct {
	mu      sync.Mutex
	ended   map[string]string            // token → how it ended ("logout", "revoke")
	alive   map[string]string            // token → user, logged in and never ended
	written map[string]map[string]string // token → key → last acknowledged value

	ok, failed, conflict atomic.Int64
	// failedAfterKill counts the 5xx of requests started after the primary
	// was killed; firstOKAfter is when the first of them got a 2xx (unix
	// nanos).
	failedAfterKill atomic.Int64
	firstOKAfter    atomic.Int64
}

// failoverClient is one browser of the failover load, driving the Handler
// directly.
type failoverClient struct {
	h      http.Handler
	token  string
	killed *atomic.Int64 // unix nanos of the kill, 0 before
	l      *failoverLedger
}

func (c *failoverClient) do(method, path string) (int, string) {
	afterKill := c.killed.Load() != 0 // the request starts after the kill
	req := httptest.NewRequest(method, "https://app.test"+path, nil)
	if c.token != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-Http-sid", Value: c.token})
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-Http-sid" {
			c.token = ck.Value
		}
	}
	code := res.StatusCode
	switch {
	case code < 300:
		c.l.ok.Add(1)
		if afterKill {
			c.l.firstOKAfter.CompareAndSwap(0, time.Now().UnixNano())
		}
	case code == http.StatusConflict:
		c.l.conflict.Add(1)
	default:
		c.l.failed.Add(1)
		if afterKill {
			c.l.failedAfterKill.Add(1)
		}
	}
	return code, rec.Body.String()
}

// TestRedisSentinelFailover runs logins, reads, writes, logouts and "log out
// everywhere" against a real primary with two replicas and three Sentinels,
// kills the primary under the load, and then checks on the promoted replica
// that nothing the library acknowledged as ended is alive again (the
// durability a failover client gets by default: WAIT for one replica after
// every ending write), and that every acknowledged login survived. It
// reports the time until requests succeed again and the 5xx answered
// meanwhile, and counts acknowledged plain value writes that the failover
// lost (not waited for: see WithDurability).
func TestRedisSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: skipped with -short")
	}
	primary := redistest.StartServer(t)
	redistest.StartReplica(t, primary)
	redistest.StartReplica(t, primary)
	sentinel := redistest.StartSentinels(t, primary, 3, 2, time.Second)

	client := sentinel.FailoverClient(t)
	store := session.NewRedisStore(client, session.WithKeyPrefix(randomPrefix()))
	var m *session.Manager
	m, err := session.New(session.Config{Store: store, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	h := m.Handler(failoverApp(func() *session.Manager { return m }))

	l := &failoverLedger{ended: map[string]string{}, alive: map[string]string{}, written: map[string]map[string]string{}}
	var killed atomic.Int64
	stop := make(chan struct{})
	wg := runLoad(h, l, &killed, stop, 6, nil)

	time.Sleep(1500 * time.Millisecond)
	okBefore := l.ok.Load()
	killed.Store(time.Now().UnixNano())
	primary.Kill()
	killedAt := time.Now()

	// Run until requests have succeeded again for a while, at most 30 s.
	deadline := killedAt.Add(30 * time.Second)
	for l.firstOKAfter.Load() == 0 || time.Since(time.Unix(0, l.firstOKAfter.Load())) < 1500*time.Millisecond {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no request succeeded within 30 s of killing the primary (%d 5xx)", l.failedAfterKill.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	newPrimary, err := sentinel.MasterAddr(ctx)
	require.NoError(t, err)
	require.NotEqual(t, primary.Addr, newPrimary, "the Sentinels did not promote a replica")

	recovery := time.Unix(0, l.firstOKAfter.Load()).Sub(killedAt)
	t.Logf("failover: %d requests ok before the kill, %d ok in all, %d 5xx after the kill, first 2xx %v after it; promoted %s",
		okBefore, l.ok.Load(), l.failedAfterKill.Load(), recovery.Round(time.Millisecond), newPrimary)

	// Held against the promoted replica: every acknowledged ending holds,
	// every acknowledged login is alive.
	resurrected, lostLogins, lostWrites, writes := verifyLedger(t, h, l)
	sort.Strings(resurrected)
	t.Logf("after the failover: %d acknowledged endings, %d resurrected; %d acknowledged logins, %d lost; %d acknowledged writes, %d lost (plain writes are not waited for)",
		len(l.ended), len(resurrected), len(l.alive), len(lostLogins), len(writes), len(lostWrites))
	require.NotEmpty(t, l.ended, "the load acknowledged no logout or revocation")
	require.Empty(t, resurrected, "a logout or revocation acknowledged before the failover is undone")
	require.Empty(t, lostLogins, "an acknowledged login was lost in the failover")
}

// runLoad starts workers browsers that each loop until stop: log in as a
// new user, set and read three values, then log out (one loop in three),
// end every session of the user (one in three) or stay logged in, recording
// in l what was acknowledged. onLogin, if set, is told each new session's
// token and user.
func runLoad(h http.Handler, l *failoverLedger, killed *atomic.Int64, stop chan struct{}, workers int, onLogin func(token, user string)) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := &failoverClient{h: h, killed: killed, l: l}
				user := fmt.Sprintf("w%d-%d", w, i)
				if code, _ := c.do("POST", "/login?u="+user); code >= 300 {
					time.Sleep(20 * time.Millisecond) // the store is down: do not spin
					continue
				}
				tok := c.token
				if onLogin != nil {
					onLogin(tok, user)
				}
				vals := map[string]string{}
				for j := range 3 {
					k, v := fmt.Sprintf("k%d", j), fmt.Sprintf("v%d-%d", i, j)
					if code, _ := c.do("POST", "/set?k="+k+"&v="+v); code < 300 {
						vals[k] = v
					}
					c.do("GET", "/get?k="+k)
				}
				var end, endPath string
				switch i % 3 {
				case 0:
					end, endPath = "logout", "/logout"
				case 1:
					end, endPath = "revoke", "/revoke-user?u="+user
				}
				acked := false
				if end != "" {
					code, _ := c.do("POST", endPath)
					acked = code < 300
				}
				l.mu.Lock()
				switch {
				case acked:
					l.ended[tok] = end
				case end == "":
					l.alive[tok] = user
					l.written[tok] = vals
				}
				l.mu.Unlock()
			}
		}()
	}
	return &wg
}

// verifyLedger holds l against the store behind h: the acknowledged endings
// whose session is alive again (resurrected), the acknowledged logins that
// are gone, and the acknowledged writes (of sessions still alive) that are
// gone, out of writes.
func verifyLedger(t *testing.T, h http.Handler, l *failoverLedger) (resurrected, lostLogins, lostWrites, writes []string) {
	t.Helper()
	verify := &failoverClient{h: h, killed: new(atomic.Int64), l: &failoverLedger{}}
	for tok, how := range l.ended {
		verify.token = tok
		code, body := verify.do("GET", "/get?k=k0")
		require.Less(t, code, 300, "the store must answer")
		if user, _, _ := strings.Cut(body, "|"); user != "" {
			resurrected = append(resurrected, how)
		}
	}
	for tok, user := range l.alive {
		for k, v := range l.written[tok] {
			verify.token = tok
			code, body := verify.do("GET", "/get?k="+k)
			require.Less(t, code, 300)
			writes = append(writes, k)
			if body == user+"|" {
				lostWrites = append(lostWrites, k)
			} else if body != user+"|"+v {
				if body == "|" {
					lostLogins = append(lostLogins, user)
					break
				}
				t.Errorf("session of %s reads %q, want %q", user, body, user+"|"+v)
			}
		}
	}
	return resurrected, lostLogins, lostWrites, writes
}
