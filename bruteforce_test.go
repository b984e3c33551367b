package session

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/sid"
	"github.com/sessionkit/session/internal/slidingwindow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bfT0 is the start of a fixed window of one minute.
var bfT0 = time.Unix(1_700_000_000-1_700_000_000%60, 0)

func TestBruteForceSignalsOncePerCrossing(t *testing.T) {
	b := newBruteForce(BruteForceConfig{Threshold: 5, Window: time.Minute, MaxTracked: 100})
	const ip = "203.0.113.7"
	for i := 1; i <= 4; i++ {
		assert.False(t, b.reject(ip, bfT0), "rejection %d is under the threshold", i)
		assert.False(t, b.blocked(ip, bfT0))
	}
	assert.True(t, b.reject(ip, bfT0), "the 5th rejection crosses")
	assert.True(t, b.blocked(ip, bfT0))
	for i := 6; i <= 50; i++ {
		assert.False(t, b.reject(ip, bfT0.Add(time.Duration(i)*time.Second/2)), "rejection %d: already signalled", i)
	}
	assert.False(t, b.blocked("203.0.113.8", bfT0), "other addresses are not affected")
	assert.False(t, b.reject("203.0.113.8", bfT0))
}

func TestBruteForceWindowSlides(t *testing.T) {
	const ip = "198.51.100.1"
	b := newBruteForce(BruteForceConfig{Threshold: 10, Window: time.Minute, MaxTracked: 100})
	for range 9 {
		b.reject(ip, bfT0)
	}
	assert.True(t, b.reject(ip, bfT0.Add(30*time.Second)), "10 within the window")

	// Next fixed window, a quarter in: 10 * 3/4 = 7.5 of the old ones count.
	at := bfT0.Add(75 * time.Second)
	assert.False(t, b.blocked(ip, at))
	assert.False(t, b.reject(ip, at))                 // 8.5
	assert.False(t, b.reject(ip, at))                 // 9.5
	assert.False(t, b.reject(ip, at), "no re-signal") // 10.5: never fell to half, same episode
	assert.True(t, b.blocked(ip, at))

	// Two windows later everything has lapsed.
	assert.False(t, b.blocked(ip, bfT0.Add(3*time.Minute)))

	// Spread out under the threshold: never blocked, never signalled.
	slow := "198.51.100.2"
	for i := range 60 {
		now := bfT0.Add(time.Duration(i) * 10 * time.Second) // 6 per minute
		assert.False(t, b.reject(slow, now), "i=%d", i)
		assert.False(t, b.blocked(slow, now))
	}

	// A new episode after the count fell to half: signalled again.
	again := "198.51.100.3"
	for range 10 {
		b.reject(again, bfT0)
	}
	require.True(t, b.blocked(again, bfT0))
	later := bfT0.Add(90 * time.Second) // 10 * 1/2 = 5: re-armed
	assert.False(t, b.blocked(again, later))
	for range 4 {
		assert.False(t, b.reject(again, later))
	}
	assert.True(t, b.reject(again, later), "second episode is signalled")

	// A clock stepping back neither panics nor resets the count.
	assert.True(t, b.blocked(again, bfT0))
}

func TestBruteForceCountsIPv6PerSlash64(t *testing.T) {
	b := newBruteForce(BruteForceConfig{Threshold: 5, Window: time.Minute, MaxTracked: 100})
	crossed := 0
	for i := range 5 {
		if b.reject(fmt.Sprintf("2001:db8:1:2::%x", i+1), bfT0) {
			crossed++
		}
	}
	assert.Equal(t, 1, crossed, "five addresses of one /64 are one client")
	assert.True(t, b.blocked("2001:db8:1:2:ffff::1", bfT0))
	assert.False(t, b.blocked("2001:db8:1:3::1", bfT0))
	assert.Equal(t, 1, b.size())

	// IPv4-mapped addresses are IPv4 clients; non-IP addresses still count.
	b.reject("::ffff:192.0.2.1", bfT0)
	assert.Equal(t, slidingwindow.IPKey("192.0.2.1"), slidingwindow.IPKey("::ffff:192.0.2.1"))
	for range 5 {
		b.reject("@", bfT0)
	}
	assert.True(t, b.blocked("@", bfT0))
}

func TestBruteForceMemoryStaysBoundedUnderAMillionIPs(t *testing.T) {
	const maxTracked = 1 << 16
	b := newBruteForce(BruteForceConfig{Threshold: 20, Window: time.Minute, MaxTracked: maxTracked})
	// One real offender, over the threshold, hammering throughout.
	const offender = "192.0.2.66"
	for range 20 {
		b.reject(offender, bfT0)
	}
	require.True(t, b.blocked(offender, bfT0))

	start := time.Now()
	for i := range 1_000_000 {
		now := bfT0.Add(time.Duration(i) * 50 * time.Microsecond) // 50 s in all
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		b.reject(a.String(), now)
		if i%1000 == 0 {
			b.reject(offender, now)
		}
	}
	elapsed := time.Since(start)
	assert.LessOrEqual(t, b.size(), maxTracked)
	assert.Greater(t, b.size(), maxTracked*9/10, "the table is used, not emptied")
	assert.True(t, b.blocked(offender, bfT0.Add(50*time.Second)), "a busy offender is not evicted by one-off addresses")
	assert.Less(t, elapsed, 20*time.Second, "a million rejections took %v", elapsed)
	t.Logf("1e6 distinct IPs: %v, %d tracked", elapsed, b.size())

	// IPv6 from one /48, a new /64 each time.
	for i := range 200_000 {
		b.reject(fmt.Sprintf("2001:db8:7:%x::1", i), bfT0.Add(time.Minute))
	}
	assert.LessOrEqual(t, b.size(), maxTracked)
}

