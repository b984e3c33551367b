package session_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/legacymovetest"
	"github.com/sessionkit/session/internal/redistest"
)

// moveApp is cookieNameApp with the routes the move's seams need: a
// remembered login, a "remember me" switch and a value write.
func moveApp() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", cookieNameApp())
	mux.HandleFunc("POST /login-remember", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice", session.Remember())
	})
	mux.HandleFunc("POST /persist", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).SetPersist(true); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Set("k", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		err := session.FromContext(r.Context()).Destroy(r.Context())
		switch {
		case errors.Is(err, session.ErrRotated): // another tab renewed it first
			http.Error(w, "renewed meanwhile", http.StatusConflict)
		case err != nil:
			http.Error(w, "logout failed", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /login-bob", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "bob")
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Renew(r.Context()); err != nil {
			if r.URL.Query().Get("then") == "set" {
				_ = s.Set("flash", "please try again") // a handler's usual reaction
			}
			http.Error(w, "renewed or ended meanwhile", http.StatusConflict)
		}
	})
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Check(r.Context()); err != nil {
			http.Error(w, "ended", http.StatusUnauthorized)
		}
	})
	mux.HandleFunc("POST /save-then-set", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.Set("k", "1")
		if err := s.Save(r.Context()); err != nil {
			_ = s.Set("flash", "please try again") // a handler's usual reaction
			http.Error(w, "ended meanwhile", http.StatusConflict)
		}
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(session.FromContext(r.Context()).GetString("k")))
	})
	return mux
}

// serveJar runs one request carrying the cookies of jar, as a fetch (mode
// "cors") or a page navigation (mode ""), and applies its Set-Cookie
// headers to jar.
func serveJar(h http.Handler, jar map[string]string, method, path, mode string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://example.com"+path, nil)
	var parts []string
	for name, v := range jar {
		parts = append(parts, name+"="+v)
	}
	if len(parts) > 0 {
		r.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	if mode != "" {
		r.Header.Set("Sec-Fetch-Mode", mode)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	applyCookies(jar, w)
	for _, c := range w.Result().Cookies() {
		if c.Value != "" {
			suiteTokens.Store(c.Value, struct{}{})
		}
	}
	return w
}

// legacyLogin logs in on the earlier release (before) at path and returns
// the browser's jar holding its __Host-sid.
func legacyLogin(t *testing.T, before *session.Manager, path string) map[string]string {
	t.Helper()
	jar := map[string]string{}
	serveJar(before.Handler(moveApp()), jar, http.MethodPost, path, "")
	require.NotEmpty(t, jar["__Host-sid"])
	return jar
}

// TestLegacyFetchNeverSendsItsIDUnderTheNewName: a fetch is served under
// the old name and moves nothing. When it has to send the session's cookie
// anyway (a persistent cookie's Max-Age refreshed by the touch, or
// SetPersist), the ID it sends is the legacy one: under __Host-Http-sid its
// key is in the current name's domain and names no record, so the next
// request is refused and the user logged out (both cookies deleted).
func TestLegacyFetchNeverSendsItsIDUnderTheNewName(t *testing.T) {
	for name, tc := range map[string]struct {
		cookie session.CookieConfig
		path   string
	}{
		"SetPersist":         {path: "/persist"},
		"touch of a Persist": {cookie: session.CookieConfig{Persist: true}, path: "/whoami"},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			st := session.NewMemoryStore()
			cfg := session.Config{Store: st, Clock: clk.Now, Cookie: tc.cookie, Logger: testLogger()}
			m, err := session.New(cfg)
			require.NoError(t, err)
			defer m.Close()
			cfg.Cookie.Name = "__Host-sid"
			before, err := session.New(cfg)
			require.NoError(t, err)
			defer before.Close()
			jar := legacyLogin(t, before, "/login")
			legacy := jar["__Host-sid"]
			clk.Advance(10 * time.Minute) // the touch is due

			h := m.Handler(moveApp())
			method := http.MethodGet
			if tc.path == "/persist" {
				method = http.MethodPost
			}
			w := serveJar(h, jar, method, tc.path, "cors")
			require.Equal(t, http.StatusOK, w.Code)
			for _, c := range w.Result().Cookies() {
				assert.False(t, c.Name == "__Host-Http-sid" && c.Value == legacy,
					"the legacy ID is never sent under the new name: %v", w.Header()["Set-Cookie"])
			}
			// Served under the old name: its cookie made (or kept) persistent there.
			if ck := setCookies(w)["__Host-sid"]; assert.NotNil(t, ck, "%v", w.Header()["Set-Cookie"]) {
				assert.Equal(t, legacy, ck.Value)
				assert.Positive(t, ck.MaxAge)
				assert.True(t, ck.Secure && ck.HttpOnly && ck.Path == "/")
			}
			w = serveJar(h, jar, http.MethodGet, "/whoami", "")
			assert.Equal(t, "alice", w.Body.String(), "the user is still logged in; jar %v", len(jar))
			assert.NotEmpty(t, jar["__Host-Http-sid"], "the navigation moved the session")
			assert.NotEqual(t, legacy, jar["__Host-Http-sid"])
		})
	}
}

