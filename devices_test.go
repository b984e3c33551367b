package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// devicesApp adds device pages to testApp.
func devicesApp(m **session.Manager) http.Handler {
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		infos, err := (*m).Sessions(r.Context(), s.UserID())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(infos)
	})
	app.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).RevokeOthers(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return app
}

// RunDevicesScenario is the "your devices" scenario of issue 4, run on every
// store that implements session.UserIndex.
func RunDevicesScenario(t *testing.T, store session.Store) {
	var m *session.Manager
	e := newEnv(t, session.Config{Store: store}, devicesApp(&m))
	m = e.m
	ctx := t.Context()

	alice := make([]*client, 3)
	for i := range alice {
		alice[i] = e.client()
		alice[i].ua = "Browser/" + string(rune('A'+i))
		res, _ := alice[i].post("/login?u=alice")
		require.Equal(t, 200, res.StatusCode)
	}
	bob := e.client()
	bob.ua = "Bob/1"
	bob.post("/login?u=bob")
	whoami := func(c *client) string { _, b := c.get("/whoami"); return b }

	infos, err := m.Sessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 3)
	var uas []string
	for _, in := range infos {
		uas = append(uas, in.UserAgent)
		assert.Equal(t, "127.0.0.1", in.IP)
		assert.False(t, in.CreatedAt.IsZero())
		assert.False(t, in.LastSeen.IsZero())
		for _, c := range append(alice, bob) {
			assert.NotEqual(t, c.token(), in.Handle, "a handle must never be a token")
		}
	}
	assert.ElementsMatch(t, []string{"Browser/A", "Browser/B", "Browser/C"}, uas)

	// From a request, the caller's own session is marked.
	_, body := alice[0].get("/devices")
	var listed []session.SessionInfo
	require.NoError(t, json.Unmarshal([]byte(body), &listed))
	require.Len(t, listed, 3)
	current := 0
	for _, in := range listed {
		if in.Current {
			current++
			assert.Equal(t, "Browser/A", in.UserAgent)
		}
	}
	assert.Equal(t, 1, current)

	// Revoke the second device: it is logged out at its next request.
	handleOf := func(ua string) string {
		infos, err := m.Sessions(ctx, "alice")
		require.NoError(t, err)
		for _, in := range infos {
			if in.UserAgent == ua {
				return in.Handle
			}
		}
		t.Fatalf("no session for %s", ua)
		return ""
	}
	require.NoError(t, m.Revoke(ctx, "alice", handleOf("Browser/B")))
	assert.Empty(t, whoami(alice[1]))
	assert.Equal(t, "alice", whoami(alice[0]))
	assert.Equal(t, "alice", whoami(alice[2]))
	// Bob cannot revoke Alice's session with its handle.
	assert.ErrorIs(t, m.Revoke(ctx, "bob", handleOf("Browser/A")), session.ErrNotFound)
	assert.Equal(t, "alice", whoami(alice[0]))

	// RevokeOthers from the first: only the first remains, with a new ID.
	before := alice[0].token()
	res, _ := alice[0].post("/revoke-others")
	require.Equal(t, 200, res.StatusCode)
	assert.NotEqual(t, before, alice[0].token(), "RevokeOthers renews the current ID")
	assert.Equal(t, "alice", whoami(alice[0]))
	assert.Empty(t, whoami(alice[2]))
	infos, err = m.Sessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "Browser/A", infos[0].UserAgent)

	// Log out everywhere.
	require.NoError(t, m.RevokeUser(ctx, "alice"))
	assert.Empty(t, whoami(alice[0]))
	infos, err = m.Sessions(ctx, "alice")
	require.NoError(t, err)
	assert.Empty(t, infos)

	// Bob was untouched throughout.
	assert.Equal(t, "bob", whoami(bob))
	infos, err = m.Sessions(ctx, "bob")
	require.NoError(t, err)
	assert.Len(t, infos, 1)
	assert.Contains(t, e.events.kinds(), session.EventRevoked)
}

