// Package clientstr bounds the strings that come from a client
// (User-Agent, IP, Origin, event reasons) before a record, a binding check,
// a log line or an event sees them.
package clientstr

import (
	"strings"
	"unicode/utf8"
)

// Max is the one bound, in bytes, on every string that comes
// from the client (User-Agent, IP, Origin, event reasons) before a record, a
// binding check, a log line or an Event sees it.
const Max = 256

// Clean makes a client-supplied string safe to keep and to log: valid
// UTF-8 (each run of invalid bytes replaced by U+FFFD) and at most
// Max bytes, cut at a character boundary. Strings that already
// comply are returned as they are, without allocating.
func Clean(v string) string {
	if len(v) <= Max && utf8.ValidString(v) {
		return v
	}
	// Only the head can survive: bound the work and the allocation first.
	// The extra UTFMax bytes keep a character that starts before the bound
	// whole, so what is cut below is decided on complete input.
	if len(v) > Max+utf8.UTFMax {
		v = v[:Max+utf8.UTFMax]
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= Max {
		return v
	}
	n := Max
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}