// TestLegacyMoveIsNotANewSession: moving a session off the legacy name
// renews the ID of a session the user already has; it is not a login. With
// MaxSessionsPerUser (set with the upgrade, while the earlier release had
// none, so a user may be over the cap), the move must neither evict the
// user's other sessions nor, with RefuseOverLimit, be refused: that answer
// is a 5xx on every page navigation of that device, for as long as the
// session lives.
func TestLegacyMoveIsNotANewSession(t *testing.T) {
	for name, refuse := range map[string]bool{"evict": false, "refuse": true} {
		t.Run(name, func(t *testing.T) {
			st := session.NewMemoryStore()
			before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
			require.NoError(t, err)
			defer before.Close()
			m, err := session.New(session.Config{Store: st, MaxSessionsPerUser: 2, RefuseOverLimit: refuse, Logger: testLogger()})
			require.NoError(t, err)
			defer m.Close()
			var jars []map[string]string
			for range 3 {
				jars = append(jars, legacyLogin(t, before, "/login"))
			}
			h := m.Handler(moveApp())
			w := serveJar(h, jars[0], http.MethodGet, "/whoami", "")
			require.Equal(t, http.StatusOK, w.Code, "a move is not refused as a login past the cap")
			assert.Equal(t, "alice", w.Body.String())
			assert.NotEmpty(t, jars[0]["__Host-Http-sid"], "moved")
			for i, jar := range jars[1:] {
				w := serveJar(h, jar, http.MethodGet, "/whoami", "cors")
				assert.Equal(t, "alice", w.Body.String(), "session %d is not evicted by another device's move", i+1)
			}
			infos, err := m.Sessions(t.Context(), "alice")
			require.NoError(t, err)
			assert.Len(t, infos, 3)
		})
	}
}

// TestLegacyMoveRaces lands another request or an admin action between a
// navigation's load of a legacy session and its move. Whatever lands
// there: no 5xx, a session ended meanwhile is never live again, one
// session never has two live IDs, and the browser ends with the live ID
// (or none when the session ended).
func TestLegacyMoveRaces(t *testing.T) {
	type world struct {
		m, before *session.Manager
		jar       map[string]string
		handle    string
	}
	for name, tc := range map[string]struct {
		race func(t *testing.T, w *world)
		user string // the user the browser ends with
		live int    // alice's live sessions afterwards
	}{
		"logout on this release": {race: func(t *testing.T, w *world) {
			require.Equal(t, http.StatusOK, serveJar(w.m.Handler(moveApp()), w.jar, http.MethodPost, "/logout", "").Code)
		}},
		"logout on the earlier release": {race: func(t *testing.T, w *world) {
			require.Equal(t, http.StatusOK, serveJar(w.before.Handler(moveApp()), w.jar, http.MethodPost, "/logout", "").Code)
		}},
		"log out everywhere": {race: func(t *testing.T, w *world) {
			require.NoError(t, w.m.RevokeUser(t.Context(), "alice"))
		}},
		"revoke all": {race: func(t *testing.T, w *world) {
			require.NoError(t, w.m.RevokeAll(t.Context()))
		}},
		"revoke this device": {race: func(t *testing.T, w *world) {
			require.NoError(t, w.m.Revoke(t.Context(), "alice", w.handle))
		}},
		"login of another user": {race: func(t *testing.T, w *world) {
			serveJar(w.m.Handler(moveApp()), w.jar, http.MethodPost, "/login-bob", "")
		}, user: "bob"},
		"another navigation's move": {race: func(t *testing.T, w *world) {
			serveJar(w.m.Handler(moveApp()), w.jar, http.MethodGet, "/whoami", "")
		}, user: "alice", live: 1},
		"renewal on the earlier release": {race: func(t *testing.T, w *world) {
			serveJar(w.before.Handler(moveApp()), w.jar, http.MethodPost, "/login", "")
		}, user: "alice", live: 1},
	} {
		for _, storeName := range []string{"memory", "redis"} {
			t.Run(storeName+"/"+name, func(t *testing.T) {
				var inner session.Store = session.NewMemoryStore()
				if storeName == "redis" {
					inner = session.NewRedisStore(miniredisClient(t))
				}
				st := &afterLoadStore{hookStore: &hookStore{Store: inner}}
				before, m := earlierRelease(t, st)
				w := &world{m: m, before: before, jar: legacyLogin(t, before, "/login")}
				infos, err := m.Sessions(t.Context(), "alice")
				require.NoError(t, err)
				require.Len(t, infos, 1)
				w.handle = infos[0].Handle

				ran := false
				hook := func() { ran = true; tc.race(t, w) }
				st.afterLoad.Store(&hook)
				move := serveJar(m.Handler(moveApp()), w.jar, http.MethodGet, "/whoami", "")
				require.True(t, ran)
				assert.Less(t, move.Code, 500, "a lost race is no 5xx")

				// The browser's next page, with whatever cookies it kept.
				next := serveJar(m.Handler(moveApp()), w.jar, http.MethodGet, "/whoami", "")
				assert.Equal(t, tc.user, next.Body.String(), "jar %v", len(w.jar))
				again := serveJar(m.Handler(moveApp()), w.jar, http.MethodGet, "/whoami", "")
				assert.Equal(t, tc.user, again.Body.String())
				infos, err = m.Sessions(t.Context(), "alice")
				require.NoError(t, err)
				assert.Len(t, infos, tc.live, "alice's live sessions")
			})
		}
	}
}

