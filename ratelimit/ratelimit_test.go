package ratelimit_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session/ratelimit"
)

// Throttle password checks per account and per client IP before hashing.
func Example() {
	perAccount, err := ratelimit.New(5, 15*time.Minute, 10_000)
	if err != nil {
		log.Fatal(err)
	}
	perIP, err := ratelimit.New(20, 15*time.Minute, 65_536)
	if err != nil {
		log.Fatal(err)
	}

	// attempt reports whether a login for user from ip may check the
	// password now, and if not, how long the client should wait.
	attempt := func(user, ip string, now time.Time) (bool, time.Duration) {
		ipKey := ratelimit.IPKey(ip)
		if ok, wait := perIP.Allow(ipKey, now); !ok {
			return false, max(wait, perAccount.Wait(user, now))
		}
		if ok, wait := perAccount.Allow(user, now); !ok {
			return false, max(wait, perIP.Wait(ipKey, now))
		}
		return true, 0
	}

	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= 6; i++ {
		ok, wait := attempt("alice", "2001:db8::1", now)
		fmt.Println(i, ok, wait.Round(time.Second))
	}
	// Output:
	// 1 true 0s
	// 2 true 0s
	// 3 true 0s
	// 4 true 0s
	// 5 true 0s
	// 6 false 18m0s
}

var limT0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC) // the start of a 15-minute window

func TestLimiterAllowsLimitThenRefusesUntilRetryAfter(t *testing.T) {
	l := mustLimiter(t, 3, time.Minute, 100)
	for i := range 3 {
		ok, wait := l.Allow("k", limT0.Add(time.Duration(i)*time.Second))
		require.True(t, ok, "attempt %d", i+1)
		require.Zero(t, wait)
	}
	now := limT0.Add(10 * time.Second)
	ok, wait := l.Allow("k", now)
	require.False(t, ok)
	// 3 in this window: in the next one they weigh 3*(1-e/60s) <= 2 at e = 20s.
	assert.Equal(t, 50*time.Second+20*time.Second, wait)
	assert.Equal(t, wait, l.Wait("k", now))

	// Refused attempts are not counted: hammering does not move the end.
	for i := range 100 {
		ok, w := l.Allow("k", now.Add(time.Duration(i)*100*time.Millisecond))
		require.False(t, ok)
		require.Equal(t, wait-time.Duration(i)*100*time.Millisecond, w)
	}
	ok, _ = l.Allow("k", now.Add(wait-time.Nanosecond))
	assert.False(t, ok, "one nanosecond before the end")
	ok, _ = l.Allow("k", now.Add(wait))
	assert.True(t, ok, "at the end")

	// Other keys are not affected; Wait adds nothing.
	assert.Zero(t, l.Wait("other", now))
	ok, _ = l.Allow("other", now)
	assert.True(t, ok)
	assert.Equal(t, 2, l.Len())
}

// Whatever the history, the retryAfter of a refusal is exact: an attempt
// just before it is refused, one at it is allowed.
func TestLimiterRetryAfterIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 2000 {
		limit := 1 + rng.IntN(20)
		window := time.Duration(1+rng.IntN(3600)) * time.Second
		l := mustLimiter(t, limit, window, 10)
		now := limT0.Add(time.Duration(rng.Int64N(int64(window))))
		var wait time.Duration
		for range 200 { // attempts at random gaps until one is refused
			var ok bool
			if ok, wait = l.Allow("k", now); !ok {
				break
			}
			now = now.Add(time.Duration(rng.Int64N(int64(window) / int64(limit))))
		}
		if wait == 0 {
			continue
		}
		require.Positive(t, wait, "trial %d", trial)
		require.LessOrEqual(t, wait, 2*window, "trial %d", trial)
		require.Positive(t, l.Wait("k", now.Add(wait-time.Nanosecond)), "trial %d: limit %d window %v wait %v", trial, limit, window, wait)
		require.Zero(t, l.Wait("k", now.Add(wait)), "trial %d: limit %d window %v wait %v", trial, limit, window, wait)
		ok, _ := l.Allow("k", now.Add(wait))
		require.True(t, ok, "trial %d", trial)
	}
}

