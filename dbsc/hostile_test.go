package dbsc_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/sessionkit/session/dbsc"
)

var b64 = base64.RawURLEncoding

// rawJWS builds a compact JWS by hand, so that tests can put in it what no
// honest JOSE library would: another key's jwk, alg none, a wrong typ.
func rawJWS(t *testing.T, header, claims map[string]any, signWith *ecdsa.PrivateKey) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	if signWith == nil {
		return input + "."
	}
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, signWith, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	n := (signWith.Curve.Params().BitSize + 7) / 8
	sig := make([]byte, 2*n)
	r.FillBytes(sig[:n])
	s.FillBytes(sig[n:])
	return input + "." + b64.EncodeToString(sig)
}

func jwkOf(t *testing.T, key any) map[string]any {
	t.Helper()
	raw, err := (&jose.JSONWebKey{Key: key}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Forged registration proofs are refused with 400, the session stays
// unbound, and the genuine registration still works afterwards.
func TestForgedRegistrationProofs(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.newDevice()
	d.login("alice")
	other := e.newDevice()
	other.login("bob")
	for name, value := range forgedRegistrations(t, d, other) {
		v := value
		if v != "" && !strings.HasPrefix(v, `"`) && name != "garbage" {
			v = sfQuote(v)
		}
		resp := d.registerWith(v)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || hasCookie(resp, "dbsc") {
			t.Errorf("%s: registration = %d (cookie %v), want 400 without a cookie", name, resp.StatusCode, hasCookie(resp, "dbsc"))
		}
	}
	wantGet(t, d, http.StatusOK, "alice")
	d.register()
	wantGet(t, d, http.StatusOK, "alice (bound)")
}

// forgedRegistrations returns registration proof header values for d's
// challenge that must all be refused.
func forgedRegistrations(t *testing.T, d, other *device) map[string]string {
	t.Helper()
	ch := d.regChallenge
	pub := jwkOf(t, &d.key.PublicKey)
	stranger := mustKey(t, elliptic.P256())
	p384 := mustKey(t, elliptic.P384())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	privJWK := jwkOf(t, d.key) // with "d"
	hdr := func(kv ...any) map[string]any {
		h := map[string]any{"alg": "ES256", "typ": "dbsc+jwt", "jwk": pub}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(h, kv[i].(string))
			} else {
				h[kv[i].(string)] = kv[i+1]
			}
		}
		return h
	}
	jti := map[string]any{"jti": ch}
	return map[string]string{
		"wrong key (jwk of another key)": rawJWS(t, hdr("jwk", jwkOf(t, &stranger.PublicKey)), jti, d.key),
		"signed by another key":          rawJWS(t, hdr(), jti, stranger),
		"alg none":                       rawJWS(t, hdr("alg", "none"), jti, nil),
		"alg none without jwk":           rawJWS(t, hdr("alg", "none", "jwk", nil), jti, nil),
		"alg HS256":                      rawJWS(t, hdr("alg", "HS256"), jti, d.key),
		"alg RS256 with an RSA jwk":      rawJWS(t, hdr("alg", "RS256", "jwk", jwkOf(t, &rsaKey.PublicKey)), jti, d.key),
		"ES256 with an RSA jwk":          rawJWS(t, hdr("jwk", jwkOf(t, &rsaKey.PublicKey)), jti, d.key),
		"P-384 jwk":                      rawJWS(t, hdr("jwk", jwkOf(t, &p384.PublicKey)), jti, p384),
		"OKP jwk":                        rawJWS(t, hdr("jwk", jwkOf(t, edPub)), jti, d.key),
		"private jwk":                    rawJWS(t, hdr("jwk", privJWK), jti, d.key),
		"no jwk":                         rawJWS(t, hdr("jwk", nil), jti, d.key),
		"typ jwt":                        rawJWS(t, hdr("typ", "JWT"), jti, d.key),
		"no typ":                         rawJWS(t, hdr("typ", nil), jti, d.key),
		"no jti":                         rawJWS(t, hdr(), map[string]any{}, d.key),
		"made-up challenge":              rawJWS(t, hdr(), map[string]any{"jti": "AAAA"}, d.key),
		"another session's challenge":    rawJWS(t, hdr(), map[string]any{"jti": other.regChallenge}, d.key),
		"aud of another endpoint":        rawJWS(t, hdr(), map[string]any{"jti": ch, "aud": "https://evil.example/dbsc/register"}, d.key),
		"claims not an object":           rawJWS(t, hdr(), nil, d.key),
		"oversized":                      rawJWS(t, hdr("pad", strings.Repeat("x", 9000)), jti, d.key),
		"garbage":                        "not a jwt",
		"unterminated string":            `"eyJ`,
		"bad escape":                     `"a\qb"`,
		"non-ASCII in string":            "\"\u00e9\"",
		"empty":                          "",
		"three dots":                     "...",
	}
}

