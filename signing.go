package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// minSigningKey is the shortest signing key New accepts: 256 bits.
const minSigningKey = 32

// signer signs tokens with the first key and verifies with any, in the style
// of express-session's secret arrays and Django's SECRET_KEY_FALLBACKS.
// Signing is optional defence in depth: a token is already 256 random bits,
// but a signed one lets the server refuse a forged or guessed ID without a
// store round trip, and rotating keys logs nobody out.
type signer struct {
	keys [][]byte
}

// sign returns "token.mac" with the primary key.
func (s *signer) sign(token string) string {
	return token + "." + base64.RawURLEncoding.EncodeToString(mac(s.keys[0], token))
}

// verify splits and checks a signed value. ok is false for an unsigned,
// malformed or forged value; primary is false when an older key verified it
// (the caller re-issues the cookie under the primary key).
func (s *signer) verify(v string) (token string, ok, primary bool) {
	token, sig, found := strings.Cut(v, ".")
	if !found || !validToken(token) || len(sig) != tokenLen {
		return "", false, false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil {
		return "", false, false
	}
	for i, k := range s.keys {
		if subtle.ConstantTimeCompare(got, mac(k, token)) == 1 {
			return token, true, i == 0
		}
	}
	return "", false, false
}

func mac(key []byte, token string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(token))
	return h.Sum(nil)
}