func TestLimiterSlidingWindow(t *testing.T) {
	l := mustLimiter(t, 10, time.Minute, 100)
	for range 10 {
		ok, _ := l.Allow("k", limT0)
		require.True(t, ok)
	}
	// A quarter into the next window 10*3/4 = 7.5 still count: two more fit.
	at := limT0.Add(75 * time.Second)
	for range 2 {
		ok, _ := l.Allow("k", at)
		require.True(t, ok)
	}
	ok, _ := l.Allow("k", at)
	require.False(t, ok, "9.5 counted")
	// Two windows later everything has lapsed.
	assert.Zero(t, l.Wait("k", limT0.Add(3*time.Minute)))
}

func TestLimiterKeys(t *testing.T) {
	l := mustLimiter(t, 1, time.Minute, 100)
	long := strings.Repeat("x", 200)
	ok, _ := l.Allow(long+"a", limT0)
	require.True(t, ok)
	ok, _ = l.Allow(long+"b", limT0)
	assert.True(t, ok, "long keys sharing a prefix are distinct")
	ok, _ = l.Allow(long+"a", limT0)
	assert.False(t, ok, "a long key is counted")

	for _, c := range []struct{ ip, key string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::ffff", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"@unix", "@unix"},
	} {
		assert.Equal(t, c.key, ratelimit.IPKey(c.ip), c.ip)
	}
}

func TestLimiterRefusesNonPositive(t *testing.T) {
	for _, args := range [][3]int{{0, 1, 1}, {1, 0, 1}, {1, 1, 0}, {-1, 1, 1}} {
		_, err := ratelimit.New(args[0], time.Duration(args[1]), args[2])
		assert.ErrorIs(t, err, ratelimit.ErrInvalid, "%v", args)
	}
}

// Many goroutines on one key at one instant: exactly limit get through.
func TestLimiterConcurrent(t *testing.T) {
	const limit = 50
	l := mustLimiter(t, limit, time.Minute, 1000)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 100 {
				if ok, _ := l.Allow("shared", limT0); ok {
					allowed.Add(1)
				}
				l.Allow(fmt.Sprintf("g%d-%d", g, i), limT0)
				l.Wait("shared", limT0)
				_ = l.Len()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(limit), allowed.Load())
}

// A flood of distinct keys cannot grow the table past maxTracked, and a key
// being hammered keeps its count through the flood.
func TestLimiterBoundsTrackedKeys(t *testing.T) {
	const maxTracked = 256
	l := mustLimiter(t, 5, time.Hour, maxTracked)
	for range 5 {
		l.Allow("busy", limT0)
	}
	for i := range 100_000 {
		now := limT0.Add(time.Duration(i) * time.Millisecond)
		l.Allow(fmt.Sprintf("flood-%d", i), now)
		if i%64 == 0 {
			ok, _ := l.Allow("busy", now) // the attacker keeps trying
			require.False(t, ok, "the busy key was forgotten after %d flood keys", i)
		}
	}
	assert.LessOrEqual(t, l.Len(), maxTracked)
	assert.Greater(t, l.Len(), maxTracked/2)
}

func mustLimiter(t testing.TB, limit int, window time.Duration, maxTracked int) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(limit, window, maxTracked)
	require.NoError(t, err)
	return l
}

// TestIPKeyIgnoresThePort: a RemoteAddr-style address counts as its
// address, so a client cannot get a fresh allowance per source port.
func TestIPKeyIgnoresThePort(t *testing.T) {
	assert.Equal(t, ratelimit.IPKey("192.0.2.1"), ratelimit.IPKey("192.0.2.1:8080"))
	assert.Equal(t, ratelimit.IPKey("2001:db8::1"), ratelimit.IPKey("[2001:db8::1]:443"))
	assert.Equal(t, ratelimit.IPKey("2001:db8::1"), ratelimit.IPKey("[2001:db8::2]:1"), "one /64")
}
