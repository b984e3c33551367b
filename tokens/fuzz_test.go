package tokens_test

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/tokens"
)

// fuzzEpoch is the fixed time of the fuzz corpus: its valid tokens were
// issued then by testKey, and stay valid at that time.
var fuzzEpoch = time.Unix(1_800_000_000, 0)

// FuzzVerify feeds hostile Authorization headers to Verify: it must never
// panic, must refuse with ErrInvalidToken, must not echo the input in its
// error, and may accept only a canonically encoded token whose Ed25519
// signature by testKey checks out (no malleability, no parser confusion).
// The corpus (testdata/fuzz/FuzzVerify) holds genuine tokens to mutate.
func FuzzVerify(f *testing.F) {
	m, err := session.New(session.Config{Clock: func() time.Time { return fuzzEpoch }, Logger: testLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = m.Close() })
	tk, err := tokens.New(m, tokens.Config{SigningKeys: []crypto.Signer{testKey}, Clock: func() time.Time { return fuzzEpoch }})
	if err != nil {
		f.Fatal(err)
	}
	p, err := tk.Issue(f.Context(), req(), "fuzz-user")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := tk.Verify(req("Bearer " + p.AccessToken)); err != nil {
		f.Fatalf("a genuine token is refused: %v", err)
	}
	f.Add("Bearer " + p.AccessToken)
	f.Add("Bearer " + p.AccessToken[:len(p.AccessToken)/2])
	f.Add("Bearer a.b.c")
	f.Add("bearer  ")
	pub := testKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, authz string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", authz)
		c, err := tk.Verify(r)
		if err != nil {
			if !errors.Is(err, tokens.ErrInvalidToken) {
				t.Fatalf("error does not wrap ErrInvalidToken: %v", err)
			}
			if len(authz) >= 24 && strings.Contains(err.Error(), authz[7:24]) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		if c.Subject == "" || c.SessionHandle == "" || c.ID == "" {
			t.Fatalf("accepted claims without sub, sid or jti: %+v", c)
		}
		tok := strings.TrimLeft(authz[len("Bearer "):], " ")
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d parts", len(parts))
		}
		for _, part := range parts {
			b, err := base64.RawURLEncoding.DecodeString(part)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != part {
				t.Fatalf("accepted a non-canonical encoding")
			}
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token whose signature does not verify")
		}
	})
}
