// Package signing appends an HMAC-SHA256 tag to a session token and checks
// it, with key rotation in the style of express-session's secret arrays and
// Django's SECRET_KEY_FALLBACKS: the first key signs, every key verifies, so
// rotating keys logs nobody out.
//
// A signed value is "token.tag", the tag being the unpadded base64url
// HMAC-SHA256 of the token. What a valid token looks like is the caller's
// business: check it between [Split] and [Verify], so a malformed value
// costs no MAC.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// MinKeyLen is the shortest signing key worth accepting, in bytes: 256 bits.
const MinKeyLen = 32

// TagLen is the length of a tag: an HMAC-SHA256 encoded as unpadded
// base64url.
const TagLen = 43

// Sign returns "token.tag" with key.
func Sign(key []byte, token string) string {
	return token + "." + base64.RawURLEncoding.EncodeToString(mac(key, token))
}

// Split cuts a signed value into its token and tag. ok is false when v has
// no '.' or its tag is not TagLen long.
func Split(v string) (token, tag string, ok bool) {
	token, tag, found := strings.Cut(v, ".")
	if !found || len(tag) != TagLen {
		return "", "", false
	}
	return token, tag, true
}

// Verify checks tag against token under each of keys in turn, in constant
// time per key, and returns the index of the key that verified it. ok is
// false for a tag that is not canonical base64url or that no key made.
func Verify(keys [][]byte, token, tag string) (key int, ok bool) {
	got, err := base64.RawURLEncoding.Strict().DecodeString(tag)
	if err != nil {
		return 0, false
	}
	for i, k := range keys {
		if subtle.ConstantTimeCompare(got, mac(k, token)) == 1 {
			return i, true
		}
	}
	return 0, false
}

func mac(key []byte, token string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(token))
	return h.Sum(nil)
}
