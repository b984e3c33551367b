package csrf

import (
	"bytes"
	"strings"
	"testing"
)

func TestMaskUnmaskRoundTripAndRefusals(t *testing.T) {
	secret, enc := NewSecret()
	if !bytes.Equal(DecodeSecret(enc), secret) {
		t.Fatal("DecodeSecret does not invert NewSecret")
	}
	a, b := Mask(secret), Mask(secret)
	if a == b {
		t.Fatal("two masks of one secret are equal: the pad is not fresh")
	}
	for _, tok := range []string{a, b} {
		if got, ok := Unmask(tok); !ok || !bytes.Equal(got, secret) {
			t.Fatalf("Unmask(%q) = %x, %v", tok, got, ok)
		}
	}
	for _, bad := range []string{"", a[:85], a + "A", strings.Repeat("=", 86), a[:84] + "\r\n"} {
		if _, ok := Unmask(bad); ok {
			t.Errorf("Unmask accepted %q", bad)
		}
	}
	if DecodeSecret(enc[:40]) != nil || DecodeSecret(enc+"==") != nil {
		t.Error("DecodeSecret accepted a malformed secret")
	}
}

func TestVerifyNonceAcrossKeyRotation(t *testing.T) {
	old := NewKeys([][]byte{[]byte(strings.Repeat("o", 32))})
	both := NewKeys([][]byte{[]byte(strings.Repeat("n", 32)), []byte(strings.Repeat("o", 32))})
	s := NonceSecret(old[0], "nonce")
	if !VerifyNonce(both, "nonce", s) {
		t.Fatal("a secret under the older key is refused after rotation")
	}
	if VerifyNonce(both, "other", s) || VerifyNonce(both, "", s) {
		t.Fatal("a secret verified for another or an empty nonce")
	}
	if r1, r2 := NewKeys(nil), NewKeys(nil); bytes.Equal(r1[0], r2[0]) {
		t.Fatal("random keys repeat")
	}
}