// RunCapScenario checks MaxSessionsPerUser with both policies.
func RunCapScenario(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Run("EvictOldest", func(t *testing.T) {
		e := newEnv(t, session.Config{Store: newStore(t), MaxSessionsPerUser: 2}, testApp())
		cs := []*client{e.client(), e.client(), e.client()}
		for _, c := range cs {
			res, _ := c.post("/login?u=carol")
			require.Equal(t, 200, res.StatusCode)
		}
		_, b0 := cs[0].get("/whoami")
		_, b1 := cs[1].get("/whoami")
		_, b2 := cs[2].get("/whoami")
		assert.Equal(t, []string{"", "carol", "carol"}, []string{b0, b1, b2}, "the least recently used is evicted")
		infos, err := e.m.Sessions(t.Context(), "carol")
		require.NoError(t, err)
		assert.Len(t, infos, 2)
		assert.Contains(t, e.events.kinds(), session.EventEvicted)
	})
	t.Run("RefuseNew", func(t *testing.T) {
		var loginErr error
		app := testApp().(*http.ServeMux)
		app.HandleFunc("POST /login2", func(w http.ResponseWriter, r *http.Request) {
			loginErr = session.FromContext(r.Context()).Login(r.Context(), "dave")
		})
		e := newEnv(t, session.Config{Store: newStore(t), MaxSessionsPerUser: 2, RefuseOverLimit: true}, app)
		a, b, c := e.client(), e.client(), e.client()
		a.post("/login?u=dave")
		b.post("/login?u=dave")
		c.post("/login2")
		assert.True(t, errors.Is(loginErr, session.ErrTooManySessions), "got %v", loginErr)
		_, body := c.get("/whoami")
		assert.Empty(t, body)
		_, body = a.get("/whoami")
		assert.Equal(t, "dave", body, "refusing must not evict")
		// A device that is already logged in can log in again (renewal).
		res, _ := a.post("/login?u=dave")
		assert.Equal(t, 200, res.StatusCode)
		assert.Contains(t, e.events.kinds(), session.EventLoginRefused)
	})
}

func TestDevicesOnMemoryStore(t *testing.T) {
	newStore := func(t *testing.T) session.Store {
		s := session.NewMemoryStore()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	RunDevicesScenario(t, newStore(t))
	RunCapScenario(t, newStore)
}

func TestDeviceOperationsNeedAnIndex(t *testing.T) {
	type plain struct{ session.Store } // hides UserIndex
	mem := session.NewMemoryStore()
	defer mem.Close()
	m, err := session.New(session.Config{Store: plain{mem}, Logger: testLogger()})
	require.NoError(t, err)
	_, err = m.Sessions(t.Context(), "alice")
	assert.ErrorIs(t, err, session.ErrNoIndex)
	assert.ErrorIs(t, m.RevokeUser(t.Context(), "alice"), session.ErrNoIndex)
	_, err = session.New(session.Config{Store: plain{mem}, MaxSessionsPerUser: 3})
	assert.ErrorIs(t, err, session.ErrInvalidConfig)
}

// Promise: Manager.Revoke "ends one of the user's sessions" and never
// answers success while it lives (fail closed). Revoke resolves the
// handle (here: the live key itself), then ends the family; when
// EndFamily answers ErrNotFound it reports success without ending the key
// it just found live (storeCarrier.end falls back to deleting the key,
// Revoke does not). With a lost family pointer on a Cluster (see above)
// the device is reported revoked and stays logged in.
func TestRedteam23RevokeSucceedsWhileSessionLives(t *testing.T) {
	c := sharedCluster(t)(t)
	ctx := t.Context()
	prefix := randomPrefix()
	st := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	r := httptest.NewRequest("POST", "/token", nil)

	first := issued(t)(m.Issue(ctx, r, "dev-user", session.Lifetimes{Idle: time.Hour, Absolute: 24 * time.Hour}))
	live := issued(t)(m.Rotate(ctx, r, first.Token, 0))
	fam := rtHeaderFamily(first.Token)
	require.NoError(t, c.Del(ctx, prefix+"{"+fam+"}:f").Err())

	list, err := m.Sessions(ctx, "dev-user")
	require.NoError(t, err)
	require.Len(t, list, 1, "the device is listed")
	if err := m.Revoke(ctx, "dev-user", list[0].Handle); err != nil {
		// The store already counts the session as ended (its pointer is
		// gone): not found, never success while it lives.
		require.ErrorIs(t, err, session.ErrNotFound)
	}
	_, err = m.Rotate(ctx, r, live.Token, 0)
	assert.ErrorIs(t, err, session.ErrNotFound, "Revoke returned nil but the device's session is still live")
}

// TestRedteamProbeCapMixed (a probe that held): 24 clients of one user run
// Login, Renew, Reauthenticate and RevokeOthers concurrently, 12 rounds
// each, against MaxSessionsPerUser 2; afterwards at most 2 of them are
// logged in and the device list holds at most 2.
func TestRedteamProbeCapMixed(t *testing.T) {
	lifecycleStores(t, func(t *testing.T, sc storeCase) {
		for i, policy := range []bool{false, true} { // subtests 0 and 1: evict oldest, refuse new
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				e, _ := lifecycleEnv(t, sc, session.Config{MaxSessionsPerUser: 2, RefuseOverLimit: policy})
				const n = 24
				clients := make([]*client, n)
				for i := range clients {
					clients[i] = e.client()
				}
				paths := []string{"/login?u=erin", "/renew", "/reauth", "/revoke-others", "/login?u=erin"}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i, c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for r := range 12 {
							c.post(paths[(i+r*7)%len(paths)])
						}
					}()
				}
				close(start)
				wg.Wait()
				live := 0
				for _, c := range clients {
					if _, body := c.get("/whoami"); body == "erin" {
						live++
					}
				}
				infos, err := e.m.Sessions(context.Background(), "erin")
				require.NoError(t, err)
				assert.LessOrEqual(t, live, 2, "more clients logged in than the cap")
				assert.LessOrEqual(t, len(infos), 2, "device list over the cap")
			})
		}
	})
}