// TestRedisPausedDuringTheMoveFailsClosed: a real redis-server paused
// (CLIENT PAUSE, longer than the client's read timeout) while a navigation
// moves a legacy session. The response is the error handler's, with no
// cookie issued or deleted (deleting __Host-sid would log the user out for
// a passing fault), nothing the browser cannot reach is left live, and once
// the server is back the next navigation moves the session.
func TestRedisPausedDuringTheMoveFailsClosed(t *testing.T) {
	srv := redistest.StartServer(t)
	admin := srv.Client(t)
	for _, mode := range []string{"ALL", "WRITE"} {
		t.Run(mode, func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			before, m := earlierRelease(t, session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix())))
			jar := legacyLogin(t, before, "/login")
			legacy := jar["__Host-sid"]
			h := m.Handler(moveApp())

			require.NoError(t, admin.Do(context.Background(), "CLIENT", "PAUSE", 1000, mode).Err())
			w := serveJar(h, jar, http.MethodGet, "/whoami", "")
			require.NoError(t, admin.Do(context.Background(), "CLIENT", "UNPAUSE").Err())
			assert.Equal(t, http.StatusInternalServerError, w.Code)
			assert.NotContains(t, w.Body.String(), "alice")
			assert.Empty(t, w.Header()["Set-Cookie"], "no cookie is issued or deleted")
			assert.Equal(t, legacy, jar["__Host-sid"])

			w = serveJar(h, jar, http.MethodGet, "/whoami", "")
			assert.Equal(t, "alice", w.Body.String(), "the next navigation moves it")
			assert.NotEmpty(t, jar["__Host-Http-sid"])
			assert.Empty(t, jar["__Host-sid"])
			infos, err := m.Sessions(t.Context(), "alice")
			require.NoError(t, err)
			assert.Len(t, infos, 1, "one live session, the browser's")
		})
	}
}

// TestRedisLegacyMoveRacesManyRounds is TestLegacyMoveRaces for real on a
// redis-server, the requests truly concurrent: in each round two page
// navigations (each would move the session), a fetch served under the old
// name, and in every other round a logout, all carrying the same legacy
// cookie. Whatever the interleaving: no 5xx; a logout that answered 200
// left nothing live; otherwise exactly one live ID, the one the browser
// ends with, and one device listed.
func TestRedisLegacyMoveRacesManyRounds(t *testing.T) {
	srv := redistest.StartServer(t)
	c := srv.Client(t)
	for round := range 40 {
		st := session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))
		before, m := earlierRelease(t, st)
		jar := legacyLogin(t, before, "/login")
		h := m.Handler(moveApp())
		type req struct{ method, path, mode string }
		reqs := []req{{http.MethodGet, "/whoami", ""}, {http.MethodGet, "/whoami", ""}, {http.MethodGet, "/whoami", "cors"}}
		if round%2 == 1 {
			reqs = append(reqs, req{http.MethodPost, "/logout", ""})
		}
		sent := map[string]string{"__Host-sid": jar["__Host-sid"]}
		var mu sync.Mutex
		var done []*httptest.ResponseRecorder // in the order they ended
		codes := map[string]int{}
		var wg sync.WaitGroup
		for _, rq := range reqs {
			wg.Go(func() {
				w := serveJar(h, map[string]string{"__Host-sid": sent["__Host-sid"]}, rq.method, rq.path, rq.mode)
				mu.Lock()
				defer mu.Unlock()
				done = append(done, w)
				codes[rq.method+rq.path+rq.mode] = w.Code
			})
		}
		wg.Wait()
		for _, w := range done {
			require.Less(t, w.Code, 500, "round %d: a lost race is no 5xx: %v", round, codes)
		}
		applyCookies(jar, done...)
		live := 0
		for _, w := range done {
			for _, ck := range w.Result().Cookies() {
				if ck.Name == "__Host-Http-sid" && ck.Value != "" {
					if serveCookie(h, http.MethodGet, "/whoami", "__Host-Http-sid="+ck.Value).Body.String() == "alice" {
						live++
						assert.Equal(t, ck.Value, jar["__Host-Http-sid"], "round %d: the browser ends with the live ID", round)
					}
				}
			}
		}
		infos, err := m.Sessions(t.Context(), "alice")
		require.NoError(t, err)
		if codes[http.MethodPost+"/logout"] == http.StatusOK {
			assert.Zero(t, live, "round %d: a logout that answered 200 left a live ID", round)
			assert.Empty(t, infos, "round %d", round)
			assert.Empty(t, serveJar(h, jar, http.MethodGet, "/whoami", "").Body.String(), "round %d", round)
			continue
		}
		assert.Equal(t, 1, live, "round %d: one live ID: %v", round, codes)
		assert.Len(t, infos, 1, "round %d", round)
		assert.Equal(t, "alice", serveJar(h, jar, http.MethodGet, "/whoami", "").Body.String(), "round %d", round)
	}
}