func TestBruteForceSmallMaxTracked(t *testing.T) {
	for _, n := range []int{1, 2, 15, 17} {
		b := newBruteForce(BruteForceConfig{Threshold: 3, Window: time.Minute, MaxTracked: n})
		for i := range 1000 {
			b.reject(fmt.Sprintf("10.0.%d.%d", i/256, i%256), bfT0)
			require.LessOrEqual(t, b.size(), n)
		}
		assert.Equal(t, n, b.size())
	}
}

func TestBruteForceConcurrentUse(t *testing.T) {
	b := newBruteForce(BruteForceConfig{Threshold: 100, Window: time.Minute, MaxTracked: 64})
	var crossings atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if b.reject("192.0.2.1", bfT0) {
					crossings.Add(1)
				}
				b.reject(fmt.Sprintf("10.%d.%d.%d", g, i/256, i%256), bfT0)
				b.blocked("192.0.2.1", bfT0)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), crossings.Load(), "one crossing, however many goroutines")
	assert.LessOrEqual(t, b.size(), 64)
}

// bfCountingStore counts Load calls.
type bfCountingStore struct {
	Store
	loads atomic.Int64
}

func (s *bfCountingStore) Load(ctx context.Context, key string) (*Record, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

type bfEvents struct {
	mu sync.Mutex
	ev []Event
}

func (l *bfEvents) add(_ context.Context, e Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *bfEvents) count(kind string) (n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// bfServe sends one request through h from ip, with a cookie when cookie is
// not "".
func bfServe(h http.Handler, ip, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "https://app.example/", nil)
	req.RemoteAddr = ip + ":40000"
	if cookie != "" {
		req.Header.Set("Cookie", "__Host-Http-sid="+cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestBruteForceBlockAnswers429BeforeAnyStoreLookup(t *testing.T) {
	for _, block := range []bool{true, false} {
		t.Run(fmt.Sprintf("Block=%v", block), func(t *testing.T) {
			var clock atomic.Int64
			clock.Store(bfT0.UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			mem := NewMemoryStore(WithMemoryClockForTest(now))
			t.Cleanup(func() { _ = mem.Close() })
			st := &bfCountingStore{Store: mem}
			ev := &bfEvents{}
			m, err := New(Config{
				Store:      st,
				Clock:      now,
				Logger:     slog.New(slog.DiscardHandler),
				OnEvent:    ev.add,
				BruteForce: BruteForceConfig{Threshold: 3, Window: time.Minute, Block: block},
			})
			require.NoError(t, err)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, FromContext(r.Context()).UserID())
			}))

			const attacker = "203.0.113.9"
			for i := range 3 {
				rec := bfServe(h, attacker, fmt.Sprintf("guess-%d", i)) // never issued
				require.Equal(t, http.StatusOK, rec.Code, "guess %d", i)
			}
			require.EqualValues(t, 0, st.loads.Load(), "a malformed ID is refused before any store lookup")
			assert.Equal(t, 3, ev.count(EventRejected))
			assert.Equal(t, 1, ev.count(EventBruteForce))

			rec := bfServe(h, attacker, sid.New())
			if !block {
				assert.Equal(t, http.StatusOK, rec.Code, "events only")
				assert.EqualValues(t, 1, st.loads.Load())
				assert.Equal(t, 1, ev.count(EventBruteForce), "signalled once")
				return
			}
			assert.Equal(t, http.StatusTooManyRequests, rec.Code)
			assert.Equal(t, "Too Many Requests\n", rec.Body.String())
			assert.Empty(t, rec.Result().Cookies())
			assert.EqualValues(t, 0, st.loads.Load(), "refused before any store lookup")
			// Malformed cookies too.
			assert.Equal(t, http.StatusTooManyRequests, bfServe(h, attacker, "x").Code)

			// The same address without a cookie still uses the site, and
			// other addresses are untouched.
			assert.Equal(t, http.StatusOK, bfServe(h, attacker, "").Code)
			assert.Equal(t, http.StatusOK, bfServe(h, "198.51.100.20", sid.New()).Code)
			assert.EqualValues(t, 1, st.loads.Load())

			// Once the window has slid past, the address is served again.
			clock.Add(int64(2 * time.Minute))
			assert.Equal(t, http.StatusOK, bfServe(h, attacker, sid.New()).Code)
			assert.EqualValues(t, 2, st.loads.Load())
		})
	}
}

func TestBruteForceDisabledByNegativeThreshold(t *testing.T) {
	m, err := New(Config{Logger: slog.New(slog.DiscardHandler), BruteForce: BruteForceConfig{Threshold: -1}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	assert.Nil(t, m.bf)
	m, err = New(Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	require.NotNil(t, m.bf, "on by default")
	assert.Equal(t, 16, m.bf.t.Shards())
}

func BenchmarkBruteForceBlocked(b *testing.B) {
	bf := newBruteForce(BruteForceConfig{Threshold: 20, Window: time.Minute, MaxTracked: 1 << 16})
	bf.reject("192.0.2.1", bfT0)
	b.ReportAllocs()
	for b.Loop() {
		bf.blocked("192.0.2.1", bfT0)
	}
}

func BenchmarkBruteForceRejectDistinct(b *testing.B) {
	bf := newBruteForce(BruteForceConfig{Threshold: 20, Window: time.Minute, MaxTracked: 1 << 16})
	ips := make([]string, 1<<20)
	for i := range ips {
		ips[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bf.reject(ips[i&(len(ips)-1)], bfT0)
		i++
	}
}
