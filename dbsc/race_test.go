package dbsc_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/dbsc"
)

// gateStore holds each Load's answer, once armed, until a second Load has
// read the record too (or a second has passed): two requests racing on one
// session both read it before either writes, unless something serializes
// them.
type gateStore struct {
	*session.MemoryStore
	armed atomic.Bool
	mu    sync.Mutex
	n     int
	both  chan struct{}
}

func (g *gateStore) Unwrap() session.Store { return g.MemoryStore }

func (g *gateStore) Load(ctx context.Context, key string) (*session.Record, error) {
	rec, err := g.MemoryStore.Load(ctx, key)
	if g.armed.Load() {
		g.mu.Lock()
		if g.n++; g.n == 2 {
			close(g.both)
		}
		g.mu.Unlock()
		select {
		case <-g.both:
		case <-time.After(time.Second): // serialized: the other comes after
		}
	}
	return rec, err
}

// One proof sent twice at once earns one bound cookie: the challenge is
// single use even when the replay races the original.
func TestConcurrentReplayedProof(t *testing.T) {
	gate := &gateStore{MemoryStore: session.NewMemoryStore(), both: make(chan struct{})}
	e := newEnvStore(t, gate, dbsc.Config{})
	d := e.boundDevice()
	hdr := http.Header{
		"Sec-Secure-Session-Id":   {sfQuote(d.sessionID)},
		"Secure-Session-Response": {sfQuote(proof(t, d.key, map[string]any{"jti": d.cachedChallenge}, false))},
	}
	gate.armed.Store(true)
	statuses := make(chan int, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp := d.do(http.MethodPost, d.refreshURL, hdr, nil)
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	gate.armed.Store(false)
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[http.StatusOK] != 1 || got[http.StatusForbidden] != 1 {
		t.Fatalf("two racing copies of one proof: statuses %v, want one 200 and one 403", got)
	}
}

// The devices list reads the binding through a store that seals values.
func TestSessionsWithSealedValues(t *testing.T) {
	sealed, err := session.SealValues(session.NewMemoryStore(), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvStore(t, sealed, dbsc.Config{})
	d := e.boundDevice()
	wantGet(t, d, http.StatusOK, "alice (bound)")
	devices, err := e.b.Sessions(context.Background(), "alice")
	if err != nil || len(devices) != 1 || !devices[0].Bound {
		t.Fatalf("Sessions = %+v, %v: want one bound session", devices, err)
	}
}

func TestCookieStoreRefused(t *testing.T) {
	cs, err := session.NewCookieStore(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(session.Config{Store: cs})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := dbsc.New(m, dbsc.Config{}); err == nil {
		t.Fatal("New accepted a Manager on a CookieStore")
	}
}
