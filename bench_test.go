package session_test

// Benchmarks of the request path and of the memory store at scale (issue:
// performance and scale). They are benchmarks, not timed tests: nothing here
// asserts a duration. Run them with
//
//	go test -run '^$' -bench . -benchmem -count 5 .
//
// and compare medians within one run. bench/ (a nested module) runs the same
// request scenarios side by side with alexedwards/scs and gorilla/sessions.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
)

// benchBody is what every benchmark handler writes.
var benchBody = []byte("ok")

// benchManager returns a Manager on a fresh memory store, configured like the
// peers in bench/: idle 30m, absolute 8h, Secure cookie, a logger that drops
// everything (logging cost is not what is measured).
func benchManager(b *testing.B) *session.Manager {
	b.Helper()
	store := session.NewMemoryStore()
	m, err := session.New(session.Config{
		Store:           store,
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 8 * time.Hour,
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = m.Close()
		_ = store.Close()
	})
	return m
}

// benchLogin logs a user in through h's Manager and returns the Cookie
// request header that carries the new session, with "name" already set.
func benchLogin(b *testing.B, m *session.Manager) string {
	b.Helper()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Login(r.Context(), "user-42"); err != nil {
			b.Fatal(err)
		}
		if err := s.Set("name", "Ada"); err != nil {
			b.Fatal(err)
		}
		if err := s.Set("n", 0); err != nil {
			b.Fatal(err)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://example.com/login", nil))
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.Name == "__Host-Http-sid" && c.Value != "" {
			// The suite-wide log scan (TestMain) checks benchmark tokens too.
			suiteTokens.Store(c.Value, struct{}{})
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("login set no session cookie: %v", res.Header)
	return ""
}

// serveLoop sends req to h b.N times, each time through a fresh recorder, as
// net/http would give the handler a fresh ResponseWriter.
func serveLoop(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkFloor is the bare handler, without the session middleware: the
// floor the session benchmarks are compared with.
func BenchmarkFloor(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(benchBody) })
	req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	req.Header.Set("Cookie", "__Host-Http-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	serveLoop(b, h, req)
}

// BenchmarkReadOnly is a logged-in request whose handler reads one value;
// the throttled touch is not due, so the store is only read.
func BenchmarkReadOnly(b *testing.B) {
	m := benchManager(b)
	cookie := benchLogin(b, m)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.FromContext(r.Context()).GetString("name") != "Ada" {
			b.Fatal("value lost")
		}
		_, _ = w.Write(benchBody)
	}))
	req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	req.Header.Set("Cookie", cookie)
	serveLoop(b, h, req)
}

// BenchmarkWrite is a logged-in POST whose handler increments a counter:
// one load and one delta update.
func BenchmarkWrite(b *testing.B) {
	m := benchManager(b)
	cookie := benchLogin(b, m)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set("n", s.GetInt("n")+1); err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(benchBody)
	}))
	req := httptest.NewRequest(http.MethodPost, "https://example.com/inc", nil)
	req.Header.Set("Cookie", cookie)
	serveLoop(b, h, req)
}

// BenchmarkLogin is a login from a browser without a session: a new ID is
// issued, the user bound and indexed, a value set, and the cookie written.
func BenchmarkLogin(b *testing.B) {
	m := benchManager(b)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Login(r.Context(), "user-42"); err != nil {
			b.Fatal(err)
		}
		if err := s.Set("name", "Ada"); err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(benchBody)
	}))
	req := httptest.NewRequest(http.MethodPost, "https://example.com/login", nil)
	serveLoop(b, h, req)
}

// interleave measures several operations under the same conditions: each
// iteration runs every op a few times in turn, timing each, so that load
// from other processes on a shared machine hits them all alike. It reports
// each op's mean time as "<name>-ns".
func interleave(b *testing.B, names []string, ops []func()) []float64 {
	b.Helper()
	const rounds = 16
	acc := make([]time.Duration, len(ops))
	n := 0
	for b.Loop() {
		for i, op := range ops {
			t0 := time.Now()
			for range rounds {
				op()
			}
			acc[i] += time.Since(t0)
		}
		n++
	}
	per := make([]float64, len(ops))
	for i := range ops {
		per[i] = float64(acc[i].Nanoseconds()) / float64(n*rounds)
		b.ReportMetric(per[i], names[i]+"-ns")
	}
	return per
}

// BenchmarkReadOnlyOverFloor runs the Floor and ReadOnly requests
// interleaved and reports what the session adds (over-floor-ns), a number
// that stays meaningful on a machine shared with other work.
func BenchmarkReadOnlyOverFloor(b *testing.B) {
	floor := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(benchBody) })
	m := benchManager(b)
	cookie := benchLogin(b, m)
	ro := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.FromContext(r.Context()).GetString("name") != "Ada" {
			b.Fatal("value lost")
		}
		_, _ = w.Write(benchBody)
	}))
	req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	req.Header.Set("Cookie", cookie)
	serve := func(h http.Handler) func() {
		return func() { h.ServeHTTP(httptest.NewRecorder(), req) }
	}
	per := interleave(b, []string{"floor", "readonly"}, []func(){serve(floor), serve(ro)})
	b.ReportMetric(per[1]-per[0], "over-floor-ns")
}

