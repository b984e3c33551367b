// Package jsonfast decodes the commonest JSON shapes of a session value
// without encoding/json, which allocates its decoder state and the
// destination: a string without escapes and a plain integer. Each function
// returns exactly what encoding/json would, or ok false for anything else,
// which the caller then hands to encoding/json.
package jsonfast

import (
	"strconv"
	"unicode/utf8"
)

// PlainString decodes a JSON string without escapes: exactly what
// encoding/json would return for it. ok is false for anything else (escapes,
// control characters, invalid UTF-8, not a string).
func PlainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// PlainInt decodes a JSON integer written with digits only (and an optional
// minus sign) that fits an int. ok is false for anything else.
func PlainInt(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	d := b
	if d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.Atoi(string(b))
	return v, err == nil
}
