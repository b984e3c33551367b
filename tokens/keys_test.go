package tokens_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session/tokens"
)

func p384Key(t *testing.T) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	return k
}

func rsaKey(t *testing.T) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

type jwkSet struct {
	Keys []map[string]string `json:"keys"`
}

func fetchJWKS(t *testing.T, tk *tokens.Tokens) jwkSet {
	rec := httptest.NewRecorder()
	tk.JWKS().ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "application/jwk-set+json", rec.Header().Get("Content-Type"))
	var set jwkSet
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &set))
	return set
}

// TestJWKSThumbprint checks the kid against RFC 8037 appendix A.3's
// Ed25519 thumbprint example.
func TestJWKSThumbprint(t *testing.T) {
	seed, _ := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	e := newEnv(t, nil, tokens.Config{SigningKeys: []crypto.Signer{ed25519.NewKeyFromSeed(seed)}})
	set := fetchJWKS(t, e.tk)
	require.Len(t, set.Keys, 1)
	k := set.Keys[0]
	assert.Equal(t, "OKP", k["kty"])
	assert.Equal(t, "Ed25519", k["crv"])
	assert.Equal(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", k["x"])
	assert.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", k["kid"])
	assert.Equal(t, "EdDSA", k["alg"])
	assert.Equal(t, "sig", k["use"])
	assert.NotContains(t, k, "d", "no private part")
}

// TestES256AndKeyRotation: an ES256 key signs, an old Ed25519 key still
// verifies, and another service verifies with the published JWKS alone.
func TestES256AndKeyRotation(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	old := newEnv(t, nil, tokens.Config{})
	oldPair := old.issue("kim")

	e := newEnv(t, nil, tokens.Config{SigningKeys: []crypto.Signer{ec, testKey}})
	e.clock = old.clock
	p := e.issue("kim")
	c, err := e.verify(p.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "kim", c.Subject)
	_, err = e.verify(oldPair.AccessToken)
	assert.NoError(t, err, "a token of the previous key still verifies")

	set := fetchJWKS(t, e.tk)
	require.Len(t, set.Keys, 2)
	ek := set.Keys[0]
	assert.Equal(t, "EC", ek["kty"])
	assert.Equal(t, "P-256", ek["crv"])
	assert.Equal(t, "ES256", ek["alg"])
	x, _ := base64.RawURLEncoding.DecodeString(ek["x"])
	y, _ := base64.RawURLEncoding.DecodeString(ek["y"])
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	require.NoError(t, err, "the JWK is a valid P-256 point")
	tok, err := jwt.Parse(p.AccessToken, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(e.clock.Now))
	require.NoError(t, err, "verifiable with the JWKS alone")
	assert.Equal(t, ek["kid"], tok.Header["kid"])
	assert.Equal(t, "at+jwt", tok.Header["typ"])

	// Dropping the old key ends its tokens.
	newOnly, err := tokens.New(e.m, tokens.Config{SigningKeys: []crypto.Signer{ec}, Clock: e.clock.Now})
	require.NoError(t, err)
	_, err = newOnly.Verify(req("Bearer " + oldPair.AccessToken))
	assert.ErrorIs(t, err, tokens.ErrInvalidToken)
}

func mustP256(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}
