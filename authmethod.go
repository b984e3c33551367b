package session

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Step-up by method: Login and Reauthenticate record how the user proved
// their identity ([WithMethod]) and when, in Meta.Methods; [RequireRecentAuth]
// lets a route demand a given method within a given time, and
// Manager.Sessions shows each session's methods.
//
// Method names are the application's: lowercase tokens of at most
// maxMethodLen bytes (a-z, 0-9, '.', '_', '-'). The conventional ones are
// "password", "passkey" (WebAuthn), "totp", "sms", "email" (a one-time
// link or code) and "federated" (an identity provider's login).

const (
	// maxMethodLen is the longest method name.
	maxMethodLen = 24
	// maxMethods is how many methods a session records; a new one beyond
	// it replaces the oldest.
	maxMethods = 8
)

// WithMethod records, with [Session.Login] or [Session.Reauthenticate], the
// authentication methods the user just completed (for instance "password",
// or "password" and "totp") and the time, for [RequireRecentAuth] and the
// devices list ([SessionInfo].Methods). Login starts the session's record
// of methods afresh; Reauthenticate adds to it (a method done again gets
// the new time). A name that is not a lowercase token of at most 24 bytes
// (a-z, 0-9, '.', '_', '-') makes Login or Reauthenticate fail with an
// error wrapping [ErrInvalidConfig], changing nothing.
func WithMethod(methods ...string) LoginOption {
	return func(o *loginOptions) { o.methods = append(o.methods, methods...) }
}

// AuthMethods returns the authentication methods recorded for this session
// by Login and Reauthenticate with [WithMethod], each with the time it was
// last completed; nil for an anonymous session or one authenticated without
// WithMethod. Like AuthenticatedAt, it reads as empty for a request whose
// device changed under [BindReauth].
func (s *Session) AuthMethods() map[string]time.Time {
	return decodeMethods(s.meta().Methods)
}

// validMethod reports whether name is a method name WithMethod accepts.
func validMethod(name string) bool {
	if name == "" || len(name) > maxMethodLen {
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

// withMethods returns the encoded methods of old (an encoding, "" for none)
// with each of names done at now, keeping the maxMethods most recent.
func withMethods(old string, names []string, now time.Time) (string, error) {
	if len(names) == 0 {
		return old, nil
	}
	ms := decodeMethods(old)
	if ms == nil {
		ms = make(map[string]time.Time, len(names))
	}
	for _, n := range names {
		if !validMethod(n) {
			return "", fmt.Errorf("%w: authentication method %q is not a lowercase token of at most %d bytes",
				ErrInvalidConfig, n, maxMethodLen)
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
	return encodeMethods(ms), nil
}

// encodeMethods is the form of Meta.Methods: "name=unixms" pairs sorted by
// name, joined by commas.
func encodeMethods(ms map[string]time.Time) string {
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

// decodeMethods reads Meta.Methods; nil for "". A part it cannot read (a
// store that damaged it) is skipped: a method not read is a method not
// done, so a damaged record can only refuse a step-up, never grant one.
func decodeMethods(enc string) map[string]time.Time {
	if enc == "" {
		return nil
	}
	ms := make(map[string]time.Time)
	for part := range strings.SplitSeq(enc, ",") {
		n, at, ok := strings.Cut(part, "=")
		msec, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || msec <= 0 || !validMethod(n) {
			continue
		}
		ms[n] = time.UnixMilli(msec)
	}
	if len(ms) == 0 {
		return nil
	}
	return ms
}
