package session

import (
	"net/http"
	"time"
)

// RequireRecentAuth returns middleware for sensitive routes (changing the
// password or e-mail address, payment details, deleting the account) that
// lets a request through only when its session is logged in and the user
// authenticated no longer than maxAge ago, by Login or Reauthenticate
// (OWASP ASVS 7.5.1, 7.5.3). Time is read from the Manager's clock
// (Config.Clock).
//
// Other requests go to onStale, typically a redirect to a page asking for the
// password again, whose handler checks it and calls Session.Reauthenticate
// (which also renews the session ID) before sending the user back. A nil
// onStale answers 401 Unauthorized with a generic body.
//
// It must run inside Manager.Handler; outside it, and with a maxAge that is
// not positive, every request is stale.
func RequireRecentAuth(maxAge time.Duration, onStale http.Handler) func(http.Handler) http.Handler {
	if onStale == nil {
		onStale = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		})
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if recentlyAuthenticated(fromContext(r.Context()), maxAge) {
				next.ServeHTTP(w, r)
				return
			}
			onStale.ServeHTTP(w, r)
		})
	}
}

// recentlyAuthenticated reports whether s is logged in and its last
// authentication is at most maxAge old.
func recentlyAuthenticated(s *Session, maxAge time.Duration) bool {
	if s == nil || maxAge <= 0 {
		return false
	}
	meta := s.meta()
	if meta.UserID == "" || meta.AuthenticatedAt.IsZero() {
		return false
	}
	return s.m.now().Sub(meta.AuthenticatedAt) <= maxAge
}
