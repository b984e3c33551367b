package dbsc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ErrProof is wrapped by every error about a DBSC proof (the JWT a browser
// sends in the Secure-Session-Response header): missing, oversized,
// malformed, signed with another algorithm or key, of the wrong type, or
// for a challenge that is unknown, used or expired. The detail is a fixed
// reason, never any part of the proof.
var ErrProof = errors.New("dbsc: invalid proof")

// maxProofLen bounds the Secure-Session-Response header: an ES256 proof
// with its P-256 key is about 600 bytes; 8 KiB leaves room for an
// authorization claim and refuses anything built to exhaust the parser.
const maxProofLen = 8 << 10

// typ is the JOSE header type every DBSC proof carries.
const typ = "dbsc+jwt"

// proof is a DBSC proof whose signature verified.
type proof struct {
	// JTI is the challenge the proof signs.
	JTI string
	// Key is the public key from the header's jwk (registration only).
	Key *jose.JSONWebKey
}

// claims are the proof claims the server reads. Chromium adds aud (behind
// a feature) and iat; the spec requires only jti.
type claims struct {
	JTI string `json:"jti"`
	Aud string `json:"aud"`
}

// proofErr wraps a fixed reason in ErrProof.
func proofErr(reason string) error { return fmt.Errorf("%w: %s", ErrProof, reason) }

// parseProof verifies a proof from the header value raw (an RFC 9651
// string, or a bare JWT as some clients send it). With stored == nil it is
// a registration proof: its header must carry an EC P-256 public jwk,
// which verifies it and is returned. Otherwise it must verify under
// stored, and a jwk in its header is ignored. aud, when the proof has one,
// must name endpoint (the URL the proof was sent to).
func parseProof(raw string, stored *jose.JSONWebKey, endpoint *url.URL) (*proof, error) {
	if raw == "" {
		return nil, proofErr("missing")
	}
	if len(raw) > maxProofLen {
		return nil, proofErr("too long")
	}
	token, err := sfString(raw)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, proofErr("not an ES256 compact JWS")
	}
	if len(jws.Signatures) != 1 {
		return nil, proofErr("not one signature")
	}
	h := jws.Signatures[0].Header
	if t, _ := h.ExtraHeaders[jose.HeaderType].(string); t != typ {
		return nil, proofErr("typ is not dbsc+jwt")
	}
	key := stored
	if key == nil {
		if err := checkKey(h.JSONWebKey); err != nil {
			return nil, err
		}
		key = h.JSONWebKey
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, proofErr("signature does not verify")
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, proofErr("claims are not a JSON object")
	}
	if c.JTI == "" {
		return nil, proofErr("no jti")
	}
	if c.Aud != "" && !sameEndpoint(c.Aud, endpoint) {
		return nil, proofErr("aud names another endpoint")
	}
	return &proof{JTI: c.JTI, Key: key}, nil
}

// checkKey accepts only a public EC P-256 key (ES256).
func checkKey(k *jose.JSONWebKey) error {
	if k == nil {
		return proofErr("registration proof without jwk")
	}
	pub, ok := k.Key.(*ecdsa.PublicKey)
	if !ok || !k.Valid() || pub.Curve != elliptic.P256() {
		return proofErr("jwk is not a public EC P-256 key")
	}
	return nil
}

// sameEndpoint reports whether aud names the endpoint the proof was sent
// to: the same host and path (the scheme is not compared, since a TLS
// terminator in front of the server hides it).
func sameEndpoint(aud string, endpoint *url.URL) bool {
	u, err := url.Parse(aud)
	if err != nil || endpoint == nil {
		return false
	}
	return strings.EqualFold(u.Host, endpoint.Host) && u.EscapedPath() == endpoint.EscapedPath()
}

// sfString reads an RFC 9651 sf-string item ("..." with \" and \\
// escapes), ignoring any parameters after it. A value that does not start
// with a quote is taken as it is (a bare token).
func sfString(v string) (string, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, `"`) {
		return v, nil
	}
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			return b.String(), nil
		case c == '\\':
			i++
			if i == len(v) || (v[i] != '"' && v[i] != '\\') {
				return "", proofErr("bad escape in structured string")
			}
			b.WriteByte(v[i])
		case c < 0x20 || c > 0x7e:
			return "", proofErr("non-ASCII byte in structured string")
		default:
			b.WriteByte(c)
		}
	}
	return "", proofErr("unterminated structured string")
}

// quote serializes s as an RFC 9651 sf-string. Every string it is given
// here is base64url or a configured path.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