// --- memory store at scale ---

// benchKeys returns n distinct keys shaped like the Manager's (base64url of
// 32 bytes).
func benchKeys(n int) []string {
	keys := make([]string, n)
	var buf [32]byte
	for i := range keys {
		_, _ = rand.Read(buf[:])
		keys[i] = base64.RawURLEncoding.EncodeToString(buf[:])
	}
	return keys
}

// benchRecord is a small logged-in session: a user ID and two small values.
func benchRecord(i int, now time.Time, ttl time.Duration) *session.Record {
	return &session.Record{
		Meta: session.Meta{
			UserID:          "user-" + strconv.Itoa(i),
			CreatedAt:       now,
			LastSeen:        now,
			AuthenticatedAt: now,
			Expires:         now.Add(ttl),
		},
		Values: map[string][]byte{
			"name": []byte(`"Ada"`),
			"n":    []byte("17"),
		},
	}
}

// fill creates one record per key in s; user i gets keys[i].
func fill(b *testing.B, s session.Store, keys []string, now time.Time, ttl time.Duration) {
	b.Helper()
	ctx := context.Background()
	for i, k := range keys {
		if err := s.Create(ctx, k, benchRecord(i, now, ttl)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryStoreScale compares the per-operation cost of Load and of
// a value Update with 1,000 and with 1,000,000 live sessions, keys picked
// in a fixed pseudo-random order, and reports the heap bytes per session
// (user ID plus two small values, per-user index included) as B/session.
func BenchmarkMemoryStoreScale(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			store := session.NewMemoryStore()
			b.Cleanup(func() { _ = store.Close() })
			// Heap growth from generating the keys (as storeKey does per
			// request; the store keeps them for its per-user index) through
			// filling the store, less the slice of key headers that only
			// this benchmark holds.
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.HeapAlloc
			keys := benchKeys(n)
			fill(b, store, keys, time.Now(), time.Hour)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			perSession := (float64(ms.HeapAlloc) - float64(before) - float64(16*n)) / float64(n)

			// The operations visit the sessions in a fixed pseudo-random
			// order, but the keys are laid out contiguously in that order,
			// so the harness itself adds no cache misses: as in a request,
			// the caller's key is hot and the store's memory is not.
			prng := uint64(0x9E3779B97F4A7C15)
			perm := slices.Clone(keys)
			for i := n - 1; i > 0; i-- {
				prng ^= prng << 13
				prng ^= prng >> 7
				prng ^= prng << 17
				j := int(prng % uint64(i+1))
				perm[i], perm[j] = perm[j], perm[i]
			}
			order := strings.Split(strings.Join(perm, "\n"), "\n")
			runtime.GC()
			ctx := context.Background()

			b.Run("Load", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := store.Load(ctx, order[i]); err != nil {
						b.Fatal(err)
					}
					if i++; i == n {
						i = 0
					}
				}
			})
			b.Run("Update", func(b *testing.B) {
				b.ReportAllocs()
				d := &session.Delta{Set: map[string][]byte{"n": []byte("18")}}
				i := 0
				for b.Loop() {
					if err := store.Update(ctx, order[i], d); err != nil {
						b.Fatal(err)
					}
					if i++; i == n {
						i = 0
					}
				}
			})
			b.Run("Memory", func(b *testing.B) {
				// Measured once above, at fill time; reported here so it
				// shows as its own line.
				for b.Loop() {
				}
				b.ReportMetric(perSession, "B/session")
			})
		})
	}
}

