package session_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/storetest"
)

// startMiniredis runs a miniredis whose clock follows real time: miniredis
// only expires keys when told to, and storetest waits on real time.
func startMiniredis(t *testing.T) *miniredis.Miniredis {
	mr := miniredis.RunT(t)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done }) // runs before miniredis closes
	return mr
}

func miniredisClient(t *testing.T) redis.UniversalClient {
	mr := startMiniredis(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sharedServer starts one real redis-server for a test and its subtests.
func sharedServer(t *testing.T) func(t *testing.T) redis.UniversalClient {
	srv := redistest.StartServer(t)
	return func(t *testing.T) redis.UniversalClient { return srv.Client(t) }
}

func sharedCluster(t *testing.T) func(t *testing.T) redis.UniversalClient {
	cl := redistest.StartCluster(t)
	return func(t *testing.T) redis.UniversalClient { return cl.Client(t) }
}

// randomPrefix gives each store its own key space on a shared server.
func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + base64.RawURLEncoding.EncodeToString(b[:]) + ":"
}

// forEachRedis runs fn on miniredis, a real redis-server and a real
// three-master cluster (the real ones skip when redis-server is absent).
func forEachRedis(t *testing.T, fn func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient)) {
	t.Run("Miniredis", func(t *testing.T) { fn(t, miniredisClient) })
	t.Run("Server", func(t *testing.T) { fn(t, sharedServer(t)) })
	t.Run("Cluster", func(t *testing.T) { fn(t, sharedCluster(t)) })
}

func TestRedisStoreConformance(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		newStore := func(t *testing.T) session.Store {
			return session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix()))
		}
		storetest.Run(t, newStore)
		t.Run("ConcurrentDistinctKeysAgain", func(t *testing.T) {
			storetest.TestConcurrentDistinctKeys(t, newStore(t))
		})
	})
}

// TestRedisStoreOnSentinel runs the suite through a Sentinel failover client
// (redis.NewFailoverClient), which the store takes unchanged.
func TestRedisStoreOnSentinel(t *testing.T) {
	sentinel := redistest.StartSentinel(t, redistest.StartServer(t))
	newStore := func(t *testing.T) session.Store {
		return session.NewRedisStore(sentinel.FailoverClient(t), session.WithKeyPrefix(randomPrefix()))
	}
	storetest.Run(t, newStore)
	t.Run("Devices", func(t *testing.T) { RunDevicesScenario(t, newStore(t)) })
}

// TestRedisKeyLayout checks the documented layout, and that odd user IDs
// (braces, '%', spaces, non-ASCII) get one slot per user and are encoded
// the same way by Go and by the Lua scripts (the generation check would
// otherwise miss the revocation).
func TestRedisKeyLayout(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		ctx := t.Context()
		prefix := randomPrefix()
		s := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
		for _, tc := range []struct{ user, enc string }{
			{"alice@example.com", "alice@example.com"},
			{"a{b}c", "a%7Bb%7Dc"},
			{"}{", "%7D%7B"},
			{"100%", "100%25"},
			{"x y:z/ü", "x%20y%3Az%2F%C3%BC"},
			{"A-Z_a.z-09", "A-Z_a.z-09"},
		} {
			k := storetest.Key()
			r := storetest.Record(time.Minute, map[string][]byte{"cart": []byte(`"x"`)})
			r.UserID = tc.user
			require.NoError(t, s.Create(ctx, k, r))

			h, err := c.HGetAll(ctx, prefix+"{"+k+"}").Result()
			require.NoError(t, err)
			assert.Equal(t, tc.user, h["user"])
			assert.Equal(t, `"x"`, h["v:cart"])
			assert.Equal(t, fmt.Sprint(r.Expires.UnixMilli()), h["exp"])
			assert.Equal(t, fmt.Sprint(r.CreatedAt.UnixMilli()), h["created"])
			assert.Equal(t, "0", h["auth"], "unset time")
			assert.Equal(t, "0", h["persist"])
			idx := prefix + "user:{" + tc.enc + "}"
			members, err := c.ZRangeWithScores(ctx, idx, 0, -1).Result()
			require.NoError(t, err)
			require.Len(t, members, 1, "index %s", idx)
			assert.Equal(t, k, members[0].Member)
			// The score bounds the member's life (login + the maximum
			// session lifetime), so the index outlives every touch.
			assert.Greater(t, members[0].Score, float64(r.Expires.UnixMilli()))

			require.NoError(t, s.RevokeUser(ctx, tc.user))
			gen, err := c.Get(ctx, prefix+"gen:{"+tc.enc+"}").Uint64()
			require.NoError(t, err)
			assert.Greater(t, gen, uint64(0))
			pttl, err := c.PTTL(ctx, prefix+"gen:{"+tc.enc+"}").Result()
			require.NoError(t, err)
			assert.Greater(t, pttl, 29*24*time.Hour, "generation kept for WithMaxSessionLifetime")

			// A session the index missed is still revoked by the generation,
			// which Load (a Lua script on one server) finds from the user.
			k2 := storetest.Key()
			require.NoError(t, s.Create(ctx, k2, r))
			require.NoError(t, c.Del(ctx, idx).Err())
			_, err = s.Load(ctx, k2)
			require.NoError(t, err)
			require.NoError(t, s.RevokeUser(ctx, tc.user))
			_, err = s.Load(ctx, k2)
			assert.ErrorIs(t, err, session.ErrNotFound, "user %q", tc.user)
			err = s.Update(ctx, k2, &session.Delta{Set: map[string][]byte{"a": []byte("1")}})
			if _, cluster := c.(*redis.ClusterClient); !cluster {
				// On a cluster Update does not read the generation (see Update).
				assert.ErrorIs(t, err, session.ErrNotFound, "user %q", tc.user)
			}
		}
	})
}

