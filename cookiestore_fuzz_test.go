package session

import (
	"bytes"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/cookieseal"
	"github.com/sessionkit/session/internal/sid"
	"github.com/sessionkit/session/internal/testkit"
	"github.com/sessionkit/session/internal/wire"
)

// fuzzRecord is a record with every field set, for seeds.
func fuzzRecord() *Record {
	now := time.Unix(1_700_000_000, 123456789)
	return &Record{Meta: Meta{UserID: "alice", Generation: 3, CreatedAt: now, LastSeen: now.Add(time.Minute),
		AuthenticatedAt: now, UserAgent: "Mozilla/5.0", IP: "203.0.113.7", IdleTimeout: time.Minute,
		AbsoluteTimeout: time.Hour, Linger: time.Minute, Persist: true},
		Values: map[string][]byte{"cart": []byte(`{"n":1}`), "": nil, "flash": []byte(`"hi"`)}}
}

// FuzzOpenCookie feeds arbitrary cookie values to the opener: it must never
// panic, and what it accepts must seal again into a cookie that opens to
// the same record. Seeds include live cookies, so the fuzzer mutates
// ciphertexts, headers and key ids that are almost right.
func FuzzOpenCookie(f *testing.F) {
	key, old := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	cs, err := NewCookieStore(key, old)
	if err != nil {
		f.Fatal(err)
	}
	oldOnly, _ := NewCookieStore(old)
	tok := sid.New()
	for _, seed := range []string{
		cs.sealCookie("__Host-sid", tok, fuzzRecord()),
		cs.sealCookie("__Host-sid", tok, &Record{}),
		oldOnly.sealCookie("__Host-sid", tok, fuzzRecord()),
		cs.sealCookie("other", tok, fuzzRecord()),
		"", "AQ", strings.Repeat("A", 64), strings.Repeat("_", 4097),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		token, r, _, err := cs.openCookie("__Host-sid", v)
		if err != nil {
			return
		}
		if !sid.Valid(token) {
			t.Fatalf("opened a malformed token %q", token)
		}
		again := cs.sealCookie("__Host-sid", token, r)
		token2, r2, primary, err := cs.openCookie("__Host-sid", again)
		if err != nil || !primary || token2 != token || !testkit.SameRecord(r, r2) {
			t.Fatalf("re-sealed record does not round-trip: %v", err)
		}
	})
}

// The size the Manager checks before a Set is the size it then sends.
func TestCookieRecordLenMatchesEncoding(t *testing.T) {
	for _, r := range []*Record{fuzzRecord(), {}, {Values: map[string][]byte{strings.Repeat("k", 200): bytes.Repeat([]byte("v"), 3000)}}} {
		tok := sid.New()
		got := wire.CookieLen(len(tok), &r.Meta, maps.All(r.Values))
		if want := len(wire.AppendCookie(nil, tok, r)); got != want {
			t.Errorf("cookieRecordLen = %d, encoding is %d", got, want)
		}
		cs, _ := NewCookieStore(bytes.Repeat([]byte{9}, 32))
		if got, want := cookieseal.Len(got), len(cs.sealCookie("n", tok, r)); got != want {
			t.Errorf("cookieseal.Len = %d, cookie is %d", got, want)
		}
	}
}
