package session

import "net/http"

// EventUncommitted reports a request whose session changed (a value set, a
// Login, a Destroy, a CSRF nonce issued...) but whose response went out
// through another ResponseWriter than the one [Manager.Handler] passed to
// its handler: the Set-Cookie and cache headers of the commit never reached
// the client. The usual cause is a router that writes through its own
// writer, such as gin mounted with `c.Request = r; c.Next()`; use the
// router's adapter (package ginsession for gin). It is logged at ERROR.
// Changes to the values of an already stored session are still saved; a
// new session is not stored (no client could present its ID).
const EventUncommitted = "session.uncommitted"

// uncommittedReason is the Reason of EventUncommitted: the likely cause.
const uncommittedReason = "response written through another ResponseWriter than Manager.Handler's " +
	"(gin's c.Writer?): Set-Cookie lost; mount gin with ginsession.Middleware"

// writtenElsewhere reports whether the response was written through the
// writer that Handler wrapped rather than through the wrapper: the writer,
// or one it unwraps to, reports so with a Written method (gin's
// ResponseWriter, negroni's, and other routers' writers have one).
func (w *responseWriter) writtenElsewhere() bool {
	rw := w.ResponseWriter
	for rw != nil {
		if wr, ok := rw.(interface{ Written() bool }); ok {
			return wr.Written()
		}
		u, ok := rw.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		rw = u.Unwrap()
	}
	return false
}

// uncommitted runs when the handler returned and the response went out
// around the wrapper: the headers are gone, so nothing that needs a
// Set-Cookie can be committed any more. It emits one EventUncommitted when
// the session changed.
func (s *Session) uncommitted() {
	s.mu.Lock()
	defer s.unlock()
	s.headersSent = true
	if !s.loaded || s.err != nil {
		return
	}
	changed := (s.pend != nil && !s.pend.Empty()) || s.sendCookie || s.expireCookie ||
		s.csrfNonce != nil || s.legacy != nil
	if !changed {
		return
	}
	user := ""
	if s.rec != nil {
		user = s.rec.UserID
	}
	s.queue(s.event(EventUncommitted, s.token, user, uncommittedReason))
}