// TestRedteamRevokeHandleLosesToRenewal breaks "A logout ... that lands at
// any moment during a renewal wins" for Manager.Revoke (one device, the
// "your devices" page), the ASVS 7.5.2 control the demo app is built on.
//
// Manager.Revoke is two store steps: Load(handle) to check the owner, then
// Delete(handle). Sequence: the user opens "your devices" and revokes the
// thief's device (handle K); between Revoke's Load and its Delete the
// thief's request on K calls Renew (or Login/Reauthenticate: any route
// that renews; a thief can loop one). The renewal moves the session to a
// new ID N and leaves only a rotation tombstone at K; Revoke's Delete then
// ends nothing, and Revoke returns nil and emits session.revoked.
// Observed: Revoke succeeded, the thief is still logged in under N.
// Promised: the revocation wins (or Revoke reports that the device moved,
// ErrNotFound, so the caller can list again). A fix: delete only if the
// record is live and owned by userID in one store step (the Redis end.lua
// already takes an owner), and report a miss; or make Revoke fail when the
// Delete found a rotation tombstone.
func TestRedteamRevokeHandleLosesToRenewal(t *testing.T) {
	lifecycleStores(t, func(t *testing.T, sc storeCase) {
		h := &hookStore{Store: sc.newStore(t)}
		d := &deleteHookStore{hookStore: h}
		var e *env
		e = newEnv(t, session.Config{Store: d}, lifecycleApp(func() *session.Manager { return e.m }))
		thief := e.client()
		res, _ := thief.post("/login?u=victim")
		require.Equal(t, 200, res.StatusCode)
		handle := storeKeyOf(thief.token())

		f := func(string) {
			for range longChain { // lands between Revoke's load and its end
				res, _ := thief.post("/renew")
				require.Equal(t, 200, res.StatusCode)
			}
		}
		d.beforeDelete.Store(&f)
		err := e.m.Revoke(context.Background(), "victim", handle)
		require.NoError(t, err, "the device renewed mid-revoke: its family is ended all the same")
		_, who := thief.get("/whoami")
		assert.Empty(t, who, "Revoke(handle) returned nil but the revoked device is still logged in (it renewed mid-revoke)")
		infos, lerr := e.m.Sessions(context.Background(), "victim")
		require.NoError(t, lerr)
		assert.Empty(t, infos, "after a successful Revoke the device list still shows the thief's session")
	})
}

// A device revoked from another device's request: the event names the
// acting request's device and IP (who did it, from where) and, apart, the
// revoked session's (whom it hit); from no request, only the target's.
func TestRevokeEventNamesActorAndTarget(t *testing.T) {
	var m *session.Manager
	mux := http.NewServeMux()
	mux.Handle("/", testApp())
	mux.HandleFunc("POST /revoke-device", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := m.Revoke(r.Context(), s.UserID(), r.URL.Query().Get("h")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	})
	e := newEnv(t, session.Config{Store: session.NewMemoryStore()}, mux)
	m = e.m
	ctx := context.Background()
	phone, laptop := e.client(), e.client()
	phone.ua, laptop.ua = "Phone/1", "Laptop/2"
	for _, c := range []*client{phone, laptop} {
		res, _ := c.post("/login?u=alice")
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	handleOf := func(ua string) string {
		infos, err := m.Sessions(ctx, "alice")
		require.NoError(t, err)
		for _, in := range infos {
			if in.UserAgent == ua {
				return in.Handle
			}
		}
		t.Fatalf("no session for %s", ua)
		return ""
	}
	revoked := func() session.Event {
		var last session.Event
		for _, ev := range e.events.all() {
			if ev.Kind == session.EventRevoked {
				last = ev
			}
		}
		require.Equal(t, session.EventRevoked, last.Kind)
		return last
	}

	res, body := laptop.post("/revoke-device?h=" + url.QueryEscape(handleOf("Phone/1")))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	ev := revoked()
	assert.Equal(t, "Laptop/2", ev.UserAgent, "the acting request's device")
	assert.Equal(t, "127.0.0.1", ev.IP)
	assert.Equal(t, "Phone/1", ev.TargetUserAgent, "the revoked device")
	assert.Equal(t, "127.0.0.1", ev.TargetIP)
	assert.Equal(t, "revoke", ev.Reason)
	assert.Contains(t, suiteLog.String(), `"target_user_agent":"Phone/1"`)

	// An admin job (no request in ctx): no actor, the target still named.
	res, _ = phone.post("/login?u=alice")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, m.Revoke(ctx, "alice", handleOf("Phone/1")))
	ev = revoked()
	assert.Empty(t, ev.UserAgent)
	assert.Empty(t, ev.IP)
	assert.Equal(t, "Phone/1", ev.TargetUserAgent)
}