func TestExpiredRegistrationChallenge(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.newDevice()
	d.login("alice")
	e.clock.Advance(5*time.Minute + time.Second)
	resp := d.registerWith(sfQuote(proof(t, d.key, map[string]any{"jti": d.regChallenge}, true)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("registration with an expired challenge = %d, want 400", resp.StatusCode)
	}
}

func TestRegistrationNeedsLogin(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.newDevice()
	d.login("alice")
	resp := d.do(http.MethodPost, "/logout", nil, nil)
	resp.Body.Close()
	resp = d.registerWith(sfQuote(proof(t, d.key, map[string]any{"jti": d.regChallenge}, true)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("registration after logout = %d, want 401", resp.StatusCode)
	}
}

// A refresh proof that is not the session's key's signature ends the
// session; each forgery gets a fresh bound session.
func TestForgedRefreshProofs(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	stranger := mustKey(t, elliptic.P256())
	for name, forge := range map[string]func(d *device) string{
		"another key": func(d *device) string {
			return proof(t, stranger, map[string]any{"jti": d.cachedChallenge}, false)
		},
		"another key, embedded": func(d *device) string {
			return proof(t, stranger, map[string]any{"jti": d.cachedChallenge}, true)
		},
		"alg none": func(d *device) string {
			return rawJWS(t, map[string]any{"alg": "none", "typ": "dbsc+jwt"}, map[string]any{"jti": d.cachedChallenge}, nil)
		},
		"wrong typ": func(d *device) string {
			return rawJWS(t, map[string]any{"alg": "ES256", "typ": "JWT"}, map[string]any{"jti": d.cachedChallenge}, d.key)
		},
		"aud of another endpoint": func(d *device) string {
			return proof(t, d.key, map[string]any{"jti": d.cachedChallenge, "aud": "http://evil.example/dbsc/refresh"}, false)
		},
		"garbage": func(*device) string { return "garbage" },
	} {
		d := e.boundDevice()
		hdr := http.Header{"Sec-Secure-Session-Id": {sfQuote(d.sessionID)}, "Secure-Session-Response": {sfQuote(forge(d))}}
		resp := d.do(http.MethodPost, d.refreshURL, hdr, nil)
		in := d.readInstructions(resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || in.Continue == nil || *in.Continue || hasCookie(resp, "dbsc") {
			t.Errorf("%s: refresh = %d %+v, want continue:false without a cookie", name, resp.StatusCode, in)
		}
		wantGet(t, d, http.StatusOK, "anonymous")
	}
}

// The right key on an expired or made-up challenge is asked again (403),
// not punished: it is the device, late.
func TestStaleRefreshChallenge(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	e.clock.Advance(dbsc.DefaultCookieLifetime + 5*time.Minute + time.Second)
	for _, jti := range []string{d.cachedChallenge, "made-up"} {
		hdr := http.Header{
			"Sec-Secure-Session-Id":   {sfQuote(d.sessionID)},
			"Secure-Session-Response": {sfQuote(proof(t, d.key, map[string]any{"jti": jti}, false))},
		}
		resp := d.do(http.MethodPost, d.refreshURL, hdr, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Secure-Session-Challenge") == "" {
			t.Fatalf("refresh on %q = %d, want 403 with a new challenge", jti, resp.StatusCode)
		}
	}
	if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn {
		t.Fatalf("refresh = %d, %v", status, goesOn)
	}
}

func TestHostileRefreshRequests(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	for name, hdr := range map[string]http.Header{
		"no session id":        {},
		"empty session id":     {"Sec-Secure-Session-Id": {`""`}},
		"unterminated id":      {"Sec-Secure-Session-Id": {`"abc`}},
		"huge id":              {"Sec-Secure-Session-Id": {sfQuote(strings.Repeat("a", 4000))}},
		"non-ASCII id":         {"Sec-Secure-Session-Id": {"\"a\u00e9b\""}},
		"another session's id": {"Sec-Secure-Session-Id": {sfQuote("AAAAAAAAAAAAAAAAAAAAAA")}, "Secure-Session-Response": {"x"}},
	} {
		resp := d.do(http.MethodPost, d.refreshURL, hdr, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusOK || hasCookie(resp, "dbsc") {
			t.Errorf("%s: refresh = %d (cookie %v), want 400 or continue:false, no cookie", name, resp.StatusCode, hasCookie(resp, "dbsc"))
		}
	}
	// None of them touched the real binding.
	wantGet(t, d, http.StatusOK, "alice (bound)")
	for _, path := range []string{d.refreshURL, d.regPath} {
		if status, _ := d.get(path); status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d, want 405", path, status)
		}
	}
}
