// Command loadtest drives a session-backed server over loopback with many
// concurrent clients for a bounded time and reports throughput, latency,
// errors and lost updates.
//
// By default it starts everything itself: a private redis-server on a free
// 127.0.0.1 port (stopped at exit), and the library's server in-process on
// 127.0.0.1 (HTTPS, as the cookie is Secure), using the Redis store.
//
// Each client has its own cookie jar: it logs in once, then its workers
// (-w, sharing the jar, so requests on one session overlap) send a mix of
// reads and writes; every worker writes keys no other worker writes. When
// the time is up, each client reads its whole session back and checks that
// every write that was acknowledged is there with its value: a missing or
// wrong one is a lost update.
//
//	go run ./examples/loadtest                 # 10s, 32 clients × 2 workers, private redis
//	go run ./examples/loadtest -d 30s -c 64 -w 4
//	go run ./examples/loadtest -redis 127.0.0.1:6379
//	go run ./examples/loadtest -store memory
//
// It only ever talks to loopback addresses: -url and -redis are refused
// unless they name 127.0.0.0/8, ::1 or localhost.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session"
)

func main() {
	var (
		dur       = flag.Duration("d", 10*time.Second, "how long to send traffic")
		clients   = flag.Int("c", 32, "clients (sessions), each with its own cookie jar")
		workers   = flag.Int("w", 2, "concurrent workers per client, sharing its session")
		writes    = flag.Float64("writes", 0.3, "fraction of requests that write")
		target    = flag.String("url", "", "base URL of a running server with the loadtest endpoints (loopback only); default: start one in-process")
		redisAddr = flag.String("redis", "", "redis address (loopback only); default: start a private redis-server")
		store     = flag.String("store", "redis", "store of the in-process server: redis or memory")
	)
	flag.Parse()
	if err := run(*dur, *clients, *workers, *writes, *target, *redisAddr, *store); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// loopback reports whether host (a name or an address, without port) is on
// this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func run(dur time.Duration, clients, workers int, writeFrac float64, target, redisAddr, storeKind string) error {
	if clients < 1 || workers < 1 || dur <= 0 {
		return errors.New("-c, -w and -d must be positive")
	}
	// A hard stop, whatever happens below.
	deadline := time.AfterFunc(dur+2*time.Minute, func() {
		fmt.Fprintln(os.Stderr, "loadtest: hard deadline reached, exiting")
		os.Exit(2)
	})
	defer deadline.Stop()

	var httpClient func(jar http.CookieJar) *http.Client
	base := target
	if target == "" {
		var store session.Store
		switch storeKind {
		case "memory":
			ms := session.NewMemoryStore()
			defer ms.Close()
			store = ms
		case "redis":
			addr := redisAddr
			if addr == "" {
				a, stop, err := startRedis()
				if err != nil {
					return err
				}
				defer stop()
				addr = a
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil || !loopback(host) {
				return fmt.Errorf("-redis %q: only loopback addresses are allowed", addr)
			}
			rc := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 4 * clients * workers})
			defer rc.Close()
			if err := rc.Ping(context.Background()).Err(); err != nil {
				return fmt.Errorf("redis at %s: %w", addr, err)
			}
			store = session.NewRedisStore(rc)
		default:
			return fmt.Errorf("-store %q: want redis or memory", storeKind)
		}
		m, err := session.New(session.Config{
			Store:           store,
			IdleTimeout:     30 * time.Minute,
			AbsoluteTimeout: 8 * time.Hour,
			Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if err != nil {
			return err
		}
		defer m.Close()
		srv := httptest.NewUnstartedServer(m.Handler(app()))
		srv.Config.ErrorLog = nil
		srv.StartTLS() // listens on 127.0.0.1
		defer srv.Close()
		base = srv.URL
		tr := srv.Client().Transport.(*http.Transport)
		httpClient = func(jar http.CookieJar) *http.Client {
			t := tr.Clone()
			t.MaxIdleConnsPerHost = workers
			return &http.Client{Jar: jar, Transport: t, Timeout: 10 * time.Second}
		}
		fmt.Printf("server: in-process, %s store, %s\n", storeKind, base)
	} else {
		u, err := url.Parse(target)
		if err != nil || !loopback(u.Hostname()) {
			return fmt.Errorf("-url %q: only loopback addresses are allowed", target)
		}
		httpClient = func(jar http.CookieJar) *http.Client {
			t := http.DefaultTransport.(*http.Transport).Clone()
			// Loopback only (checked above): a self-signed certificate is
			// what a local test server has.
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback test server
			t.MaxIdleConnsPerHost = workers
			return &http.Client{Jar: jar, Transport: t, Timeout: 10 * time.Second}
		}
		fmt.Printf("server: %s\n", base)
	}

	// Log every client in first, so the measured phase is reads and writes.
	cs := make([]*client, clients)
	for i := range cs {
		jar, _ := cookiejar.New(nil)
		c := &client{id: i, base: base, http: httpClient(jar)}
		if err := c.login(); err != nil {
			return fmt.Errorf("client %d: login: %w", i, err)
		}
		cs[i] = c
	}

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		lat     []time.Duration
		reqs    atomic.Int64
		errs    atomic.Int64
		written = make([]map[string]string, clients) // acknowledged writes per client
	)
	for i := range written {
		written[i] = map[string]string{}
	}
	start := time.Now()
	for _, c := range cs {
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c.id), uint64(w)))
				local := make([]time.Duration, 0, 4096)
				mine := map[string]string{}
				var keys []string
				n := 0
				for ctx.Err() == nil {
					var err error
					t0 := time.Now()
					if len(keys) == 0 || rng.Float64() < writeFrac {
						k := fmt.Sprintf("w%d-k%d", w, n)
						v := strconv.FormatUint(rng.Uint64(), 36)
						n++
						if err = c.write(ctx, k, v); err == nil {
							mine[k] = v
							keys = append(keys, k)
						}
					} else {
						k := keys[rng.IntN(len(keys))]
						var got string
						if got, err = c.read(ctx, k); err == nil && got != mine[k] {
							err = fmt.Errorf("read %s: got %q, want %q", k, got, mine[k])
						}
					}
					if ctx.Err() != nil && err != nil {
						break // cut off by the end of the run: not counted
					}
					local = append(local, time.Since(t0))
					reqs.Add(1)
					if err != nil {
						if errs.Add(1) <= 5 {
							fmt.Fprintf(os.Stderr, "client %d worker %d: %v\n", c.id, w, err)
						}
					}
				}
				mu.Lock()
				lat = append(lat, local...)
				for k, v := range mine {
					written[c.id][k] = v
				}
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Verify: every acknowledged write is in the session with its value.
	lost, checked := 0, 0
	for i, c := range cs {
		got, err := c.dump()
		if err != nil {
			return fmt.Errorf("client %d: final read: %w", i, err)
		}
		for k, v := range written[i] {
			checked++
			if got[k] != v {
				lost++
				if lost <= 5 {
					fmt.Fprintf(os.Stderr, "client %d: lost update %s (want %q, got %q)\n", i, k, v, got[k])
				}
			}
		}
	}

	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	fmt.Printf("clients: %d × %d workers, %.0f%% writes, %s\n", clients, workers, 100*writeFrac, elapsed.Round(time.Millisecond))
	fmt.Printf("requests: %d (%.0f/s)\n", reqs.Load(), float64(reqs.Load())/elapsed.Seconds())
	fmt.Printf("latency: p50 %s, p99 %s, max %s\n", pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Printf("errors: %d\n", errs.Load())
	fmt.Printf("lost updates: %d of %d acknowledged writes\n", lost, checked)
	if errs.Load() > 0 || lost > 0 {
		return errors.New("errors or lost updates")
	}
	return nil
}

