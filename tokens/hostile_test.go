package tokens_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session/tokens"
)

// claimsFor returns the claims a genuine token of e carries, for tests that
// forge variants of it.
func claimsFor(e *env) jwt.MapClaims {
	now := e.clock.Now()
	return jwt.MapClaims{
		"iss": tokens.DefaultIssuer, "aud": []string{tokens.DefaultIssuer}, "sub": "mallory",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"jti": "abc", "sid": strings.Repeat("A", 43),
	}
}

// sign signs claims with method and key, with the given header fields.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, hdr map[string]any) string {
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// TestHostileTokens: every bad token is refused by Handler with 401 and
// the RFC 6750 challenge, and never reaches the handler.
func TestHostileTokens(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	good := e.issue("mallory").AccessToken
	kid := fetchJWKS(t, e.tk).Keys[0]["kid"]
	hdr := map[string]any{"kid": kid, "typ": "at+jwt"}
	with := func(k string, v any) jwt.MapClaims { c := claimsFor(e); c[k] = v; return c }
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	pub := []byte(testKey.Public().(ed25519.PublicKey))

	// The forged tokens are genuine but for what each case changes.
	require.NotEmpty(t, sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), hdr))
	_, err := e.verify(sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), hdr))
	require.NoError(t, err, "the forging helper makes valid tokens")

	cases := map[string]string{
		"malformed":          "Bearer not-a-jwt",
		"two parts":          "Bearer " + good[:strings.LastIndexByte(good, '.')],
		"truncated":          "Bearer " + good[:len(good)-5],
		"extra dot":          "Bearer " + good + ".",
		"bad char":           "Bearer " + good[:20] + "!" + good[21:],
		"oversized":          "Bearer " + good + strings.Repeat("A", tokens.MaxTokenBytes),
		"flipped signature":  "Bearer " + good[:len(good)-2] + map[bool]string{true: "B", false: "A"}[good[len(good)-2] == 'A'] + good[len(good)-1:],
		"basic scheme":       "Basic " + good,
		"wrong key":          "Bearer " + sign(t, jwt.SigningMethodEdDSA, stranger, claimsFor(e), hdr),
		"unknown kid":        "Bearer " + sign(t, jwt.SigningMethodEdDSA, stranger, claimsFor(e), map[string]any{"kid": "other", "typ": "at+jwt"}),
		"no kid":             "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), map[string]any{"typ": "at+jwt"}),
		"no typ":             "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), map[string]any{"kid": kid}),
		"crit extension":     "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), map[string]any{"kid": kid, "typ": "at+jwt", "crit": []string{"exp"}, "exp": 1}),
		"crit unknown":       "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), map[string]any{"kid": kid, "typ": "at+jwt", "crit": []string{"x-unknown"}, "x-unknown": true}),
		"crit empty":         "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), map[string]any{"kid": kid, "typ": "at+jwt", "crit": []string{}}),
		"id token typ":       "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, claimsFor(e), map[string]any{"kid": kid, "typ": "JWT"}),
		"expired":            "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("exp", e.clock.Now().Add(-time.Second).Unix()), hdr),
		"no exp":             "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("exp", nil), hdr),
		"future nbf":         "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("nbf", e.clock.Now().Add(time.Minute).Unix()), hdr),
		"future iat":         "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("iat", e.clock.Now().Add(time.Minute).Unix()), hdr),
		"wrong audience":     "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("aud", "https://other.example"), hdr),
		"no audience":        "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("aud", nil), hdr),
		"wrong issuer":       "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("iss", "https://evil.example"), hdr),
		"no subject":         "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("sub", ""), hdr),
		"no sid":             "Bearer " + sign(t, jwt.SigningMethodEdDSA, testKey, with("sid", nil), hdr),
		"alg none":           "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claimsFor(e), hdr),
		"HS256 with pub key": "Bearer " + sign(t, jwt.SigningMethodHS256, pub, claimsFor(e), hdr),
		"HS256 with x":       "Bearer " + sign(t, jwt.SigningMethodHS256, []byte(fetchJWKS(t, e.tk).Keys[0]["x"]), claimsFor(e), hdr),
		"ES256 on EdDSA kid": "Bearer " + sign(t, jwt.SigningMethodES256, mustP256(t), claimsFor(e), hdr),
	}
	reached := false
	h := e.tk.Handler(httpHandlerFunc(func() { reached = true }))
	for name, authz := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req(authz))
		assert.Equal(t, 401, rec.Code, name)
		assert.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"), name)
		assert.NotContains(t, rec.Body.String(), good[:20], name)
		_, err := e.tk.Verify(req(authz))
		assert.ErrorIs(t, err, tokens.ErrInvalidToken, name)
		if tok := strings.TrimPrefix(authz, "Bearer "); len(tok) > 20 {
			assert.NotContains(t, err.Error(), tok[len(tok)-20:], name)
		}
	}
	assert.False(t, reached, "a bad token reached the handler")

	// Two Authorization headers, a token only in the URL, none at all.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req("Bearer "+good, "Bearer "+good))
	assert.Equal(t, 401, rec.Code)
	assert.Equal(t, `Bearer error="invalid_token"`, rec.Header().Get("WWW-Authenticate"))
	r := httptest.NewRequest("GET", "/api/me?access_token="+good, nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, 401, rec.Code, "never read from a URL")
	assert.Equal(t, `Bearer`, rec.Header().Get("WWW-Authenticate"), "no token: no error code (RFC 6750 3.1)")
	assert.False(t, reached)

	// The genuine token passes, claims in the context.
	var got *tokens.Claims
	h = e.tk.Handler(claimsProbe(&got))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req("bearer "+good))
	assert.Equal(t, 200, rec.Code)
	require.NotNil(t, got)
	assert.Equal(t, "mallory", got.Subject)
}

// TestLeeway: a token that expired a moment ago is accepted within the
// configured leeway, and not after it.
func TestLeeway(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{Leeway: 30 * time.Second})
	p := e.issue("ned")
	e.clock.Advance(15*time.Minute + 20*time.Second)
	_, err := e.verify(p.AccessToken)
	assert.NoError(t, err, "within leeway")
	e.clock.Advance(11 * time.Second)
	_, err = e.verify(p.AccessToken)
	assert.ErrorIs(t, err, tokens.ErrInvalidToken)
}