// BenchmarkMemoryStoreScaleInterleaved is BenchmarkMemoryStoreScale with
// the 1k and 1M stores measured in alternation (see interleave), reporting
// the 1M/1k ratio from the same moments.
func BenchmarkMemoryStoreScaleInterleaved(b *testing.B) {
	type sized struct {
		store *session.MemoryStore
		order []string
		i     int
	}
	var stores []*sized
	for _, n := range []int{1_000, 1_000_000} {
		keys := benchKeys(n)
		st := session.NewMemoryStore()
		b.Cleanup(func() { _ = st.Close() })
		fill(b, st, keys, time.Now(), time.Hour)
		prng := uint64(0x9E3779B97F4A7C15)
		for i := n - 1; i > 0; i-- {
			prng ^= prng << 13
			prng ^= prng >> 7
			prng ^= prng << 17
			j := int(prng % uint64(i+1))
			keys[i], keys[j] = keys[j], keys[i]
		}
		stores = append(stores, &sized{store: st, order: strings.Split(strings.Join(keys, "\n"), "\n")})
	}
	runtime.GC()
	ctx := context.Background()
	next := func(s *sized) string {
		k := s.order[s.i]
		if s.i++; s.i == len(s.order) {
			s.i = 0
		}
		return k
	}
	b.Run("Load", func(b *testing.B) {
		op := func(s *sized) func() {
			return func() {
				if _, err := s.store.Load(ctx, next(s)); err != nil {
					b.Fatal(err)
				}
			}
		}
		per := interleave(b, []string{"1k", "1M"}, []func(){op(stores[0]), op(stores[1])})
		b.ReportMetric(per[1]/per[0], "1M/1k")
	})
	b.Run("Update", func(b *testing.B) {
		d := &session.Delta{Set: map[string][]byte{"n": []byte("18")}}
		op := func(s *sized) func() {
			return func() {
				if err := s.store.Update(ctx, next(s), d); err != nil {
					b.Fatal(err)
				}
			}
		}
		per := interleave(b, []string{"1k", "1M"}, []func(){op(stores[0]), op(stores[1])})
		b.ReportMetric(per[1]/per[0], "1M/1k")
	})
}

// BenchmarkMemoryStoreMassExpiry measures Load latency on live sessions
// while 1,000,000 other sessions expire at the same instant and the sweeper
// removes them, against the same load in steady state (sweeper running,
// nothing expiring). It reports p50/p99 of both phases and the p99 ratio.
// Each run is one fixed scenario (b.N is not used): ns/op is its wall time.
func BenchmarkMemoryStoreMassExpiry(b *testing.B) {
	const (
		doomed = 1_000_000
		live   = 10_000
		sweep  = 2 * time.Second // a full pass over the shards
	)
	clock := &benchClock{}
	start := time.Now()
	clock.set(start)
	store := session.NewMemoryStore(session.WithMemoryClockForTest(clock.now), session.WithSweepInterval(sweep))
	b.Cleanup(func() { _ = store.Close() })
	liveKeys := benchKeys(live)
	fill(b, store, liveKeys, start, 24*time.Hour)
	fill(b, store, benchKeys(doomed), start, time.Minute)
	runtime.GC()

	// measure runs Load in a loop from GOMAXPROCS-1 goroutines (at least
	// one; a core is left to the sweeper and the GC) until done returns
	// true, and returns the sorted latencies.
	measure := func(done func() bool) []time.Duration {
		var (
			mu   sync.Mutex
			all  []time.Duration
			stop atomic.Bool
			wg   sync.WaitGroup
		)
		ctx := context.Background()
		for g := range max(1, runtime.GOMAXPROCS(0)-1) {
			wg.Go(func() {
				lat := make([]time.Duration, 0, 1<<22)
				i := g * 7919
				for !stop.Load() {
					k := liveKeys[i%live]
					i++
					t0 := time.Now()
					if _, err := store.Load(ctx, k); err != nil {
						panic(err)
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			})
		}
		for !done() {
			time.Sleep(10 * time.Millisecond)
		}
		stop.Store(true)
		wg.Wait()
		slices.Sort(all)
		return all
	}
	pct := func(l []time.Duration, p float64) float64 {
		if len(l) == 0 {
			return 0
		}
		return float64(l[int(float64(len(l)-1)*p)].Nanoseconds())
	}

	b.ResetTimer()
	// Steady state: the sweeper scans, nothing has expired.
	t0 := time.Now()
	steady := measure(func() bool { return time.Since(t0) >= sweep })
	// Mass expiry: every doomed session's deadline passes at once; measure
	// until the sweeper has removed them all.
	clock.set(start.Add(2 * time.Minute))
	t1 := time.Now()
	expiry := measure(func() bool { return session.MemoryRecordsForTest(store) <= live || time.Since(t1) > 10*sweep })
	b.StopTimer()
	if n := session.MemoryRecordsForTest(store); n > live {
		b.Fatalf("sweeper left %d records", n-live)
	}
	b.ReportMetric(pct(steady, 0.50), "p50-steady-ns")
	b.ReportMetric(pct(steady, 0.99), "p99-steady-ns")
	b.ReportMetric(pct(expiry, 0.50), "p50-expiry-ns")
	b.ReportMetric(pct(expiry, 0.99), "p99-expiry-ns")
	b.ReportMetric(pct(expiry, 0.99)/pct(steady, 0.99), "p99-ratio")
	b.ReportMetric(time.Since(t1).Seconds(), "sweep-s")
}

// benchClock is a settable clock for the mass-expiry benchmark.
type benchClock struct{ t atomic.Int64 }

func (c *benchClock) set(t time.Time) { c.t.Store(t.UnixNano()) }
func (c *benchClock) now() time.Time  { return time.Unix(0, c.t.Load()) }
