package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/sessionkit/session/internal/outerhdr"
)

// Handler wraps next so that every request carries a *Session (see
// FromContext). It refuses cross-origin unsafe-method requests (unless
// disabled in Config), loads the session lazily, and commits it just before
// the response headers go out, without buffering the body. A store failure
// becomes Config.ErrorHandler's response, never a 200 that lost the change.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.cop != nil {
			if err := m.cop.Check(r); err != nil {
				if m.isCallback(r) {
					m.relayFormPost(w, r) // see Config.CallbackPaths
					return
				}
				m.denyCrossOrigin(w, r)
				return
			}
		}
		if m.bf != nil && m.cfg.BruteForce.Block && m.blockedClient(r) {
			http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
			return
		}
		// The Session and the writer wrapper share one allocation.
		st := &requestState{}
		s := &st.s
		s.m = m
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, s))
		s.req = r
		rw := &st.rw
		rw.ResponseWriter, rw.s, rw.req = w, s, r
		rw.outer.Record(w.Header())
		next.ServeHTTP(rw, r)
		rw.finish()
	})
}

// requestState is what Handler allocates per request.
type requestState struct {
	s  Session
	rw responseWriter
}

// blockedClient reports whether r presents a session ID from an IP that is
// over the brute-force threshold. Requests without our cookie pass, so a
// blocked address can still use the site anonymously.
func (m *Manager) blockedClient(r *http.Request) bool {
	if !m.readToken(r).present {
		return false
	}
	return m.bf.blocked(m.clientIP(r), m.now())
}

// finalCommitTimeout bounds the save that runs when a handler returns after
// the headers went out, which no longer follows the request's context.
const finalCommitTimeout = 10 * time.Second

// errCommitFailed is returned by Write after the commit failed and the error
// handler answered instead of the handler.
var errCommitFailed = errors.New("session: commit failed; response replaced by the error handler")

// responseWriter commits the session at the first WriteHeader, Write, Flush,
// ReadFrom or Hijack, so Set-Cookie is part of the headers, and otherwise
// passes everything through. Unwrap lets http.ResponseController reach the
// underlying writer (deadlines, and anything else it does not wrap).
type responseWriter struct {
	http.ResponseWriter
	s           *Session
	req         *http.Request
	wroteHeader bool
	failed      bool
	hijacked    bool
	// outer are the headers set by outer middleware (CSP, frame and
	// referrer policies...) when Handler was entered, which an error
	// response keeps.
	outer outerhdr.Set
}

// Header returns the response header. The first call before the headers
// go out captures the outer middleware's values (see [outerhdr.Set.Capture]).
func (w *responseWriter) Header() http.Header {
	h := w.ResponseWriter.Header()
	if !w.wroteHeader {
		w.outer.Capture(h)
	}
	return h
}

// keepsLegacyCookie reports whether the commit left the session read under
// the legacy cookie name there: not moved yet (only a page navigation moves
// it, see Session.renewAtCommit), or found renewed or ended since its load
// (see storeCarrier.sendToken, Session.rotate, Session.goneAtCommit and
// storeCarrier.check), when the old cookie may hold the renewal of an
// instance of the earlier release.
func (s *Session) keepsLegacyCookie() bool {
	s.mu.Lock()
	defer s.unlock()
	return s.reissueGone || s.legacyMove
}

// commit runs the session commit once, before the headers go out. On failure
// it writes the error handler's response in place of the handler's and
// returns the error.
func (w *responseWriter) commit() error {
	if w.wroteHeader {
		return nil
	}
	w.wroteHeader = true
	h := w.ResponseWriter.Header() // not w.Header: the commit is not the handler
	// Moving to the current cookie name: the session must be read (and so
	// renewed under the new name) before the old cookie goes. An ID
	// renewed a moment ago keeps its cookie (the grace rule): an instance
	// of the earlier release may have renewed it under the old name.
	legacy := w.s.m.presentsLegacyCookie(w.req) && !w.s.loadNow()
	err := w.s.commit(h, true)
	if err != nil {
		w.failed = true
		w.outer.Reset(h)
		w.s.m.cfg.ErrorHandler(w.ResponseWriter, w.req, err)
		return err
	}
	if legacy && !w.s.keepsLegacyCookie() {
		// A response carrying Set-Cookie is never stored by a cache
		// (commitHeaders sent Vary: Cookie).
		h.Add("Set-Cookie", w.s.m.expireLegacy(w.s.m.legacyCookie))
		h.Set("Cache-Control", "no-store")
	}
	return nil
}

