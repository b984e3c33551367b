package jsonfast

import (
	"encoding/json"
	"testing"
)

// The fast paths must decode exactly what encoding/json decodes, and defer
// to it for everything else.
func FuzzJSONFastPaths(f *testing.F) {
	for _, s := range []string{`"Ada"`, `""`, `"a\"b"`, `"\u00e9"`, "\"\xff\"", `17`, `-3`, `007`, `1e3`, `9223372036854775808`, `null`, `"x`, `-`, `1.5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, ok := PlainString(b); ok {
			var want string
			if err := json.Unmarshal(b, &want); err != nil || want != v {
				t.Fatalf("PlainString(%q) = %q; encoding/json: %q, %v", b, v, want, err)
			}
		}
		if v, ok := PlainInt(b); ok {
			var want int
			if err := json.Unmarshal(b, &want); err != nil || want != v {
				t.Fatalf("PlainInt(%q) = %d; encoding/json: %d, %v", b, v, want, err)
			}
		}
	})
}
