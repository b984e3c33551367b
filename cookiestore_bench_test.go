package session_test

// Benchmarks of sealed data (issue 15): the cookie store's request path next
// to the memory store's, in one run, and the cost of values sealed at rest.
//
//	go test -run '^$' -bench 'Sealed|CookieStore' -benchmem -count 5 .
//
// Targets: a read-only request on the cookie store within 1.5x of the memory
// store's; sealing adds at most 1 µs per value read.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

// benchManagerOn is benchManager on the given store.
func benchManagerOn(b *testing.B, store session.Store) *session.Manager {
	b.Helper()
	m, err := session.New(session.Config{
		Store:           store,
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 8 * time.Hour,
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	return m
}

// benchStores are the stores the request benchmarks compare.
func benchStores(b *testing.B) []struct {
	name  string
	store session.Store
} {
	mem := session.NewMemoryStore()
	b.Cleanup(func() { _ = mem.Close() })
	sealedMem := session.NewMemoryStore()
	b.Cleanup(func() { _ = sealedMem.Close() })
	sv, err := session.SealValues(sealedMem, newKey(b))
	if err != nil {
		b.Fatal(err)
	}
	return []struct {
		name  string
		store session.Store
	}{
		{"Memory", mem},
		{"Cookie", newCookieStore(b, newKey(b))},
		{"SealedMemory", sv},
	}
}

// BenchmarkCookieStoreReadOnly is BenchmarkReadOnly on each store: a
// logged-in request reading one value, no touch due.
func BenchmarkCookieStoreReadOnly(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			m := benchManagerOn(b, st.store)
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
		})
	}
}

// BenchmarkCookieStoreWrite is BenchmarkWrite on each store: a logged-in
// POST incrementing a counter (the cookie store re-seals the cookie).
func BenchmarkCookieStoreWrite(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			m := benchManagerOn(b, st.store)
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
		})
	}
}

// BenchmarkSealedValuesLoad loads a record of n values of 64 bytes from a
// memory store, plain and sealed: the difference divided by n is the cost
// of sealing per value read.
func BenchmarkSealedValuesLoad(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1, 10} {
		vals := map[string][]byte{}
		for i := range n {
			vals[fmt.Sprint("value", i)] = []byte(fmt.Sprintf("%q", fmt.Sprint(i, "-0123456789012345678901234567890123456789012345678901234")))
		}
		for _, sealedStore := range []bool{false, true} {
			name := fmt.Sprintf("values=%d/plain", n)
			mem := session.NewMemoryStore()
			b.Cleanup(func() { _ = mem.Close() })
			var st session.Store = mem
			if sealedStore {
				name = fmt.Sprintf("values=%d/sealed", n)
				st = sealed(b, mem, newKey(b))
			}
			key := storetest.Key()
			if err := st.Create(ctx, key, storetest.Record(time.Hour, vals)); err != nil {
				b.Fatal(err)
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r, err := st.Load(ctx, key)
					if err != nil || len(r.Values) != n {
						b.Fatal(err, len(r.Values))
					}
				}
			})
		}
	}
}
