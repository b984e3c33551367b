package signing

import (
	"strings"
	"testing"
)

var (
	primary = []byte(strings.Repeat("k", 32))
	older   = []byte(strings.Repeat("o", 32))
	token   = strings.Repeat("A", 43)
)

// The wire format is fixed: cookies signed by an earlier release must still
// verify.
func TestSignFormat(t *testing.T) {
	const want = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.XKmPkbURfV5h9HK89Aj3mDXVDtn8mheGgJAjZo1e1eI"
	if got := Sign(primary, token); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerifyRotation(t *testing.T) {
	keys := [][]byte{primary, older}
	for i, k := range keys {
		tok, tag, ok := Split(Sign(k, token))
		if !ok || tok != token {
			t.Fatalf("key %d: Split = %q, %v", i, tok, ok)
		}
		if key, ok := Verify(keys, tok, tag); !ok || key != i {
			t.Fatalf("key %d: Verify = %d, %v", i, key, ok)
		}
	}
	// A key dropped from the list no longer verifies.
	_, tag, _ := Split(Sign(older, token))
	if _, ok := Verify(keys[:1], token, tag); ok {
		t.Fatal("a retired key still verifies")
	}
}

func TestRefusesForgedAndMalformed(t *testing.T) {
	keys := [][]byte{primary}
	_, tag, _ := Split(Sign(primary, token))
	for _, v := range []string{
		token,                   // unsigned
		token + ".",             // empty tag
		token + "." + tag[:42],  // short tag
		token + "." + tag + "A", // long tag
	} {
		if _, _, ok := Split(v); ok {
			t.Errorf("Split accepted %q", v)
		}
	}
	other := strings.Repeat("B", 43)
	if _, ok := Verify(keys, other, tag); ok {
		t.Error("a tag verified for another token")
	}
	// The last character of a 32-byte tag carries two unused bits: a
	// non-canonical encoding of the right MAC is refused.
	last := tag[42]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last) | 1
	forged := tag[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[alt])
	if _, ok := Verify(keys, token, forged); ok {
		t.Error("a non-canonical tag verified")
	}
	if _, ok := Verify(keys, token, strings.Repeat("*", 43)); ok {
		t.Error("a tag outside base64url verified")
	}
}
