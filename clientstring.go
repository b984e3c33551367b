package session

import (
	"strings"
	"unicode/utf8"
)

// maxClientString is the one bound, in bytes, on every string that comes
// from the client (User-Agent, IP, Origin, event reasons) before a record, a
// binding check, a log line or an Event sees it.
const maxClientString = 256

// clientString makes a client-supplied string safe to keep and to log: valid
// UTF-8 (each run of invalid bytes replaced by U+FFFD) and at most
// maxClientString bytes, cut at a character boundary. Strings that already
// comply are returned as they are, without allocating.
func clientString(v string) string {
	if len(v) <= maxClientString && utf8.ValidString(v) {
		return v
	}
	// Only the head can survive: bound the work and the allocation first.
	// The extra UTFMax bytes keep a character that starts before the bound
	// whole, so what is cut below is decided on complete input.
	if len(v) > maxClientString+utf8.UTFMax {
		v = v[:maxClientString+utf8.UTFMax]
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= maxClientString {
		return v
	}
	n := maxClientString
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n]
}