func TestRedisPrefixBracesCannotFormAHashTag(t *testing.T) {
	c := miniredisClient(t)
	s := session.NewRedisStore(c, session.WithKeyPrefix("app{x}:"))
	k := storetest.Key()
	require.NoError(t, s.Create(t.Context(), k, storetest.Record(time.Minute, nil)))
	n, err := c.Exists(t.Context(), "app%7Bx%7D:{"+k+"}").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}

// TestRedisCorruptDataIsAnError: bad data in Redis is ErrStore, never a
// panic and never a silently wrong record.
func TestRedisCorruptDataIsAnError(t *testing.T) {
	c := miniredisClient(t)
	ctx := t.Context()
	s := session.NewRedisStore(c)
	for field, bad := range map[string]string{
		"created": "yesterday", "exp": "", "gen": "-1", "idle": "1.5", "persist": "yes", "seen": "9x",
	} {
		k := storetest.Key()
		r := storetest.Record(time.Minute, nil)
		r.UserID = "u"
		require.NoError(t, s.Create(ctx, k, r))
		require.NoError(t, c.HSet(ctx, "session:{"+k+"}", field, bad).Err())
		_, err := s.Load(ctx, k)
		assert.ErrorIs(t, err, session.ErrStore, "field %s", field)
		assert.NotErrorIs(t, err, session.ErrNotFound, "field %s", field)
		_, err = s.UserSessions(ctx, "u")
		assert.ErrorIs(t, err, session.ErrStore, "field %s", field)
		require.NoError(t, s.Delete(ctx, k))
	}

	k := storetest.Key()
	require.NoError(t, s.Create(ctx, k, storetest.Record(time.Minute, nil)))
	require.NoError(t, c.HDel(ctx, "session:{"+k+"}", "exp").Err())
	_, err := s.Load(ctx, k)
	assert.ErrorIs(t, err, session.ErrStore, "a record without expiry")

	// A corrupt generation.
	k = storetest.Key()
	r := storetest.Record(time.Minute, nil)
	r.UserID = "v"
	require.NoError(t, c.Set(ctx, "session:gen:{v}", "many", time.Minute).Err())
	assert.ErrorIs(t, s.Create(ctx, k, r), session.ErrStore)
	assert.ErrorIs(t, s.RevokeUser(ctx, "v"), session.ErrStore)

	// A key of the wrong type.
	require.NoError(t, c.Set(ctx, "session:{"+k+"}", "x", time.Minute).Err())
	_, err = s.Load(ctx, k)
	assert.ErrorIs(t, err, session.ErrStore)
	assert.ErrorIs(t, s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"a": nil}}), session.ErrStore)
}

