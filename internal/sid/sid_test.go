package sid

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestKeyInIsTheHashOfDomainAndToken(t *testing.T) {
	tok := New()
	for _, domain := range []string{"", "hdr:", "__Host-Http-sid:", strings.Repeat("d", 60)} {
		sum := sha256.Sum256([]byte(domain + tok))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if got := KeyIn(domain, tok); got != want {
			t.Errorf("KeyIn(%q, tok) = %s, want %s", domain, got, want)
		}
	}
	if Key(tok) != KeyIn("", tok) {
		t.Error("Key is not KeyIn with an empty domain")
	}
	if KeyIn("__Host-Http-sid:", tok) == Key(tok) {
		t.Error("a domain does not change the key")
	}
	h := NewHeader()
	if HeaderKey(h) != Key("hdr:"+h) || HeaderFamily(h) != Key("hdrfam:"+h[:FamilyPartLen]) {
		t.Error("header keys changed: stored header sessions would be lost")
	}
}

func TestKeyInAllocatesOnlyItsResult(t *testing.T) {
	tok := NewHeader()
	if n := testing.AllocsPerRun(100, func() { _ = KeyIn("hdrfam:", tok) }); n != 1 {
		t.Errorf("KeyIn allocates %v times, want 1", n)
	}
}
