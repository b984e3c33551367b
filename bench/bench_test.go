package bench

// Side-by-side request benchmarks: this library (github.com/sessionkit/session),
// alexedwards/scs v2 and gorilla/sessions, configured alike (idle 30m,
// absolute 8h, Secure cookies), on memory and on a real redis-server, with
// floors measured in the same run. run.sh runs them and prints the table.
//
// Names are Benchmark<Backend>/<Scenario>/<library>:
//
//	Memory/{ReadOnly,Write,Login}/{ours,scs,gorilla}, Memory/Floor/handler
//	Cookie/{ReadOnly,Write,Login}/{ours,gorilla}, Cookie/Floor/handler
//	Redis/{ReadOnly,Write,Login}/{ours,scs}, Redis/Floor/{handler,GET,GETSET}
//
// Each handler is called directly (ServeHTTP with an httptest recorder), so
// the numbers are the libraries' own cost plus, for Redis, one or two
// loopback round trips; no socket or TLS of the HTTP server is included.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session"
)

const (
	idle     = 30 * time.Minute
	absolute = 8 * time.Hour
	userID   = "user-42"
)

var body = []byte("ok")

// lib builds the three handlers of one library on one backend.
type lib struct {
	name string
	// wrap returns the middleware-wrapped handler, and a cleanup.
	wrap     func(b *testing.B, h http.Handler) http.Handler
	readOnly http.HandlerFunc // reads "name"
	write    http.HandlerFunc // increments "n"
	login    http.HandlerFunc // new session, ID renewed, user bound, "name" set
	renew    http.HandlerFunc // ID renewed (privilege change), data kept
	cookie   string           // cookie name
}

// --- this library ---

func oursLib(newStore func(b *testing.B) session.Store) lib {
	return lib{
		name:   "ours",
		cookie: "__Host-Http-sid",
		wrap: func(b *testing.B, h http.Handler) http.Handler {
			m, err := session.New(session.Config{
				Store:           newStore(b),
				IdleTimeout:     idle,
				AbsoluteTimeout: absolute,
				Logger:          slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = m.Close() })
			return m.Handler(h)
		},
		readOnly: func(w http.ResponseWriter, r *http.Request) {
			if session.FromContext(r.Context()).GetString("name") != "Ada" {
				panic("ours: value lost")
			}
			_, _ = w.Write(body)
		},
		write: func(w http.ResponseWriter, r *http.Request) {
			s := session.FromContext(r.Context())
			if err := s.Set("n", s.GetInt("n")+1); err != nil {
				panic(err)
			}
			_, _ = w.Write(body)
		},
		login: func(w http.ResponseWriter, r *http.Request) {
			s := session.FromContext(r.Context())
			if err := s.Login(r.Context(), userID); err != nil {
				panic(err)
			}
			if err := s.Set("name", "Ada"); err != nil {
				panic(err)
			}
			_, _ = w.Write(body)
		},
		renew: func(w http.ResponseWriter, r *http.Request) {
			if err := session.FromContext(r.Context()).Renew(r.Context()); err != nil {
				panic(err)
			}
			_, _ = w.Write(body)
		},
	}
}

// --- alexedwards/scs v2 ---

func scsLib(newStore func(b *testing.B) scs.Store) lib {
	var sm *scs.SessionManager
	return lib{
		name:   "scs",
		cookie: "session",
		wrap: func(b *testing.B, h http.Handler) http.Handler {
			sm = scs.New()
			sm.Store = newStore(b)
			sm.IdleTimeout = idle
			sm.Lifetime = absolute
			sm.Cookie.Secure = true
			sm.Cookie.HttpOnly = true
			sm.Cookie.SameSite = http.SameSiteLaxMode
			sm.ErrorFunc = func(_ http.ResponseWriter, _ *http.Request, err error) { panic(err) }
			return sm.LoadAndSave(h)
		},
		readOnly: func(w http.ResponseWriter, r *http.Request) {
			if sm.GetString(r.Context(), "name") != "Ada" {
				panic("scs: value lost")
			}
			_, _ = w.Write(body)
		},
		write: func(w http.ResponseWriter, r *http.Request) {
			sm.Put(r.Context(), "n", sm.GetInt(r.Context(), "n")+1)
			_, _ = w.Write(body)
		},
		login: func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				panic(err)
			}
			sm.Put(r.Context(), "user", userID)
			sm.Put(r.Context(), "name", "Ada")
			_, _ = w.Write(body)
		},
		renew: func(w http.ResponseWriter, r *http.Request) {
			if err := sm.RenewToken(r.Context()); err != nil {
				panic(err)
			}
			_, _ = w.Write(body)
		},
	}
}