// TestRedisUpdatePastDeadlineDeletes: a touch whose deadline has passed
// deletes the hash rather than leaving it.
func TestRedisUpdatePastDeadlineDeletes(t *testing.T) {
	c := miniredisClient(t)
	ctx := t.Context()
	s := session.NewRedisStore(c)
	k := storetest.Key()
	r := storetest.Record(time.Minute, nil)
	r.UserID = "u"
	require.NoError(t, s.Create(ctx, k, r))
	require.NoError(t, s.Update(ctx, k, &session.Delta{Expires: time.Now().Add(-time.Millisecond)}))
	n, err := c.Exists(ctx, "session:{"+k+"}").Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestRedisTouchExtendsIndex: the index outlives every session it lists,
// however far the throttled touch moves a session's expiry, so a device list
// never loses a session that is still alive.
func TestRedisTouchExtendsIndex(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		ctx := t.Context()
		s := session.NewRedisStore(c)
		user := "touch-" + storetest.Key()[:8]
		k := storetest.Key()
		r := storetest.Record(time.Minute, nil)
		r.UserID = user
		require.NoError(t, s.Create(ctx, k, r))
		require.NoError(t, s.Update(ctx, k, &session.Delta{LastSeen: r.LastSeen.Add(time.Second), Expires: r.Expires.Add(time.Hour)}))
		idx := "session:user:{" + user + "}"
		hashTTL, err := c.PTTL(ctx, "session:{"+k+"}").Result()
		require.NoError(t, err)
		assert.Greater(t, hashTTL, time.Hour)
		idxTTL, err := c.PTTL(ctx, idx).Result()
		require.NoError(t, err)
		assert.Greater(t, idxTTL, hashTTL, "the index expires before a member")
		list, err := s.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, k, list[0].Key)
	})
}

// countHook counts round trips: one per command or pipeline sent.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestRedisRoundTrips counts round trips through the real Manager and
// Handler: none for a request that never touches the session, one for a
// read-only request, one more for a commit.
func TestRedisRoundTrips(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		hook := &countHook{}
		c.AddHook(hook)
		clock := newFakeClock()
		e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix())), Clock: clock.Now}, testApp())
		cl := e.client()
		for _, path := range []string{"/set?k=a&v=1", "/login?u=rt-user", "/inc"} {
			res, _ := cl.post(path)
			require.Equal(t, 200, res.StatusCode, path)
		}
		_, body := cl.get("/whoami") // warm-up: the server learns the scripts
		require.Equal(t, "rt-user", body)

		_, cluster := c.(*redis.ClusterClient)
		count := func(method, path string) (int64, string) {
			hook.n.Store(0)
			res, body := cl.do(method, path, nil)
			require.Equal(t, 200, res.StatusCode, path)
			return hook.n.Load(), body
		}
		readRT := int64(1)
		if cluster {
			readRT = 2 // Load reads the generation from the user's slot
		}
		n, _ := count("GET", "/noop")
		assert.Equal(t, int64(0), n, "a request that never touches the session")
		n, body = count("GET", "/get?k=a")
		assert.Equal(t, "1", body)
		assert.Equal(t, readRT, n, "read-only request")
		n, body = count("POST", "/inc")
		assert.Equal(t, "2", body)
		assert.Equal(t, readRT+1, n, "write: load + one commit")
		// Touch due: the metadata write and the index update go in one
		// pipelined round trip.
		clock.Advance(2 * time.Minute)
		n, _ = count("GET", "/whoami")
		assert.Equal(t, readRT+1, n, "read-only request with the touch due")
		n, _ = count("GET", "/whoami")
		assert.Equal(t, readRT, n, "touch done: back to one round trip")
	})
}

// TestRedisOutage kills the real server mid-test: requests that need the
// session fail with the error handler's generic 500, nothing panics and no
// goroutines pile up; after a restart on the same port the same Manager and
// client work again.
func TestRedisOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{
		Addr: srv.Addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		MaxRetries: 1,
	})
	t.Cleanup(func() { _ = c.Close() })
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c)}, testApp())
	cl := e.client()
	res, _ := cl.post("/login?u=outage")
	require.Equal(t, 200, res.StatusCode)
	token := cl.token()
	require.NotEmpty(t, token)
	_, body := cl.get("/whoami")
	require.Equal(t, "outage", body)
	others := make([]*client, 8)
	for i := range others {
		others[i] = e.client()
		res, _ := others[i].post("/login?u=outage")
		require.Equal(t, 200, res.StatusCode)
	}
	runtime.GC()
	before := runtime.NumGoroutine()

	srv.Kill()
	var wg sync.WaitGroup
	for _, o := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				res, body := o.get("/whoami")
				assert.Equal(t, 500, res.StatusCode)
				assert.Equal(t, "Internal Server Error\n", body)
			}
		}()
	}
	wg.Wait()
	for _, req := range [][2]string{{"GET", "/get?k=a"}, {"POST", "/inc"}} {
		res, body := cl.do(req[0], req[1], nil)
		assert.Equal(t, 500, res.StatusCode, req[1])
		assert.Equal(t, "Internal Server Error\n", body, "generic body, no detail")
		assert.NotContains(t, body, token)
		assert.Empty(t, res.Header.Values("Set-Cookie"), "no cookie change during an outage")
	}
	// A new visitor's first write cannot be stored: no 2xx.
	res, body = e.client().post("/set?k=a&v=1")
	assert.Equal(t, 500, res.StatusCode)
	assert.Equal(t, "Internal Server Error\n", body)
	// Requests that never touch the session are unaffected.
	res, _ = cl.get("/noop")
	assert.Equal(t, 200, res.StatusCode)

	assert.Eventually(t, func() bool {
		return runtime.NumGoroutine() <= before+5
	}, 5*time.Second, 50*time.Millisecond, "goroutines piled up: %d before, %d after", before, runtime.NumGoroutine())

	srv.Restart() // same port, empty (nothing persisted)
	// go-redis backs off dialing for up to a second after failures; within
	// a few seconds a login (several commands and scripts) goes through.
	require.Eventually(t, func() bool {
		res, _ := cl.post("/login?u=outage")
		return res.StatusCode == 200
	}, 5*time.Second, 50*time.Millisecond, "requests do not recover after Redis is back")
	_, body = cl.get("/whoami")
	assert.Equal(t, "outage", body)
	res, body = cl.post("/inc")
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "1", body)
}

