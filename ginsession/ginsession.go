// Package ginsession mounts a [session.Manager] in a gin engine.
//
// gin writes responses through its own writer (c.Writer), so the obvious
// adapter, `c.Request = r; c.Next()` inside [session.Manager.Handler], runs
// the handlers but never lets the session commit before the headers go
// out: no cookie is set, every request starts a new session, and a valid
// CSRF token is refused. (The Manager reports that mistake as a
// [session.EventUncommitted] event at ERROR.) [Middleware] is the smallest
// correct adapter: it routes c.Writer through the session's writer, so the
// session commits just before gin writes the headers, streaming and
// WebSocket upgrades included.
//
//	r := gin.New()
//	r.Use(ginsession.Middleware(m))
//	r.POST("/login", func(c *gin.Context) {
//		if err := ginsession.From(c).Login(c.Request.Context(), "alice"); err != nil {
//			c.AbortWithStatus(http.StatusInternalServerError)
//			return
//		}
//		c.Status(http.StatusNoContent)
//	})
//
// CSRF protection: wrap the routes that need it with [CSRF], or mount the
// whole engine inside [session.Manager.CSRF] as any http.Handler.
package ginsession

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/session"
)

// Middleware returns gin middleware that runs the rest of the chain inside
// m's [session.Manager.Handler]: the request carries its session (see
// [From]) and every write through c.Writer commits it first. A request the
// Manager refuses (a cross-origin form post, a blocked client) is answered
// by the Manager and the chain is aborted.
func Middleware(m *session.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Writer
		ran := false
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = true
			c.Request = r
			c.Writer = &writer{ResponseWriter: orig, sw: w}
			c.Next()
		})).ServeHTTP(orig, c.Request)
		c.Writer = orig
		if !ran {
			c.Abort()
		}
	}
}

// CSRF returns gin middleware that applies m's [session.Manager.CSRF] check
// to the rest of the chain: an unsafe-method request without a valid token
// (form field or header) is refused and the chain aborted. Use it after
// [Middleware].
func CSRF(m *session.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		ran := false
		m.CSRF(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			ran = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !ran {
			c.Abort()
		}
	}
}

// From returns the session of the request in c. It is never nil: without
// [Middleware] it is the detached session of [session.FromContext], whose
// methods return errors wrapping [session.ErrNoSession].
func From(c *gin.Context) *session.Session {
	return session.FromContext(c.Request.Context())
}

// writer is gin's writer with every write going through the session's
// writer sw (which writes to gin's writer after committing). gin's
// WriteHeader only records the status, as gin's own writer does; the
// headers go out at the first write, WriteHeaderNow, Flush or Hijack.
type writer struct {
	gin.ResponseWriter
	sw http.ResponseWriter
}

// Header returns the response header through the session's writer.
func (w *writer) Header() http.Header { return w.sw.Header() }

// WriteHeaderNow commits the session, then writes the recorded status.
func (w *writer) WriteHeaderNow() {
	if !w.ResponseWriter.Written() {
		w.sw.WriteHeader(w.ResponseWriter.Status())
	}
	w.ResponseWriter.WriteHeaderNow()
}

// Write commits the session if needed, then writes b.
func (w *writer) Write(b []byte) (int, error) { return w.sw.Write(b) }

// WriteString commits the session if needed, then writes s.
func (w *writer) WriteString(s string) (int, error) { return io.WriteString(w.sw, s) }

// Flush commits the session if needed, then flushes.
func (w *writer) Flush() {
	if f, ok := w.sw.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack commits the session, then hands over the connection (see the
// session package's notes on WebSocket upgrades).
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.sw).Hijack()
}

// Unwrap returns gin's writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