// --- gorilla/sessions CookieStore ---

func gorillaLib() lib {
	// Authenticated (HMAC-SHA256) and encrypted (AES-256) cookie. The
	// cookie store has no server-side state, no idle timeout of its own and
	// no ID to renew: MaxAge is the idle limit (each Save refreshes the
	// signed timestamp); the absolute limit cannot be enforced without
	// application code.
	store := sessions.NewCookieStore([]byte(strings.Repeat("h", 32)), []byte(strings.Repeat("b", 32)))
	store.Options = &sessions.Options{
		Path: "/", MaxAge: int(idle / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	store.MaxAge(int(idle / time.Second))
	const name = "session"
	get := func(r *http.Request) *sessions.Session {
		s, err := store.Get(r, name)
		if err != nil {
			panic(err)
		}
		return s
	}
	return lib{
		name:   "gorilla",
		cookie: name,
		// gorilla caches the decoded session in the request (its registry
		// replaces *r), so each request gets its own shallow copy, as a
		// server's fresh request would be; this costs it one allocation the
		// others do not pay.
		wrap: func(_ *testing.B, h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r2 := *r
				h.ServeHTTP(w, &r2)
			})
		},
		readOnly: func(w http.ResponseWriter, r *http.Request) {
			if v, _ := get(r).Values["name"].(string); v != "Ada" {
				panic("gorilla: value lost")
			}
			_, _ = w.Write(body)
		},
		write: func(w http.ResponseWriter, r *http.Request) {
			s := get(r)
			n, _ := s.Values["n"].(int)
			s.Values["n"] = n + 1
			if err := s.Save(r, w); err != nil {
				panic(err)
			}
			_, _ = w.Write(body)
		},
		login: func(w http.ResponseWriter, r *http.Request) {
			s, err := store.New(r, name)
			if err != nil && s == nil {
				panic(err)
			}
			s.Values["user"] = userID
			s.Values["name"] = "Ada"
			if err := s.Save(r, w); err != nil {
				panic(err)
			}
			_, _ = w.Write(body)
		},
	}
}

// --- harness ---

// loggedIn runs l's login handler once and returns the Cookie header value
// that carries the new session.
func loggedIn(b *testing.B, l lib, h http.Handler) string {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://example.com/login", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == l.cookie && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("%s: login set no cookie (status %d)", l.name, rec.Code)
	return ""
}

// serve sends req to h b.N times through a fresh recorder each time, and
// reports the Redis round trips per request (rt/op) when there were any.
func serve(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	rt0 := redisRoundTrips.Load()
	n := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		n++
	}
	if rt := redisRoundTrips.Load() - rt0; rt > 0 {
		b.ReportMetric(float64(rt)/float64(n), "rt/op")
	}
}

// redisRoundTrips counts the commands and pipelines (one round trip each)
// sent by the benchmarks' Redis clients.
var redisRoundTrips atomic.Int64

type roundTrips struct{}

func (roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		redisRoundTrips.Add(1)
		return next(ctx, cmd)
	}
}

func (roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		redisRoundTrips.Add(1)
		return next(ctx, cmds)
	}
}

// scenarios runs ReadOnly, Write and Login for each library.
func scenarios(b *testing.B, libs []lib) {
	b.Run("ReadOnly", func(b *testing.B) {
		for _, l := range libs {
			b.Run(l.name, func(b *testing.B) {
				mux := http.NewServeMux()
				mux.HandleFunc("POST /login", l.login)
				mux.HandleFunc("GET /", l.readOnly)
				h := l.wrap(b, mux)
				cookie := loggedIn(b, l, h)
				req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
				req.Header.Set("Cookie", cookie)
				serve(b, h, req)
			})
		}
	})
	b.Run("Write", func(b *testing.B) {
		for _, l := range libs {
			b.Run(l.name, func(b *testing.B) {
				mux := http.NewServeMux()
				mux.HandleFunc("POST /login", l.login)
				mux.HandleFunc("POST /inc", l.write)
				h := l.wrap(b, mux)
				cookie := loggedIn(b, l, h)
				req := httptest.NewRequest(http.MethodPost, "https://example.com/inc", nil)
				req.Header.Set("Cookie", cookie)
				serve(b, h, req)
			})
		}
	})
	b.Run("Login", func(b *testing.B) {
		for _, l := range libs {
			b.Run(l.name, func(b *testing.B) {
				h := l.wrap(b, l.login)
				serve(b, h, httptest.NewRequest(http.MethodPost, "https://example.com/login", nil))
			})
		}
	})
}