// TestRedisOutageIsNeverNotFound: while Redis is down, and while the client
// is still backing off after it came back, the store reports ErrStore, never
// ErrNotFound (which would log the user out).
func TestRedisOutageIsNeverNotFound(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1, PoolSize: 2})
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	s := session.NewRedisStore(c)
	k := storetest.Key()
	r := storetest.Record(time.Hour, map[string][]byte{"a": []byte("1")})
	r.UserID = "u"
	require.NoError(t, s.Create(ctx, k, r))
	list := func() error { _, err := s.UserSessions(ctx, "u"); return err }
	load := func() error { _, err := s.Load(ctx, k); return err }
	update := func() error { return s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"b": []byte("2")}}) }
	touch := func() error {
		return s.Update(ctx, k, &session.Delta{LastSeen: time.Now(), Expires: r.Expires.Add(time.Minute)})
	}

	srv.Kill()
	for range 10 { // enough dial failures to put the pool into back-off
		for name, op := range map[string]func() error{"load": load, "list": list, "update": update, "touch": touch} {
			err := op()
			require.ErrorIs(t, err, session.ErrStore, name)
			require.NotErrorIs(t, err, session.ErrNotFound, name)
		}
	}
	srv.Restart()
	require.NoError(t, session.NewRedisStore(srv.Client(t)).Create(ctx, k, r)) // the record is back
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := load()
		require.NotErrorIs(t, err, session.ErrNotFound, "an outage must not look like a missing session")
		if err == nil {
			break
		}
		require.ErrorIs(t, err, session.ErrStore)
		require.True(t, time.Now().Before(deadline), "the store did not recover: %v", err)
		time.Sleep(10 * time.Millisecond)
	}
	got, err := s.UserSessions(ctx, "u")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

// TestRedisDumpHoldsNoTokenAndEveryKeyHasATTL dumps every key and value
// after a login (and a revocation, which writes the generation key): no raw
// session token anywhere, and every key expires.
func TestRedisDumpHoldsNoTokenAndEveryKeyHasATTL(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		prefix := randomPrefix()
		e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(prefix))}, testApp())
		var tokens []string
		cl := e.client()
		cl.ua = "Dump/1"
		res, _ := cl.post("/set?k=a&v=1")
		require.Equal(t, 200, res.StatusCode)
		tokens = append(tokens, cl.token())
		res, _ = cl.post("/login?u=dumper")
		require.Equal(t, 200, res.StatusCode)
		tokens = append(tokens, cl.token())
		res, _ = cl.post("/inc")
		require.Equal(t, 200, res.StatusCode)
		other := e.client()
		other.post("/login?u=revoked")
		tokens = append(tokens, other.token())
		require.NoError(t, e.m.RevokeUser(t.Context(), "revoked"))
		for _, tok := range tokens {
			require.Len(t, tok, 43)
		}

		dump := dumpRedis(t, c, prefix)
		require.NotEmpty(t, dump)
		sum := sha256.Sum256([]byte(cl.token()))
		assert.Contains(t, dump, prefix+"{"+base64.RawURLEncoding.EncodeToString(sum[:])+"}", "session key is the SHA-256 of the token")
		assert.Contains(t, dump, prefix+"user:{dumper}")
		assert.Contains(t, dump, prefix+"gen:{revoked}")
		for key, content := range dump {
			for _, tok := range tokens {
				assert.NotContains(t, key, tok, "raw token in a key name")
				assert.NotContains(t, content, tok, "raw token in %s", key)
			}
		}
	})
}