// TestLegacyRememberedSessionKeepsItsLifetimes: a remembered session of
// the earlier release, moved: its cookie stays persistent with the
// remembered idle limit as Max-Age, it is listed once and still as
// remembered with its login time, the move counts as the ID's renewal
// (no second one on the next page), and its absolute deadline is still
// counted from the login, not from the move.
func TestLegacyRememberedSessionKeepsItsLifetimes(t *testing.T) {
	clk := newFakeClock()
	st := session.NewMemoryStore()
	cfg := session.Config{Store: st, Clock: clk.Now, Logger: testLogger()}
	m, err := session.New(cfg)
	require.NoError(t, err)
	defer m.Close()
	cfg.Cookie.Name = "__Host-sid"
	before, err := session.New(cfg)
	require.NoError(t, err)
	defer before.Close()
	jar := legacyLogin(t, before, "/login-remember")
	login := clk.Now()
	h := m.Handler(moveApp())

	clk.Advance(2 * time.Hour)
	w := serveJar(h, jar, http.MethodGet, "/whoami", "")
	require.Equal(t, "alice", w.Body.String())
	moved := setCookies(w)["__Host-Http-sid"]
	require.NotNil(t, moved)
	assert.InDelta(t, (7 * 24 * time.Hour).Seconds(), moved.MaxAge, 2, "a persistent cookie for the remembered idle limit")
	infos, err := m.Sessions(t.Context(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.True(t, infos[0].Remembered)
	assert.True(t, infos[0].CreatedAt.Equal(login), "the login time is kept: %v", infos[0].CreatedAt)
	assert.True(t, infos[0].AuthenticatedAt.Equal(login), "the move is no authentication: %v", infos[0].AuthenticatedAt)
	w = serveJar(h, jar, http.MethodGet, "/whoami", "")
	assert.Equal(t, "alice", w.Body.String())
	assert.Empty(t, w.Header()["Set-Cookie"], "the move was the renewal: no second one")

	// Active every six days: alive until 30 days after the login.
	for last := 30*24*time.Hour - time.Hour; clk.Now().Sub(login) < last; {
		clk.Advance(min(6*24*time.Hour, last-clk.Now().Sub(login)))
		w = serveJar(h, jar, http.MethodGet, "/whoami", "")
		require.Equal(t, "alice", w.Body.String(), "day %v", clk.Now().Sub(login))
	}
	clk.Advance(time.Hour + time.Second)
	w = serveJar(h, jar, http.MethodGet, "/whoami", "")
	assert.Empty(t, w.Body.String(), "ended 30 days after the login, the move notwithstanding")
}

// TestLegacySessionUnmovedStillExpires: a legacy session only ever reached
// by fetches (served under the old key, never moved) keeps its idle and
// absolute limits, and once expired its old cookie is deleted.
func TestLegacySessionUnmovedStillExpires(t *testing.T) {
	// fetches: active this often, as many times; then until after the login.
	for name, tc := range map[string]struct {
		every   time.Duration
		fetches int
		until   time.Duration
	}{
		"idle":     {every: 29 * time.Minute, fetches: 1, until: 29*time.Minute + 30*time.Minute + time.Second},
		"absolute": {every: 20 * time.Minute, fetches: 23, until: 8*time.Hour + time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			cfg := session.Config{Store: session.NewMemoryStore(), Clock: clk.Now, Logger: testLogger()}
			m, err := session.New(cfg)
			require.NoError(t, err)
			defer m.Close()
			cfg.Cookie.Name = "__Host-sid"
			before, err := session.New(cfg)
			require.NoError(t, err)
			defer before.Close()
			jar := legacyLogin(t, before, "/login")
			login := clk.Now()
			h := m.Handler(moveApp())
			for range tc.fetches {
				clk.Advance(tc.every)
				w := serveJar(h, jar, http.MethodGet, "/whoami", "cors")
				require.Equal(t, "alice", w.Body.String(), "at %v", clk.Now().Sub(login))
			}
			clk.Advance(tc.until - clk.Now().Sub(login))
			w := serveJar(h, jar, http.MethodGet, "/whoami", "cors")
			assert.Empty(t, w.Body.String(), "expired (%s) at %v", name, clk.Now().Sub(login))
			assert.Empty(t, jar, "the old cookie is deleted: %v", w.Header()["Set-Cookie"])
		})
	}
}

// TestLegacySignedCookieIsMoved: with SigningKeys, a legacy cookie signed
// by the earlier release under a key now second in the list is read under
// __Host-sid (served there by a fetch, moved by a navigation), and the
// moved cookie is signed by the primary key. A signed value of this
// release planted as __Host-sid, or one signed by an unknown key, logs
// nobody in and is deleted.
func TestLegacySignedCookieIsMoved(t *testing.T) {
	oldKey, newKey, otherKey := make32(t), make32(t), make32(t)
	newKey[0], otherKey[0] = 0xAA, 0xBB
	st := session.NewMemoryStore()
	before, err := session.New(session.Config{Store: st, SigningKeys: [][]byte{oldKey}, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer before.Close()
	m, err := session.New(session.Config{Store: st, SigningKeys: [][]byte{newKey, oldKey}, Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	onlyNew, err := session.New(session.Config{Store: st, SigningKeys: [][]byte{newKey}, Logger: testLogger()})
	require.NoError(t, err)
	defer onlyNew.Close()
	h := m.Handler(moveApp())

	jar := legacyLogin(t, before, "/login")
	legacy := jar["__Host-sid"]
	w := serveJar(h, jar, http.MethodGet, "/whoami", "cors")
	assert.Equal(t, "alice", w.Body.String(), "a fetch is served under the old name")
	assert.Equal(t, legacy, jar["__Host-sid"])
	w = serveJar(h, jar, http.MethodGet, "/whoami", "")
	assert.Equal(t, "alice", w.Body.String())
	require.NotEmpty(t, jar["__Host-Http-sid"])
	assert.Empty(t, jar["__Host-sid"])
	w = serveJar(onlyNew.Handler(moveApp()), map[string]string{"__Host-Http-sid": jar["__Host-Http-sid"]}, http.MethodGet, "/whoami", "")
	assert.Equal(t, "alice", w.Body.String(), "the moved cookie is signed by the primary key")

	// Hostile values under the old name.
	mine := map[string]string{}
	serveJar(h, mine, http.MethodPost, "/login", "")
	require.NotEmpty(t, mine["__Host-Http-sid"])
	foreign := map[string]string{}
	other, err := session.New(session.Config{Store: session.NewMemoryStore(), SigningKeys: [][]byte{otherKey}, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer other.Close()
	serveJar(other.Handler(moveApp()), foreign, http.MethodPost, "/login", "")
	require.NotEmpty(t, foreign["__Host-sid"])
	for name, v := range map[string]string{
		"this release's, planted": mine["__Host-Http-sid"],
		"unknown key":             foreign["__Host-sid"],
		"unsigned":                strings.SplitN(legacy, ".", 2)[0],
		"oversized":               strings.Repeat("A", 5000),
	} {
		if name != "oversized" {
			suiteTokens.Store(v, struct{}{}) // never logged, refused or not
		}
		jar := map[string]string{"__Host-sid": v}
		w := serveJar(h, jar, http.MethodGet, "/whoami", "")
		assert.Equal(t, http.StatusOK, w.Code, name)
		assert.Empty(t, w.Body.String(), name)
		assert.Empty(t, jar, "%s: nothing issued, the old cookie deleted: %v", name, w.Header()["Set-Cookie"])
	}
}

// TestLegacyMoveKeepsOneDevice: a moved session is one device, listed
// once under its new handle, and the handle a devices page showed before
// the move still revokes it.
func TestLegacyMoveKeepsOneDevice(t *testing.T) {
	st := session.NewMemoryStore()
	before, m := earlierRelease(t, st)
	jar := legacyLogin(t, before, "/login")
	infos, err := m.Sessions(t.Context(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	shown := infos[0].Handle

	h := m.Handler(moveApp())
	require.Equal(t, "alice", serveJar(h, jar, http.MethodGet, "/whoami", "").Body.String())
	require.NotEmpty(t, jar["__Host-Http-sid"])
	infos, err = m.Sessions(t.Context(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1, "one device, not two")
	assert.NotEqual(t, shown, infos[0].Handle, "listed under its new handle")

	require.NoError(t, m.Revoke(t.Context(), "alice", shown), "the handle shown before the move still names the device")
	assert.Empty(t, serveJar(h, jar, http.MethodGet, "/whoami", "").Body.String())
	infos, err = m.Sessions(t.Context(), "alice")
	require.NoError(t, err)
	assert.Empty(t, infos)
}

// TestLegacyCookieIgnoredInHeaderMode: with TokenHeader, the transport is
// the header: no cookie is read, the legacy one included, and none is
// deleted.
func TestLegacyCookieIgnoredInHeaderMode(t *testing.T) {
	st := session.NewMemoryStore()
	before, _ := earlierRelease(t, st)
	m, err := session.New(session.Config{Store: st, TokenHeader: "X-Session", Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	jar := legacyLogin(t, before, "/login")
	w := serveJar(m.Handler(moveApp()), jar, http.MethodGet, "/whoami", "")
	assert.Empty(t, w.Body.String())
	assert.Empty(t, w.Header()["Set-Cookie"])
	assert.NotEmpty(t, jar["__Host-sid"])
}

// TestFormRenderedByTheMoveStillPosts: the page navigation that moves a
// legacy session (or renews a remembered one) renders its forms before the
// response goes out, with the session's CSRF token; the renewal happens
// just after. A new ID that got a new CSRF secret makes that page's form
// fail with 403 on submit: the first form after the upgrade (and the first
// one each RenewEvery) would never post.
func TestFormRenderedByTheMoveStillPosts(t *testing.T) {
	for _, storeName := range []string{"memory", "redis"} {
		for name, login := range map[string]string{"legacy move": "/login", "legacy move, no secret yet": "/login", "remembered renewal": "/login-remember"} {
			t.Run(storeName+"/"+name, func(t *testing.T) { formRenderedByTheMove(t, storeName, name, login) })
		}
	}
}

// formRenderedByTheMove is one case of TestFormRenderedByTheMoveStillPosts.
func formRenderedByTheMove(t *testing.T, storeName, name, login string) {
	clk := newFakeClock()
	var st session.Store = session.NewMemoryStore()
	if storeName == "redis" {
		st = session.NewRedisStore(miniredisClient(t))
	}
	cfg := session.Config{Store: st, Clock: clk.Now, Logger: testLogger()}
	m, err := session.New(cfg)
	require.NoError(t, err)
	defer m.Close()
	mux := http.NewServeMux()
	mux.Handle("/", moveApp())
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(session.CSRFToken(r))) })
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(session.FromContext(r.Context()).UserID()))
	})
	h := m.Handler(m.CSRF(mux))
	jar := map[string]string{}
	if strings.HasPrefix(name, "legacy move") {
		cfg.Cookie.Name = "__Host-sid"
		before, err := session.New(cfg)
		require.NoError(t, err)
		defer before.Close()
		jar = legacyLogin(t, before, login)
		if name == "legacy move" {
			// A form the earlier release rendered: the session has its secret.
			require.NotEmpty(t, serveJar(before.Handler(before.CSRF(mux)), jar, http.MethodGet, "/form", "").Body.String())
		}
	} else {
		serveJar(m.Handler(moveApp()), jar, http.MethodPost, login, "")
		require.NotEmpty(t, jar["__Host-Http-sid"])
		require.NotEmpty(t, serveJar(h, jar, http.MethodGet, "/form", "").Body.String())
		clk.Advance(25 * time.Hour) // RenewEvery (a day) is due
	}
	old := maps.Clone(jar)
	w := serveJar(h, jar, http.MethodGet, "/form", "")
	token := w.Body.String()
	require.NotEmpty(t, token)
	require.NotEqual(t, old, jar, "the page renewed the ID: %v", w.Header()["Set-Cookie"])

	r := httptest.NewRequest(http.MethodPost, "https://example.com/submit", nil)
	for k, v := range jar {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	r.Header.Set(session.CSRFHeader, token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusOK, rec.Code, "the form the renewing page rendered posts")
	assert.Equal(t, "alice", rec.Body.String())
}

// TestLegacyWriteDoesNotDeleteAnOldReleaseRenewal: during a rolling
// upgrade, an instance of the earlier release renews a session under
// __Host-sid (a login, a remembered renewal) while a fetch of the same
// browser, served under the old name by an upgraded instance, writes to it
// (a value, the touch). The fetch finds its record renewed at commit: its
// change is dropped (the grace rule), and it must not delete __Host-sid,
// which may by then hold the renewed ID: arriving last, that deletion logs
// the user out.
func TestLegacyWriteDoesNotDeleteAnOldReleaseRenewal(t *testing.T) {
	st := &afterLoadStore{hookStore: &hookStore{Store: session.NewMemoryStore()}}
	before, m := earlierRelease(t, st)
	jar := legacyLogin(t, before, "/login")
	legacy := jar["__Host-sid"]

	var renewal *httptest.ResponseRecorder
	hook := func() {
		renewal = serveJar(before.Handler(moveApp()), map[string]string{"__Host-sid": legacy}, http.MethodPost, "/login", "")
	}
	st.beforeUpdate.Store(&hook)
	write := serveJar(m.Handler(moveApp()), map[string]string{"__Host-sid": legacy}, http.MethodPost, "/set?v=1", "cors")
	require.NotNil(t, renewal, "the renewal ran between the write's load and its update")
	renewed := setCookies(renewal)["__Host-sid"]
	require.NotNil(t, renewed)
	assert.Less(t, write.Code, 500)

	applyCookies(jar, renewal, write)
	assert.Equal(t, renewed.Value, jar["__Host-sid"], "the browser must keep the renewed ID: %v", write.Header()["Set-Cookie"])
	w := serveJar(m.Handler(moveApp()), jar, http.MethodGet, "/whoami", "")
	assert.Equal(t, "alice", w.Body.String())
}

// TestRenewalLosingToARenewalKeepsTheCookies: a Renew (a privilege
// change) whose session another request renewed between its load and its
// store step fails with ErrNotFound, and goes on anonymous. Its response
// must leave the browser's cookies alone, as any request carrying an ID
// renewed a moment ago does (the grace rule): the browser may already hold
// the renewed ID, under __Host-Http-sid (a login in another tab) or under
// __Host-sid (an instance of the earlier release, during a rolling
// upgrade), and a deletion arriving last logs the user out.
func TestRenewalLosingToARenewalKeepsTheCookies(t *testing.T) {
	for name, legacyName := range map[string]bool{"legacy name, earlier-release renewal": true, "current name, login in another tab": false} {
		for _, path := range []string{"/renew", "/renew?then=set"} {
			t.Run(name+path, func(t *testing.T) { renewalLosingToARenewal(t, legacyName, path) })
		}
	}
}

// renewalLosingToARenewal is one case of
// TestRenewalLosingToARenewalKeepsTheCookies: path renews, and with
// then=set, sets a value once the renewal failed, which must not start a
// session whose cookie replaces the renewed one (the grace rule: Set
// answers ErrRotated).
func renewalLosingToARenewal(t *testing.T, legacyName bool, path string) {
	{
		{
			st := &afterLoadStore{hookStore: &hookStore{Store: session.NewMemoryStore()}}
			before, m := earlierRelease(t, st)
			renewer, cookie := m, "__Host-Http-sid"
			if legacyName {
				renewer, cookie = before, "__Host-sid"
			}
			jar := map[string]string{}
			serveJar(renewer.Handler(moveApp()), jar, http.MethodPost, "/login", "")
			require.NotEmpty(t, jar[cookie])
			sent := maps.Clone(jar)

			var renewal *httptest.ResponseRecorder
			hook := func() {
				renewal = serveJar(renewer.Handler(moveApp()), maps.Clone(sent), http.MethodPost, "/login", "")
			}
			st.afterLoad.Store(&hook)
			lost := serveJar(m.Handler(moveApp()), maps.Clone(sent), http.MethodPost, path, "cors")
			require.NotNil(t, renewal)
			assert.Equal(t, http.StatusConflict, lost.Code, "the renewal lost")
			renewed := setCookies(renewal)[cookie]
			require.NotNil(t, renewed)

			applyCookies(jar, renewal, lost)
			assert.Equal(t, renewed.Value, jar[cookie], "the browser keeps the renewed ID: %v", lost.Header()["Set-Cookie"])
			assert.Equal(t, "alice", serveJar(m.Handler(moveApp()), jar, http.MethodGet, "/whoami", "cors").Body.String())
		}
	}
}

// TestLegacyCheckDoesNotDeleteAnOldReleaseRenewal: a fetch served under
// the old name (an EventSource opening, say) calls Check before it
// answers, and finds the session renewed meanwhile by an instance of the
// earlier release. Its response must not delete __Host-sid, which may
// hold the renewed ID.
func TestLegacyCheckDoesNotDeleteAnOldReleaseRenewal(t *testing.T) {
	st := &afterLoadStore{hookStore: &hookStore{Store: session.NewMemoryStore()}}
	before, m := earlierRelease(t, st)
	jar := legacyLogin(t, before, "/login")
	sent := maps.Clone(jar)
	var renewal *httptest.ResponseRecorder
	hook := func() { renewal = serveJar(before.Handler(moveApp()), maps.Clone(sent), http.MethodPost, "/login", "") }
	st.afterLoad.Store(&hook)
	check := serveJar(m.Handler(moveApp()), maps.Clone(sent), http.MethodGet, "/check", "cors")
	require.NotNil(t, renewal)
	assert.Equal(t, http.StatusUnauthorized, check.Code, "Check saw the ID renewed")
	renewed := setCookies(renewal)["__Host-sid"]
	require.NotNil(t, renewed)
	applyCookies(jar, renewal, check)
	assert.Equal(t, renewed.Value, jar["__Host-sid"], "the browser keeps the renewed ID: %v", check.Header()["Set-Cookie"])
}

// TestRedisDevicesListNoSessionRevokeAllEnded: after RevokeAll, every
// session created before it is ended (Load answers a revoked Tombstone),
// and the devices list must not show it as live: on Redis it did, with the
// Revoke button of a session that no longer exists (found by
// TestLegacyMoveRaces, RevokeAll landing during the move).
func TestRedisDevicesListNoSessionRevokeAllEnded(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		m, err := session.New(session.Config{Store: session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix())), Logger: testLogger()})
		require.NoError(t, err)
		defer m.Close()
		h := m.Handler(moveApp())
		jar := map[string]string{}
		serveJar(h, jar, http.MethodPost, "/login", "")
		infos, err := m.Sessions(t.Context(), "alice")
		require.NoError(t, err)
		require.Len(t, infos, 1)

		require.NoError(t, m.RevokeAll(t.Context()))
		assert.Empty(t, serveJar(h, maps.Clone(jar), http.MethodGet, "/whoami", "cors").Body.String())
		infos, err = m.Sessions(t.Context(), "alice")
		require.NoError(t, err)
		assert.Empty(t, infos, "a session RevokeAll ended is not listed")

		serveJar(h, jar, http.MethodPost, "/login", "")
		infos, err = m.Sessions(t.Context(), "alice")
		require.NoError(t, err)
		assert.Len(t, infos, 1, "a login after it is")
	})
}

// TestCapAfterRevokeAllAdmitsALogin: RevokeAll ("log everybody out", an
// incident response) ends every session created before it. With
// MaxSessionsPerUser and RefuseOverLimit, those ended sessions must not
// count against the cap: they did, on the memory store and on a single
// Redis server, so a user at the cap could not log in again until the
// ended sessions' records expired (a remembered one: days later).
func TestCapAfterRevokeAllAdmitsALogin(t *testing.T) {
	run := func(t *testing.T, st session.Store, clk *fakeClock) {
		m, err := session.New(session.Config{Store: st, Clock: clk.Now, MaxSessionsPerUser: 1, RefuseOverLimit: true, Logger: testLogger()})
		require.NoError(t, err)
		defer m.Close()
		h := m.Handler(moveApp())
		first := map[string]string{}
		serveJar(h, first, http.MethodPost, "/login-remember", "")
		require.Equal(t, "alice", serveJar(h, first, http.MethodGet, "/whoami", "cors").Body.String())
		clk.Advance(time.Second)
		require.NoError(t, m.RevokeAll(t.Context()))
		clk.Advance(time.Second)

		again := map[string]string{}
		w := serveJar(h, again, http.MethodPost, "/login", "")
		require.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "alice", serveJar(h, again, http.MethodGet, "/whoami", "cors").Body.String(), "the login after RevokeAll is admitted")
		assert.Empty(t, serveJar(h, first, http.MethodGet, "/whoami", "cors").Body.String(), "the session before it stays ended")
	}
	t.Run("Memory", func(t *testing.T) {
		clk := newFakeClock()
		run(t, session.NewMemoryStore(), clk)
	})
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		run(t, session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix())), newFakeClock())
	})
}

