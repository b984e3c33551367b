package session_test

// Benchmarks of the Redis store through the real Handler, beside the floors
// of bare go-redis calls to the same local redis-server (issue 3). They are
// benchmarks, not timed tests. Run
//
//	go test -run '^$' -bench Redis -benchmem -count 5 .
//
// and compare medians: BenchmarkRedisReadOnly against BenchmarkRedisFloorGET
// (target ≤ 1.2×), BenchmarkRedisWrite against BenchmarkRedisFloorGETSET
// (target ≤ 1.2×). They skip when redis-server is not installed.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/storetest"
)

// redisBenchClient starts a private redis-server and returns a client
// whose connection is already open.
func redisBenchClient(b *testing.B) *redis.Client {
	b.Helper()
	c := redistest.StartServer(b).Client(b)
	if err := c.Ping(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkRedisFloorGET(b *testing.B) {
	c := redisBenchClient(b)
	ctx := context.Background()
	if err := c.Set(ctx, "floor", "value", time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Get(ctx, "floor").Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedisFloorGETSET(b *testing.B) {
	c := redisBenchClient(b)
	ctx := context.Background()
	if err := c.Set(ctx, "floor", "value", time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Get(ctx, "floor").Err(); err != nil {
			b.Fatal(err)
		}
		if err := c.Set(ctx, "floor", "value", time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// redisBenchHandler returns the Handler of a Manager on a Redis store around
// h, the Cookie header of a logged-in session holding "name" and "n", and
// the round-trip counter of the store's client.
func redisBenchHandler(b *testing.B, h http.HandlerFunc) (http.Handler, string, *redistest.RoundTrips) {
	b.Helper()
	c := redisBenchClient(b)
	hook := &redistest.RoundTrips{}
	c.AddHook(hook)
	m, err := session.New(session.Config{
		Store:  session.NewRedisStore(c),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	login := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	login.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://example.com/login", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-Http-sid" && c.Value != "" {
			suiteTokens.Store(c.Value, struct{}{}) // TestMain's log scan
			return m.Handler(h), c.Name + "=" + c.Value, hook
		}
	}
	b.Fatalf("login set no session cookie: %v", rec.Result().Header)
	return nil, "", nil
}

// redisServeLoop serves req to h b.N times, checking the status, and reports
// the Redis round trips per request.
func redisServeLoop(b *testing.B, h http.Handler, req *http.Request, hook *redistest.RoundTrips) {
	b.Helper()
	h.ServeHTTP(httptest.NewRecorder(), req) // warm-up: the server learns the scripts
	hook.Store(0)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		n++
	}
	b.ReportMetric(float64(hook.Load())/float64(n), "roundtrips/op")
}

// BenchmarkRedisReadOnly: a logged-in request whose handler reads a value
// (touch not due): one round trip.
func BenchmarkRedisReadOnly(b *testing.B) {
	h, cookie, hook := redisBenchHandler(b, func(w http.ResponseWriter, r *http.Request) {
		if session.FromContext(r.Context()).GetString("name") != "Ada" {
			http.Error(w, "lost value", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	req.Header.Set("Cookie", cookie)
	redisServeLoop(b, h, req, hook)
}

// BenchmarkRedisWrite: a logged-in request whose handler increments a
// counter: the load and one commit.
func BenchmarkRedisWrite(b *testing.B) {
	h, cookie, hook := redisBenchHandler(b, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set("n", s.GetInt("n")+1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	req := httptest.NewRequest(http.MethodPost, "https://example.com/inc", nil)
	req.Header.Set("Cookie", cookie)
	redisServeLoop(b, h, req, hook)
}

// BenchmarkRedisLogin: a login from a browser without a session, storing a
// value: the renewal script alone, one round trip.
func BenchmarkRedisLogin(b *testing.B) {
	h, _, hook := redisBenchHandler(b, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set("name", "Ada"); err != nil { // carried by the login
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := s.Login(r.Context(), "user-7"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	req := httptest.NewRequest(http.MethodPost, "https://example.com/login", nil)
	redisServeLoop(b, h, req, hook)
}

// BenchmarkRedisStoreLoad is the store's own read, without the Manager:
// Store.Load of a logged-in record holding two values (HGETALL and the
// generation script in one pipeline, and the decoding). Between
// BenchmarkRedisFloorGET and BenchmarkRedisReadOnly, it tells how much of
// the read path is the store's protocol and how much the Manager.
func BenchmarkRedisStoreLoad(b *testing.B) {
	st, key := redisBenchRecord(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisStoreLoadUpdate is the store's side of
// BenchmarkRedisWrite: Store.Load, then Store.Update setting one value.
func BenchmarkRedisStoreLoadUpdate(b *testing.B) {
	st, key := redisBenchRecord(b)
	ctx := context.Background()
	d := &session.Delta{Set: map[string][]byte{"n": []byte("2")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
		if err := st.Update(ctx, key, d); err != nil {
			b.Fatal(err)
		}
	}
}

// redisBenchRecord returns a Redis store on a private redis-server and the
// key of a logged-in record in it holding "name" and "n".
func redisBenchRecord(b *testing.B) (session.Store, string) {
	b.Helper()
	st := session.NewRedisStore(redisBenchClient(b))
	rec := storetest.Record(time.Hour, map[string][]byte{"name": []byte(`"Ada"`), "n": []byte("1")})
	rec.UserID, rec.AuthenticatedAt = "user-7", rec.CreatedAt
	key := storetest.Key()
	ctx := context.Background()
	if err := st.Create(ctx, key, rec); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Load(ctx, key); err != nil { // the server learns the script
		b.Fatal(err)
	}
	return st, key
}

// BenchmarkRedisDurableLogout: the cost of the durability a Sentinel
// failover client gets by default (WAIT for one replica after each ending
// write), on a primary with two replicas behind three Sentinels: a logout
// (Store.Delete) with durability on, and off (WithDurability(0, 0)).
// Compare the two medians; reads and plain writes never wait.
func BenchmarkRedisDurableLogout(b *testing.B) {
	primary := redistest.StartServer(b)
	redistest.StartReplica(b, primary)
	redistest.StartReplica(b, primary)
	sentinel := redistest.StartSentinels(b, primary, 3, 2, 5*time.Second)
	client := sentinel.FailoverClient(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		opts []session.RedisOption
	}{
		{"wait=1", nil},
		{"wait=0", []session.RedisOption{session.WithDurability(0, 0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st := session.NewRedisStore(client, bc.opts...)
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = storetest.Key()
				if err := st.Create(ctx, keys[i], storetest.Record(time.Hour, nil)); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if err := st.Delete(ctx, keys[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
