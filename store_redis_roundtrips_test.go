package session_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
)

// TestRedisRoundTrips counts round trips through the real Manager and
// Handler: none for a request that never touches the session, one for a
// read-only request, one more for a commit.
func TestRedisRoundTrips(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		hook := &redistest.RoundTrips{}
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
			hook.Store(0)
			res, body := cl.do(method, path, nil)
			require.Equal(t, 200, res.StatusCode, path)
			return hook.Load(), body
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

// TestRedisLoginIsOneRoundTrip counts round trips on a single server: a
// login of a new visitor is one (the renewal script), of a visitor with a
// session one more (its read).
func TestRedisLoginIsOneRoundTrip(t *testing.T) {
	for name, newClient := range map[string]func(t *testing.T) redis.UniversalClient{"Miniredis": miniredisClient, "Server": sharedServer(t)} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t)
			hook := &redistest.RoundTrips{}
			c.AddHook(hook)
			e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))}, testApp())
			warm := e.client() // the server learns the scripts
			warm.post("/login?u=warm")
			warm.post("/logout")
			cl := e.client()
			hook.Store(0)
			res, _ := cl.post("/login?u=one")
			require.Equal(t, 200, res.StatusCode)
			assert.Equal(t, int64(1), hook.Load(), "login of a new visitor")
			res, _ = cl.post("/set?k=a&v=1")
			require.Equal(t, 200, res.StatusCode)
			hook.Store(0)
			res, _ = cl.post("/login?u=one")
			require.Equal(t, 200, res.StatusCode)
			assert.Equal(t, int64(2), hook.Load(), "read + login")
		})
	}
}