// TestLegacyUpgradeRequestMovesNothing: a WebSocket opening (a GET with
// Upgrade) from a client that sends no Fetch Metadata (not a browser,
// whose opening says Sec-Fetch-Mode: websocket) is no page navigation: the
// connection is hijacked, and a 101 written by the WebSocket library does
// not carry the session's Set-Cookie. A renewal there (the move of a
// legacy session, a remembered session's periodic one) retired the ID
// without the client ever learning the new one, which logged it out.
func TestLegacyUpgradeRequestMovesNothing(t *testing.T) {
	for _, name := range []string{"legacy move", "remembered renewal"} {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			cfg := session.Config{Store: session.NewMemoryStore(), Clock: clk.Now, Logger: testLogger()}
			m, err := session.New(cfg)
			require.NoError(t, err)
			defer m.Close()
			jar := map[string]string{}
			if name == "legacy move" {
				cfg.Cookie.Name = "__Host-sid"
				before, err := session.New(cfg)
				require.NoError(t, err)
				defer before.Close()
				jar = legacyLogin(t, before, "/login")
			} else {
				serveJar(m.Handler(moveApp()), jar, http.MethodPost, "/login-remember", "")
				clk.Advance(25 * time.Hour) // RenewEvery (a day) is due
			}
			assert.Equal(t, "alice", upgradeRequest(t, m, jar))
			w := serveJar(m.Handler(moveApp()), jar, http.MethodGet, "/whoami", "")
			assert.Equal(t, "alice", w.Body.String(), "the client's ID was not retired behind its back")
		})
	}
}