// WriteHeader commits the session, then sends the status code. 1xx
// informational responses pass through without committing.
func (w *responseWriter) WriteHeader(code int) {
	if w.hijacked {
		return // the connection is no longer an HTTP response
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.wroteHeader {
		if !w.failed {
			w.ResponseWriter.WriteHeader(code) // let net/http log the superfluous call
		}
		return
	}
	w.commit()
	if !w.failed {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the session if needed, then writes the body.
func (w *responseWriter) Write(b []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	_ = w.commit()
	if w.failed {
		return 0, errCommitFailed
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom commits the session, then lets the underlying writer copy
// efficiently (sendfile) when it can.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	_ = w.commit()
	if w.failed {
		return 0, errCommitFailed
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}

// Flush commits the session, then flushes (streaming, Server-Sent Events).
func (w *responseWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush for http.ResponseController, reporting failures.
func (w *responseWriter) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	_ = w.commit()
	if w.failed {
		return errCommitFailed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker for WebSocket libraries. The session is
// committed to the store first, so the connection is handed over only once
// the request's changes are saved; afterwards WriteHeader, Write and Flush
// write nothing, and changes made while the connection lives are saved when
// the handler returns (see Session.Save).
//
// A Set-Cookie can reach the client only in response headers written
// through this wrapper: coder/websocket writes its 101 with WriteHeader, so
// a new session or a new ID (Login, Renew) travels in it. gorilla/websocket
// writes its own 101 on the hijacked connection: when the session holds a
// new ID the browser does not know yet, Hijack refuses with an error
// wrapping ErrHeadersSent, commits nothing, and the upgrade's error response
// carries the cookie instead. Hijack also fails, without hijacking, when the
// commit fails (the error handler has answered; the error wraps the store's),
// and with an error wrapping http.ErrNotSupported when the underlying writer
// cannot hijack (HTTP/2).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("session: hijack: %T: %w", w.ResponseWriter, http.ErrNotSupported)
	}
	if !w.wroteHeader {
		if w.s.needsNewCookie() {
			return nil, nil, fmt.Errorf("session: hijack: the session's new ID needs a Set-Cookie that a hijacked connection cannot carry: %w", ErrHeadersSent)
		}
		if err := w.commit(); err != nil {
			return nil, nil, fmt.Errorf("session: hijack: %w", err)
		}
	}
	if w.failed {
		return nil, nil, fmt.Errorf("session: hijack: %w", errCommitFailed)
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("session: hijack: %w", err)
	}
	w.hijacked = true
	return conn, brw, nil
}

// needsNewCookie reports whether committing now would give the session an ID
// the client does not have yet (a new session that holds something, or one
// renewed by Login or Renew): one only a Set-Cookie header can deliver.
func (s *Session) needsNewCookie() bool {
	s.mu.Lock()
	defer s.unlock()
	if !s.loaded || s.err != nil {
		return false
	}
	if s.key == "" {
		return s.wantsCreate()
	}
	return s.m.carrier.needsSend(s)
}

// Unwrap returns the underlying ResponseWriter for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish runs after the handler returns. If nothing was written yet, it
// commits (a failure becomes the error handler's response), unless the
// response went out through the wrapped writer instead (see
// EventUncommitted). If the headers are gone, changes made since are still
// saved when the ID did not change; a failure then is too late for an error
// response, so it is logged and emitted as EventStoreError with Reason
// "final_commit" (see Session.Save).
func (w *responseWriter) finish() {
	if !w.wroteHeader {
		if w.writtenElsewhere() {
			w.wroteHeader = true
			w.s.uncommitted()
		} else {
			_ = w.commit() // the handler wrote nothing: commit with the headers
		}
	}
	if pending := w.s.finish(); !pending || w.failed {
		return // the common case: nothing changed after the headers
	}
	// The request's context is usually cancelled by now (a stream ends when
	// the client goes away): the save must not be cancelled with it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.req.Context()), finalCommitTimeout)
	defer cancel()
	_ = w.s.commitCtx(ctx, nil, false, "final_commit")
}

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
