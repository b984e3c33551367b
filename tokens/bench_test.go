package tokens_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/tokens"
)

// BenchmarkVerify measures Verify of an access token (header parse, JSON,
// claim checks, Ed25519) against BenchmarkVerifyBareEd25519, the signature
// check alone on the same signing input: the ratio is the parsing
// overhead (target ≤ 1.2×).
func BenchmarkVerify(b *testing.B) {
	e, access := benchEnv(b)
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+access)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.tk.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyBareEd25519(b *testing.B) {
	_, access := benchEnv(b)
	i := strings.LastIndexByte(access, '.')
	msg := []byte(access[:i])
	sig, err := base64.RawURLEncoding.DecodeString(access[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := testKey.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

func benchEnv(b *testing.B) (*env, string) {
	m, err := session.New(session.Config{Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	tk, err := tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := tk.Issue(context.Background(), req(), "bench-user")
	if err != nil {
		b.Fatal(err)
	}
	record(p)
	return &env{m: m, tk: tk}, p.AccessToken
}

// BenchmarkRefresh measures a refresh (rotation and a new signed access
// token) on the memory store and on a real Redis.
func BenchmarkRefresh(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		m, err := session.New(session.Config{Logger: testLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close() })
		benchRefresh(b, m)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redistest.StartServer(b)
		st := session.NewRedisStore(srv.Client(b))
		m, err := session.New(session.Config{Store: st, Logger: testLogger()})
		if err != nil {
			b.Fatal(err)
		}
		benchRefresh(b, m)
	})
}

func benchRefresh(b *testing.B, m *session.Manager) {
	tk, err := tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := req()
	p, err := tk.Issue(ctx, r, "bench-user")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if p, err = tk.Refresh(ctx, r, p.RefreshToken); err != nil {
			b.Fatal(err)
		}
	}
	record(p)
}

// BenchmarkVerifyRatio runs Verify and the bare Ed25519 check of the same
// token alternately in one loop and reports their time ratio: the ratio of
// the totals (GC included) and the ratio of the per-call medians (robust to
// the preemptions of a shared machine, which skew two benchmarks run at
// different moments).
func BenchmarkVerifyRatio(b *testing.B) {
	e, access := benchEnv(b)
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+access)
	i := strings.LastIndexByte(access, '.')
	msg := []byte(access[:i])
	sig, _ := base64.RawURLEncoding.DecodeString(access[i+1:])
	pub := testKey.Public().(ed25519.PublicKey)
	var full, bare []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := e.tk.Verify(r); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
		full = append(full, t1.Sub(t0))
		bare = append(bare, time.Since(t1))
	}
	sum := func(d []time.Duration) (s time.Duration) {
		for _, v := range d {
			s += v
		}
		return s
	}
	b.ReportMetric(float64(sum(full))/float64(sum(bare)), "total-ratio")
	slices.Sort(full)
	slices.Sort(bare)
	b.ReportMetric(float64(full[len(full)/2])/float64(bare[len(bare)/2]), "median-ratio")
}
