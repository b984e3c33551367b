package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sessionkit/session"
)

// key is one signing key: its algorithm is pinned, so a token naming this
// key's kid with another alg is refused.
type key struct {
	kid    string
	method jwt.SigningMethod
	signer crypto.Signer
	pub    crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey
	jwk    jwk
}

// jwk is a public key as RFC 7517 (and RFC 8037 for OKP) writes it.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

var b64 = base64.RawURLEncoding

// newKey checks s and derives its kid (the RFC 7638 thumbprint of its
// public key) and public JWK. signs says it is the signing key, which
// golang-jwt needs as an *ecdsa.PrivateKey for ES256.
func newKey(i int, s crypto.Signer, signs bool) (*key, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tokens: %w: signing key %d: "+format, append([]any{session.ErrInvalidConfig, i}, args...)...)
	}
	if s == nil {
		return nil, bad("nil")
	}
	k := &key{signer: s}
	switch pub := s.Public().(type) {
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, bad("malformed Ed25519 key")
		}
		k.method, k.pub = jwt.SigningMethodEdDSA, pub
		k.jwk = jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(pub)}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, bad("ECDSA keys must be on P-256 (ES256)")
		}
		if _, ok := s.(*ecdsa.PrivateKey); signs && !ok {
			return nil, bad("the signing ECDSA key must be an *ecdsa.PrivateKey")
		}
		e, err := pub.ECDH()
		if err != nil {
			return nil, bad("%v", err)
		}
		b := e.Bytes() // 0x04 || X || Y, 32 bytes each
		k.method, k.pub = jwt.SigningMethodES256, pub
		k.jwk = jwk{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(b[1:33]), Y: b64.EncodeToString(b[33:65])}
	default:
		return nil, bad("unsupported key type %T: use ed25519.PrivateKey or *ecdsa.PrivateKey on P-256", pub)
	}
	k.kid = thumbprint(&k.jwk)
	k.jwk.Kid, k.jwk.Alg, k.jwk.Use = k.kid, k.method.Alg(), "sig"
	return k, nil
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 of the required
// members in lexicographic order, without whitespace, base64url.
func thumbprint(j *jwk) string {
	var canon string
	if j.Kty == "EC" {
		canon = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	} else {
		canon = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// JWKS returns a handler serving the public verification keys as an RFC
// 7517 JWK Set, for other services to verify access tokens:
//
//	mux.Handle("GET /.well-known/jwks.json", tk.JWKS())
func (tk *Tokens) JWKS() http.Handler {
	set := struct {
		Keys []jwk `json:"keys"`
	}{}
	for _, k := range tk.keys {
		set.Keys = append(set.Keys, k.jwk)
	}
	body, _ := json.Marshal(set) // strings only: cannot fail
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}
