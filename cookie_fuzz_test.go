package session

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/session/internal/sid"
)

// FuzzReadToken feeds arbitrary Cookie and header values through the
// transport, signed and unsigned: it must never panic, and whatever it
// accepts must be a canonical 256-bit token.
func FuzzReadToken(f *testing.F) {
	good := sid.New()
	s := &sid.Signer{Keys: [][]byte{[]byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32))}}
	for _, seed := range []string{
		"__Host-Http-sid=" + good,
		"__Host-Http-sid=" + s.Sign(good),
		"a=b; __Host-Http-sid=" + good + "; c=d",
		`__Host-Http-sid="` + good + `"`,
		"__Host-Http-sid=",
		"__Host-Http-sid=" + strings.Repeat("A", 300),
		"__Host-Http-sid=" + good[:42] + "B",
		"__Host-Http-sid=" + good + "." + good,
		"__Host-Http-sid=..;;==",
		"\x00\xff;=",
		"__Host-sid=" + good,
		"__Host-sid=" + s.Sign(good) + "; __Host-Http-sid=",
		"__Host-sid=" + good + "; __Host-Http-sid=" + good,
	} {
		f.Add(seed, "Bearer "+good)
	}
	plain, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	signed, err := New(Config{SigningKeys: s.Keys})
	if err != nil {
		f.Fatal(err)
	}
	bearer, err := New(Config{TokenHeader: "Authorization"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = plain.Close(); _ = signed.Close(); _ = bearer.Close() })

	f.Fuzz(func(t *testing.T, cookie, auth string) {
		r := &http.Request{Header: http.Header{"Cookie": {cookie}, "Authorization": {auth}}}
		for _, m := range []*Manager{plain, signed, bearer} {
			p := m.readToken(r)
			if !p.present || p.reason != "" {
				continue
			}
			if p.legacy && (m.legacyCookie == "" || p.resign) {
				t.Fatalf("legacy %v, resign %v, on a Manager reading legacy name %q", p.legacy, p.resign, m.legacyCookie)
			}
			if p.legacy == (m.key(p) == m.keyOf(p.token)) {
				t.Fatalf("a token read under the legacy name must get the plain key, and only it: legacy %v", p.legacy)
			}
			raw, err := base64.RawURLEncoding.Strict().DecodeString(p.token)
			if err != nil || len(raw) != sid.Bytes || base64.RawURLEncoding.EncodeToString(raw) != p.token {
				t.Fatalf("accepted a non-canonical token %q", p.token)
			}
		}
	})
}
