package otelsession_test

// The cost of the instruments on the hot path. A benchmark, not a timed
// test: nothing here asserts a duration. Compare medians within one run:
//
//	go test -run '^$' -bench ReadOnly -benchmem -count 5 .

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/otelsession"
	"github.com/sessionkit/session/storetest"
)

// BenchmarkReadOnly is a logged-in GET whose handler reads one value (the
// throttled touch is not due: one store Load, no write, no event) through
// m.Handler on a memory store: Plain without metrics, Instrumented with
// the store wrapper and the OnEvent hook on an SDK MeterProvider (a
// ManualReader that is never collected, so the aggregation cost is the
// SDK's real one).
func BenchmarkReadOnly(b *testing.B) {
	b.Run("Plain", func(b *testing.B) { benchReadOnly(b, false) })
	b.Run("Instrumented", func(b *testing.B) { benchReadOnly(b, true) })
}

func benchReadOnly(b *testing.B, instrumented bool) {
	ms := session.NewMemoryStore()
	b.Cleanup(func() { _ = ms.Close() })
	var in *otelsession.Instruments
	if instrumented {
		in, _ = newInstruments(b)
	}
	m := newManager(b, ms, in, nil)
	cookie := benchLogin(b, m)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.FromContext(r.Context()).GetString("name") != "Ada" {
			b.Fatal("value lost")
		}
		_, _ = w.Write([]byte("ok"))
	}))
	req := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	req.Header.Set("Cookie", cookie)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// benchLogin logs a user in through m and returns the Cookie header of the
// new session, with "name" set.
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
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://example.com/login", nil))
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sid" && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("login set no session cookie: %v", rec.Header())
	return ""
}

// BenchmarkStoreLoad isolates the wrapper: one memory-store Load of a live
// record, bare (Plain) and through WrapStore (Wrapped), whose difference
// is the recorded histogram cost (two clock reads and one SDK Record).
func BenchmarkStoreLoad(b *testing.B) {
	ms := session.NewMemoryStore()
	b.Cleanup(func() { _ = ms.Close() })
	key := storetest.Key()
	if err := ms.Create(context.Background(), key, storetest.Record(time.Hour, map[string][]byte{"name": []byte("Ada")})); err != nil {
		b.Fatal(err)
	}
	in, _ := newInstruments(b)
	for _, bc := range []struct {
		name string
		st   session.Store
	}{{"Plain", ms}, {"Wrapped", otelsession.WrapStore(ms, in)}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.st.Load(ctx, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOnEvent is the cost of counting one event with a reason.
func BenchmarkOnEvent(b *testing.B) {
	in, _ := newInstruments(b)
	ctx := context.Background()
	e := session.Event{Kind: session.EventRejected, Reason: "unknown", Session: "abcd", IP: "192.0.2.1"}
	b.ReportAllocs()
	for b.Loop() {
		in.OnEvent(ctx, e)
	}
}
