package clientstr

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClientStringBoundsAndRepairs(t *testing.T) {
	cases := []string{
		"",
		"curl/8.0",
		strings.Repeat("a", Max),
		strings.Repeat("a", 512<<10),
		"a" + strings.Repeat("é", 300), // cut would split a 2-byte rune
		strings.Repeat("€", 200),       // 3-byte runes
		"ok\xff\xfe" + strings.Repeat("x", 300),
		strings.Repeat("\xff", 1000),
		strings.Repeat("a", Max-1) + "\xe2\x82", // truncated rune at the end
	}
	for _, in := range cases {
		out := Clean(in)
		if len(out) > Max {
			t.Errorf("len %d > %d for input of %d bytes", len(out), Max, len(in))
		}
		if !utf8.ValidString(out) {
			t.Errorf("invalid UTF-8 out for input of %d bytes: %q", len(in), out)
		}
		if len(in) <= Max && utf8.ValidString(in) && out != in {
			t.Errorf("a compliant string was changed: %q -> %q", in, out)
		}
		if utf8.ValidString(in) && !strings.HasPrefix(in, out) {
			t.Errorf("valid input not cut to a prefix: %q", out)
		}
	}
	if got := Clean("a" + strings.Repeat("é", 300)); len(got) != Max-1 {
		t.Errorf("cut not at the last character boundary: %d bytes", len(got))
	}
	if n := testing.AllocsPerRun(100, func() { _ = Clean("Mozilla/5.0 (X11; Linux x86_64)") }); n != 0 {
		t.Errorf("compliant string allocated %v times", n)
	}
}