// upgradeRequest opens a connection upgrade carrying the cookies of jar,
// as a WebSocket client without Fetch Metadata does, to a handler that
// hijacks it and writes its own 101, and returns the user it answered.
func upgradeRequest(t *testing.T, m *session.Manager, jar map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := session.FromContext(r.Context()).UserID()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n" + user)
		_ = brw.Flush()
	})))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/socket", nil)
	require.NoError(t, err)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "test")
	for k, v := range jar {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode, "%s", body)
	return string(body)
}

// TestLegacyNameAndImport: Config.Import adopts a session of another system
// only for a request with no session of ours. A session of the earlier
// release under __Host-sid is ours: it is served and moved, and the other
// system's session is left unconsumed. A session of this release planted
// as __Host-sid is not ours there: the import proceeds, its login is issued
// under __Host-Http-sid, and the planted cookie is deleted.
func TestLegacyNameAndImport(t *testing.T) {
	st := session.NewMemoryStore()
	var calls atomic.Int32
	before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer before.Close()
	m, err := session.New(session.Config{Store: st, Logger: testLogger(), Import: func(_ context.Context, r *http.Request) (session.Imported, error) {
		calls.Add(1)
		c, err := r.Cookie("other")
		if err != nil {
			return session.Imported{}, nil
		}
		return session.Imported{Legacy: &http.Cookie{Name: c.Name, Path: "/"}, UserID: "bob"}, nil
	}})
	require.NoError(t, err)
	defer m.Close()
	h := m.Handler(moveApp())

	jar := legacyLogin(t, before, "/login")
	jar["other"] = "x"
	w := serveJar(h, jar, http.MethodGet, "/whoami", "")
	assert.Equal(t, "alice", w.Body.String(), "our earlier release's session is ours")
	assert.Zero(t, calls.Load(), "the importer is not asked")
	assert.NotEmpty(t, jar["__Host-Http-sid"])
	assert.Empty(t, jar["__Host-sid"])
	assert.Equal(t, "x", jar["other"], "the other system's session is not consumed")

	mine := map[string]string{}
	serveJar(h, mine, http.MethodPost, "/login", "")
	planted := map[string]string{"__Host-sid": mine["__Host-Http-sid"], "other": "x"}
	calls.Store(0)
	w = serveJar(h, planted, http.MethodGet, "/whoami", "")
	assert.Equal(t, "bob", w.Body.String(), "the planted session is not adopted; the import is")
	assert.EqualValues(t, 1, calls.Load())
	assert.NotEmpty(t, planted["__Host-Http-sid"])
	assert.NotEqual(t, mine["__Host-Http-sid"], planted["__Host-Http-sid"])
	assert.Empty(t, planted["__Host-sid"], "the planted cookie is deleted")
	assert.Empty(t, planted["other"], "the imported cookie is expired")
}