// floorHandler is the bare handler every scenario is compared with.
func floorHandler(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }

// BenchmarkMemory compares the libraries on in-process storage: the memory
// stores of this library and of scs, and gorilla's cookie store (no server
// state at all).
func BenchmarkMemory(b *testing.B) {
	b.Run("Floor", func(b *testing.B) {
		b.Run("handler", func(b *testing.B) {
			serve(b, http.HandlerFunc(floorHandler), httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
		})
	})
	scenarios(b, []lib{
		oursLib(func(b *testing.B) session.Store {
			s := session.NewMemoryStore()
			b.Cleanup(func() { _ = s.Close() })
			return s
		}),
		scsLib(func(b *testing.B) scs.Store {
			s := memstore.New()
			b.Cleanup(s.StopCleanup)
			return s
		}),
		gorillaLib(),
	})
}

// BenchmarkCookie compares the stateless cookie stores: this library's
// CookieStore (AES-256-GCM, the whole record sealed in the cookie) and
// gorilla's CookieStore (securecookie: AES-256-CTR and HMAC-SHA256), same
// values, same scenarios, with the bare handler as floor.
func BenchmarkCookie(b *testing.B) {
	b.Run("Floor", func(b *testing.B) {
		b.Run("handler", func(b *testing.B) {
			serve(b, http.HandlerFunc(floorHandler), httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
		})
	})
	scenarios(b, []lib{
		oursLib(func(b *testing.B) session.Store {
			s, err := session.NewCookieStore([]byte(strings.Repeat("k", 32)))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}),
		gorillaLib(),
	})
}

// newOursRedisStore builds this library's Redis store. It is set by
// redis_ours_test.go once the library has one; while nil, the Redis
// scenarios of this library are skipped.
var newOursRedisStore func(c *redis.Client) session.Store

// BenchmarkRedis compares the libraries on a real redis-server (started on
// a free loopback port, or BENCH_REDIS_ADDR), with the bare GET and GET+SET
// round trips as floors.
func BenchmarkRedis(b *testing.B) {
	client := redisClient(b)
	ctx := context.Background()
	val := strings.Repeat("v", 200)
	if err := client.Set(ctx, "floor:key", val, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.Run("Floor", func(b *testing.B) {
		b.Run("handler", func(b *testing.B) {
			serve(b, http.HandlerFunc(floorHandler), httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
		})
		b.Run("GET", func(b *testing.B) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := client.Get(r.Context(), "floor:key").Bytes(); err != nil {
					panic(err)
				}
				_, _ = w.Write(body)
			})
			serve(b, h, httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
		})
		b.Run("GETSET", func(b *testing.B) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v, err := client.Get(r.Context(), "floor:key").Bytes()
				if err != nil {
					panic(err)
				}
				if err := client.Set(r.Context(), "floor:key", v, time.Hour).Err(); err != nil {
					panic(err)
				}
				_, _ = w.Write(body)
			})
			serve(b, h, httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
		})
	})
	libs := []lib{scsLib(func(*testing.B) scs.Store { return goredisstore.New(client) })}
	if newOursRedisStore != nil {
		libs = append([]lib{oursLib(func(*testing.B) session.Store { return newOursRedisStore(client) })}, libs...)
	} else {
		b.Run("ours", func(b *testing.B) {
			b.Skip("this library's Redis store (session.NewRedisStore) is not built yet: Redis scenarios of ours skipped")
		})
	}
	scenarios(b, libs)
}

// redisClient connects to the benchmark's redis-server, skipping when
// there is none.
func redisClient(b *testing.B) *redis.Client {
	b.Helper()
	addr, err := redisAddr()
	if err != nil {
		b.Skip(err)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	c.AddHook(roundTrips{})
	b.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		b.Fatalf("redis at %s: %v", addr, err)
	}
	return c
}