// app is the server side: login, read one key, write one key, dump all.
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Login(r.Context(), r.FormValue("user")); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.UserID() == "" {
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, s.GetString(r.FormValue("k")))
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if s.UserID() == "" {
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		if err := s.Set(r.FormValue("k"), r.FormValue("v")); err != nil {
			http.Error(w, "write failed", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /dump", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		out := map[string]string{}
		for _, k := range s.Keys() {
			out[k] = s.GetString(k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	return mux
}

// client is one browser: a cookie jar and the requests of the test.
type client struct {
	id   int
	base string
	http *http.Client
}

func (c *client) do(ctx context.Context, method, path string, form url.Values) ([]byte, error) {
	u := c.base + path
	if form != nil {
		u += "?" + form.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	return body, nil
}

func (c *client) login() error {
	_, err := c.do(context.Background(), http.MethodPost, "/login", url.Values{"user": {"user-" + strconv.Itoa(c.id)}})
	return err
}

func (c *client) write(ctx context.Context, k, v string) error {
	_, err := c.do(ctx, http.MethodPost, "/write", url.Values{"k": {k}, "v": {v}})
	return err
}

func (c *client) read(ctx context.Context, k string) (string, error) {
	b, err := c.do(ctx, http.MethodGet, "/read", url.Values{"k": {k}})
	return string(b), err
}

func (c *client) dump() (map[string]string, error) {
	b, err := c.do(context.Background(), http.MethodGet, "/dump", nil)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	return m, json.Unmarshal(b, &m)
}

// startRedis starts a private redis-server on a free 127.0.0.1 port,
// without persistence, and returns its address and a stop function.
func startRedis() (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server not on PATH (apt-get install redis-server), or pass -redis or -store memory")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	_ = l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	for range 100 {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			_ = c.Close()
			fmt.Printf("redis: private redis-server at %s\n", addr)
			return addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not start", addr)
}