// TestExplicitHostHttpNameIsUnchanged: 0.1.0 accepted Cookie.Name
// "__Host-Http-sid" set explicitly (the prefix a script cannot set), and
// keyed its sessions as every name was keyed then. An explicit name is
// unchanged by the upgrade (MIGRATING): its sessions still log in (with the
// current name's key domain applied to it, none did: everybody was logged
// out), and no other name is read (reading __Host-sid reopened, for
// exactly those sessions, the plant the key domain closes).
func TestExplicitHostHttpNameIsUnchanged(t *testing.T) {
	st := session.NewMemoryStore()
	// A 0.1.0 session: keyed as every name was (this release keys any name
	// but the default that way).
	issuer, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-x"}, Logger: testLogger()})
	require.NoError(t, err)
	defer issuer.Close()
	issued := map[string]string{}
	serveJar(issuer.Handler(moveApp()), issued, http.MethodPost, "/login", "")
	token := issued["__Host-x"]
	require.NotEmpty(t, token)

	m, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-Http-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	h := m.Handler(moveApp())
	w := serveJar(h, map[string]string{"__Host-Http-sid": token}, http.MethodGet, "/whoami", "")
	assert.Equal(t, "alice", w.Body.String(), "a session of the explicit name still logs in")

	planted := map[string]string{"__Host-sid": token}
	w = serveJar(h, planted, http.MethodGet, "/whoami", "")
	assert.Empty(t, w.Body.String(), "no other name is read")
	assert.Equal(t, token, planted["__Host-sid"], "nor deleted: %v", w.Header()["Set-Cookie"])
}

