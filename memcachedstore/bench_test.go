package memcachedstore_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/sessionkit/session/storetest"
)

// BenchmarkMemcached measures, against one real memcached in one run: the
// floor (a bare client.Get of an item of a session's size), the store's
// Load and Load+Update, and whole requests through m.Handler, read-only and
// writing. Each reports its round trips per operation (roundtrips/op),
// counted on the connections: a read-only request is one, a write two.
//
//	go test -run '^$' -bench BenchmarkMemcached -benchmem -count 5 .
func BenchmarkMemcached(b *testing.B) {
	srv := memcachedtest.Start(b, memcachedtest.Options{})
	var trips tripCounter
	mc := countingClient(srv, &trips)
	st := memcachedstore.NewUnindexed(mc, memcachedstore.WithKeyPrefix("bench:"))
	ctx := context.Background()

	report := func(b *testing.B, before int64) {
		b.ReportMetric(float64(trips.n.Load()-before)/float64(b.N), "roundtrips/op")
	}

	key := storetest.Key()
	rec := storetest.Record(time.Hour, map[string][]byte{"cart": []byte(`{"items":[1,2,3]}`), "flash": []byte(`"hello"`)})
	if err := st.Create(ctx, key, rec); err != nil {
		b.Fatal(err)
	}
	floor := &memcache.Item{Key: "floor", Value: make([]byte, 128), Expiration: 3600}
	if err := mc.Set(floor); err != nil {
		b.Fatal(err)
	}

	b.Run("GetFloor", func(b *testing.B) {
		b.ReportAllocs()
		before := trips.n.Load()
		for b.Loop() {
			if _, err := mc.Get("floor"); err != nil {
				b.Fatal(err)
			}
		}
		report(b, before)
	})
	b.Run("StoreLoad", func(b *testing.B) {
		b.ReportAllocs()
		before := trips.n.Load()
		for b.Loop() {
			if _, err := st.Load(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
		report(b, before)
	})
	b.Run("StoreLoadUpdate", func(b *testing.B) {
		b.ReportAllocs()
		d := &session.Delta{Set: map[string][]byte{"n": []byte("1")}}
		before := trips.n.Load()
		for b.Loop() {
			if _, err := st.Load(ctx, key); err != nil {
				b.Fatal(err)
			}
			if err := st.Update(ctx, key, d); err != nil {
				b.Fatal(err)
			}
		}
		report(b, before)
	})

	b.Run("UnindexedStore", func(b *testing.B) { benchRequests(b, st, &trips) })
	b.Run("Store", func(b *testing.B) {
		benchRequests(b, memcachedstore.New(mc, memcachedstore.WithKeyPrefix("benchix:")), &trips)
	})
}

// benchRequests measures whole requests of a logged-in user through
// m.Handler on st: read-only and writing.
func benchRequests(b *testing.B, st session.Store, trips *tripCounter) {
	report := func(b *testing.B, before int64) {
		b.ReportMetric(float64(trips.n.Load()-before)/float64(b.N), "roundtrips/op")
	}
	m, err := session.New(session.Config{
		Store:  st,
		Cookie: session.CookieConfig{Name: "sid", AllowInsecure: true},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "bench-user")
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, session.FromContext(r.Context()).GetString("flash"))
	})
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.Set("n", s.GetInt("n")+1)
	})
	h := m.Handler(mux)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("POST", "/login", nil))
	var cookie *http.Cookie
	for _, c := range rr.Result().Cookies() {
		if c.Name == "sid" {
			cookie = c
		}
	}
	if rr.Code != 200 || cookie == nil {
		b.Fatalf("login: %d, cookie %v", rr.Code, cookie)
	}
	request := func(b *testing.B, method, path string) {
		b.ReportAllocs()
		before := trips.n.Load()
		for b.Loop() {
			req := httptest.NewRequest(method, path, nil)
			req.AddCookie(cookie)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("%s %s: %d", method, path, w.Code)
			}
		}
		report(b, before)
	}
	b.Run("ReadOnlyRequest", func(b *testing.B) { request(b, "GET", "/read") })
	b.Run("WriteRequest", func(b *testing.B) { request(b, "POST", "/write") })
}
