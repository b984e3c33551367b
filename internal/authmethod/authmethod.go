// Package authmethod is the format of the authentication methods a
// session records (storekit.Meta.Methods: "name=unixms" pairs sorted by
// name, joined by commas), which every store keeps as an opaque string:
// package session's WithMethod writes it, RequireRecentAuth and the
// devices list read it.
package authmethod

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// MaxLen is the longest method name.
	MaxLen = 24
	// maxMethods is how many methods a session records; a new one beyond
	// it replaces the oldest.
	maxMethods = 8
)

// Valid reports whether name is a method name: a lowercase token of at
// most MaxLen bytes (a-z, 0-9, '.', '_', '-').
func Valid(name string) bool {
	if name == "" || len(name) > MaxLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Add returns the encoded methods of old (an encoding, "" for none) with
// each of names done at now, keeping the maxMethods most recent. A name
// that is not Valid is an error.
func Add(old string, names []string, now time.Time) (string, error) {
	if len(names) == 0 {
		return old, nil
	}
	ms := Decode(old)
	if ms == nil {
		ms = make(map[string]time.Time, len(names))
	}
	for _, n := range names {
		if !Valid(n) {
			return "", fmt.Errorf("authentication method %q is not a lowercase token of at most %d bytes", n, MaxLen)
		}
		ms[n] = now
	}
	for len(ms) > maxMethods {
		oldest := ""
		for n, at := range ms {
			if oldest == "" || at.Before(ms[oldest]) || at.Equal(ms[oldest]) && n < oldest {
				oldest = n
			}
		}
		delete(ms, oldest)
	}
	return Encode(ms), nil
}

// Encode is the form of storekit.Meta.Methods: "name=unixms" pairs sorted by
// name, joined by commas.
func Encode(ms map[string]time.Time) string {
	var b strings.Builder
	for i, n := range slices.Sorted(maps.Keys(ms)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(ms[n].UnixMilli(), 10))
	}
	return b.String()
}

// Decode reads storekit.Meta.Methods; nil for "". A part it cannot read (a
// store that damaged it) is skipped: a method not read is a method not
// done, so a damaged record can only refuse a step-up, never grant one.
func Decode(enc string) map[string]time.Time {
	if enc == "" {
		return nil
	}
	ms := make(map[string]time.Time)
	for part := range strings.SplitSeq(enc, ",") {
		n, at, ok := strings.Cut(part, "=")
		msec, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || msec <= 0 || !Valid(n) {
			continue
		}
		ms[n] = time.UnixMilli(msec)
	}
	if len(ms) == 0 {
		return nil
	}
	return ms
}