// TestSaveLosingToARenewalStartsNoSession: a handler saves early
// (Session.Save) and finds its session renewed by another tab since its
// load; its change is dropped (the grace rule). A Set after that must not
// start a new anonymous session whose cookie replaces the renewed one.
func TestSaveLosingToARenewalStartsNoSession(t *testing.T) {
	st := &afterLoadStore{hookStore: &hookStore{Store: session.NewMemoryStore()}}
	_, m := earlierRelease(t, st)
	h := m.Handler(moveApp())
	jar := map[string]string{}
	serveJar(h, jar, http.MethodPost, "/login", "")
	require.NotEmpty(t, jar["__Host-Http-sid"])
	sent := maps.Clone(jar)
	var renewal *httptest.ResponseRecorder
	hook := func() { renewal = serveJar(h, maps.Clone(sent), http.MethodPost, "/login", "") }
	st.beforeUpdate.Store(&hook)
	lost := serveJar(h, maps.Clone(sent), http.MethodPost, "/save-then-set", "cors")
	require.NotNil(t, renewal)
	assert.Equal(t, http.StatusConflict, lost.Code)
	renewed := setCookies(renewal)["__Host-Http-sid"]
	require.NotNil(t, renewed)
	applyCookies(jar, renewal, lost)
	assert.Equal(t, renewed.Value, jar["__Host-Http-sid"], "the browser keeps the renewed ID: %v", lost.Header()["Set-Cookie"])
}

// TestLegacyCookieNameMoveOnRedis: legacymovetest.Run (the move, the fetch
// that moves nothing, one device, the cap, RevokeAll) on a real redis-server
// and on a three-master cluster, whose renewal (rotateSharded) and cap
// count take other paths than a single server's rotate.lua.
func TestLegacyCookieNameMoveOnRedis(t *testing.T) {
	servers := map[string]func(t *testing.T) redis.UniversalClient{
		"Server":  func(t *testing.T) redis.UniversalClient { return redistest.StartServer(t).Client(t) },
		"Cluster": func(t *testing.T) redis.UniversalClient { return redistest.StartCluster(t).Client(t) },
	}
	for name, newClient := range servers {
		t.Run(name, func(t *testing.T) {
			legacymovetest.Run(t, session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix())), "legacy-"+name)
		})
	}
}