// dumpRedis returns every key under prefix with its type and content, and
// checks that each has a TTL.
func dumpRedis(t *testing.T, c redis.UniversalClient, prefix string) map[string]string {
	ctx := t.Context()
	out := map[string]string{}
	var mu sync.Mutex
	scan := func(ctx context.Context, n redis.UniversalClient) error {
		it := n.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for it.Next(ctx) {
			key := it.Val()
			typ, err := n.Type(ctx, key).Result()
			if err != nil {
				return err
			}
			var content string
			switch typ {
			case "hash":
				content = fmt.Sprint(n.HGetAll(ctx, key).Val())
			case "zset":
				content = fmt.Sprint(n.ZRangeWithScores(ctx, key, 0, -1).Val())
			case "string":
				content = n.Get(ctx, key).Val()
			default:
				t.Errorf("unexpected key type %s of %s", typ, key)
			}
			pttl, err := n.PTTL(ctx, key).Result()
			if err != nil {
				return err
			}
			assert.Greater(t, pttl, time.Duration(0), "key %s (%s) has no TTL", key, typ)
			mu.Lock()
			out[key] = typ + " " + content
			mu.Unlock()
		}
		return it.Err()
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) }))
	} else {
		require.NoError(t, scan(ctx, c))
	}
	return out
}

// TestRedisDevices runs issue 4's scenario (three devices of one user, one
// of another; revoke one, revoke the others, revoke all; the cap) and a
// revocation with a stale index, on miniredis, a real server and a cluster.
func TestRedisDevices(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		newStore := func(t *testing.T) session.Store {
			return session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix()))
		}
		t.Run("Scenario", func(t *testing.T) { RunDevicesScenario(t, newStore(t)) })
		t.Run("Cap", func(t *testing.T) { RunCapScenario(t, newStore) })
		t.Run("StaleIndex", func(t *testing.T) { runRedisStaleIndex(t, newClient(t)) })
	})
}

// runRedisStaleIndex deletes a user's index by hand: the device list is then
// empty, yet RevokeUser still logs the session out (the generation check).
func runRedisStaleIndex(t *testing.T, c redis.UniversalClient) {
	prefix := randomPrefix()
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(prefix))}, testApp())
	erin, frank := e.client(), e.client()
	res, _ := erin.post("/login?u=erin")
	require.Equal(t, 200, res.StatusCode)
	frank.post("/login?u=frank")
	_, body := erin.get("/whoami")
	require.Equal(t, "erin", body)

	n, err := c.Del(t.Context(), prefix+"user:{erin}").Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the index key is where the layout says")
	infos, err := e.m.Sessions(t.Context(), "erin")
	require.NoError(t, err)
	assert.Empty(t, infos, "the index is gone")
	_, body = erin.get("/whoami")
	require.Equal(t, "erin", body, "the session itself is alive")

	require.NoError(t, e.m.RevokeUser(t.Context(), "erin"))
	_, body = erin.get("/whoami")
	assert.Empty(t, body, "revocation must reach a session the index missed")
	_, body = frank.get("/whoami")
	assert.Equal(t, "frank", body)
	// A fresh login after the revocation works.
	erin.post("/login?u=erin")
	_, body = erin.get("/whoami")
	assert.Equal(t, "erin", body)
}

// TestRedisErrorsAreWrapped: a Redis error is ErrStore (not ErrNotFound), and
// a context that ends before the call is reported as such.
func TestRedisErrorsAreWrapped(t *testing.T) {
	mr := startMiniredis(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s := session.NewRedisStore(c)
	k := storetest.Key()
	require.NoError(t, s.Create(t.Context(), k, storetest.Record(time.Minute, nil)))
	mr.SetError("ERR injected failure")
	_, err := s.Load(t.Context(), k)
	assert.ErrorIs(t, err, session.ErrStore)
	assert.NotErrorIs(t, err, session.ErrNotFound)
	mr.SetError("")

	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err = s.Load(ctx, k)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

// TestRedisHandlesAreStoreKeys: a device's handle is the store key (the
// SHA-256 of the token), never the token.
func TestRedisHandlesAreStoreKeys(t *testing.T) {
	c := miniredisClient(t)
	var m *session.Manager
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c)}, devicesApp(&m))
	m = e.m
	cl := e.client()
	cl.post("/login?u=gina")
	infos, err := m.Sessions(t.Context(), "gina")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	sum := sha256.Sum256([]byte(cl.token()))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), infos[0].Handle)
	assert.NotEqual(t, cl.token(), infos[0].Handle)
	res, _ := cl.get("/devices")
	assert.Equal(t, http.StatusOK, res.StatusCode)
}
