package dbsc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzParseProof feeds the proof parser arbitrary header values, as a
// registration (key from the proof) and as a refresh (a stored key). It
// must never panic, and whatever it accepts must carry a jti and a public
// P-256 key. The kept corpus is in testdata/fuzz/FuzzParseProof: a valid
// proof and the near misses that once mattered (alg none, a foreign jwk,
// broken structured strings).
func FuzzParseProof(f *testing.F) {
	for _, seed := range []string{
		"",
		`"eyJhbGciOiJub25lIn0.e30."`,
		`"a\"b"`,
		`"unterminated`,
		"a.b.c",
	} {
		f.Add(seed)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	stored := &jose.JSONWebKey{Key: &k.PublicKey}
	ep := &url.URL{Host: "example.com", Path: "/dbsc/register"}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, key := range []*jose.JSONWebKey{nil, stored} {
			p, err := parseProof(raw, key, ep)
			if err != nil {
				if !errors.Is(err, ErrProof) {
					t.Fatalf("error %v does not wrap ErrProof", err)
				}
				continue
			}
			if p.JTI == "" || checkKey(p.Key) != nil {
				t.Fatalf("accepted a proof without jti or with a bad key: %+v", p)
			}
		}
	})
}

// The forms a proof header comes in: an RFC 9651 string (with parameters
// after it, ignored) or a bare JWT.
func TestParseProofForms(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dbsc+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"jti":"c1","aud":"https://example.com/dbsc/register","iat":1}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	ep := &url.URL{Host: "example.com", Path: "/dbsc/register"}
	for _, raw := range []string{c, `"` + c + `"`, `"` + c + `";x=1`, " " + c + " "} {
		p, err := parseProof(raw, nil, ep)
		if err != nil || p.JTI != "c1" {
			t.Fatalf("parseProof(%.20q...) = %+v, %v", raw, p, err)
		}
	}
	if _, err := parseProof(c, nil, &url.URL{Host: "example.com", Path: "/other"}); !errors.Is(err, ErrProof) {
		t.Fatalf("aud of another path: %v", err)
	}
}
