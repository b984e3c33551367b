package session

import (
	"net/http"
	"slices"
	"time"

	"github.com/sessionkit/session/internal/authmethod"
)

// RequireRecentAuth returns middleware for sensitive routes (changing the
// password or e-mail address, payment details, deleting the account) that
// lets a request through only when its session is logged in and the user
// authenticated no longer than maxAge ago, by Login or Reauthenticate
// (OWASP ASVS 7.5.1, 7.5.3). Time is read from the Manager's clock
// (Config.Clock).
//
// With methods, it also asks how: a request goes through only when one of
// methods was completed (recorded by Login or Reauthenticate with
// [WithMethod]) no longer than maxAge ago. RequireRecentAuth(d, h,
// "passkey") accepts a passkey within d and nothing else, however recent a
// password; RequireRecentAuth(d, h, "passkey", "totp") accepts either.
//
// Other requests go to onStale, which the app chooses per route: typically
// a page that asks for the password again, or runs the ceremony of the
// method asked for, and then calls Session.Reauthenticate (which also
// renews the session ID), with WithMethod, before sending the user back. A
// nil onStale answers 401 Unauthorized with a generic body. Outside
// Manager.Handler, and with a maxAge that is not positive, every request is
// stale.
func RequireRecentAuth(maxAge time.Duration, onStale http.Handler, methods ...string) func(http.Handler) http.Handler {
	if onStale == nil {
		onStale = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		})
	}
	methods = slices.Clone(methods)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if recentlyAuthenticated(fromContext(r.Context()), maxAge, methods) {
				next.ServeHTTP(w, r)
				return
			}
			onStale.ServeHTTP(w, r)
		})
	}
}

// recentlyAuthenticated reports whether s is logged in and its last
// authentication (with no methods), or its last completion of one of
// methods, is at most maxAge old.
func recentlyAuthenticated(s *Session, maxAge time.Duration, methods []string) bool {
	if s == nil || maxAge <= 0 {
		return false
	}
	meta := s.meta()
	if meta.UserID == "" || meta.AuthenticatedAt.IsZero() {
		return false
	}
	now := s.m.now()
	if len(methods) == 0 {
		return now.Sub(meta.AuthenticatedAt) <= maxAge
	}
	done := authmethod.Decode(meta.Methods)
	for _, name := range methods {
		if at, ok := done[name]; ok && now.Sub(at) <= maxAge {
			return true
		}
	}
	return false
}
