package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/session/internal/clientstr"
)

// Events of [Config.Import].
const (
	// EventImported reports a legacy session adopted by [Config.Import]:
	// its user was logged in under a new ID of ours (Event.Session is the
	// new session's hash). Reason lists the values that could not be
	// adopted ("dropped:cart,theme"), if any.
	EventImported = "session.imported"
	// EventImportFailed reports an [Importer] error or panic, or a legacy
	// session that could not be logged in (Reason "importer_error",
	// "importer_panic" or "login_failed"; the detail is in the log line
	// only). The request goes on with a new anonymous session.
	EventImportFailed = "session.import_failed"
)

// Importer adopts a session of the system this library replaces (scs,
// gorilla/sessions, express-session behind a proxy, ...), so that switching
// logs nobody out. It is [Config.Import]; package
// github.com/sessionkit/session/migrate has importers for scs and
// gorilla/sessions.
//
// The Manager calls it at most once per request, when the request's session
// is first used and only if the request carries no live session of ours (no
// cookie of ours, or one that was refused, expired or ended), never after
// the response headers went out and never on a request carrying an ID
// renewed a moment ago by another request (see Config.RotationGrace). It
// runs under the request's session lock: it must not use the request's
// [Session].
//
// It returns:
//
//   - a zero Imported and nil when the request carries no legacy cookie:
//     nothing happens;
//   - Imported.Legacy set and no user or values when it carries one whose
//     session is gone (expired, already adopted): the legacy cookie is
//     expired;
//   - Imported.Legacy with UserID and/or Values: the session is adopted.
//
// Import must consume the legacy session: return it at most once, across
// concurrent requests and across the application's instances, deleting it
// before it returns or atomically with reading it (Redis GETDEL, a DELETE
// ... RETURNING). That is what stops two requests carrying the same legacy
// cookie from both adopting it: the Manager cannot see the legacy store.
//
// An error (or a panic) means "nothing imported": the request goes on as a
// new anonymous session, an [EventImportFailed] is emitted, and the legacy
// cookie in Imported.Legacy, if set, is still expired. Set Legacy together
// with an error only when trying again cannot help (a cookie that does not
// decode); leave it nil for a transient failure (the legacy store down), so
// that a later request can still adopt the session.
type Importer func(ctx context.Context, r *http.Request) (Imported, error)

// Imported is what an [Importer] found for one request.
//
// The adopted session is a Login: its ID is new (the legacy ID is never
// reused and the request cannot choose it), UserID is bound with the
// authentication time and device of this request, the user's index and
// [Config.MaxSessionsPerUser] apply, and the values are encoded with
// [Config.Codec] and checked as [Session.Set] checks them (a value that
// cannot be encoded or that does not fit a sealed cookie is dropped and
// named in the event). With no UserID, the values start a new anonymous
// session.
type Imported struct {
	// Legacy is the legacy session's cookie as the legacy system set it:
	// Name, Path and Domain (and Secure, SameSite) as configured there, since
	// a browser overwrites a cookie only with the same name, path and
	// domain. The Manager expires it in the response. nil: the request
	// carried none, and the rest of Imported is ignored.
	Legacy *http.Cookie
	// UserID is the legacy session's authenticated user; "" for an
	// anonymous one.
	UserID string
	// Values are the legacy session's values to keep, by key.
	Values map[string]any
	// Remember makes the adopted login a remembered one (see [Remember]).
	Remember bool
}

// importLegacy runs Config.Import for a request that has no session of
// ours and adopts what it returns. The caller holds s.mu and has just
// loaded s.
func (s *Session) importLegacy() {
	m := s.m
	if m.cfg.Import == nil || s.err != nil || s.rec != nil || s.graced || s.headersSent || s.finished {
		return
	}
	ctx := s.req.Context()
	imp, err := callImporter(ctx, m.cfg.Import, s.req)
	s.legacy = imp.Legacy
	if err != nil {
		reason := "importer_error"
		if errors.Is(err, errImporterPanic) {
			reason = "importer_panic"
		}
		s.queueEvent(pendingEvent{e: s.event(EventImportFailed, "", "", reason), detail: err.Error()})
		return
	}
	if imp.Legacy == nil || (imp.UserID == "" && len(imp.Values) == 0) {
		return
	}
	dropped := s.importValues(imp.Values)
	if imp.UserID != "" {
		if err := s.login(ctx, imp.UserID, loginOptions{remember: imp.Remember}); err != nil {
			s.clearPending()
			s.queueEvent(pendingEvent{e: s.event(EventImportFailed, "", imp.UserID, "login_failed"), detail: err.Error()})
			return
		}
	}
	reason := ""
	if len(dropped) > 0 {
		reason = "dropped:" + strings.Join(dropped, ",")
	}
	// A logged-in import is stored by now; an anonymous one is created at
	// commit (EventCreated then names its session).
	s.queue(s.event(EventImported, s.token, imp.UserID, reason))
}

// importValues sets the imported values as pending changes, as Set would,
// and returns the sorted keys of those it could not take. The caller holds
// s.mu.
func (s *Session) importValues(values map[string]any) (dropped []string) {
	for k, v := range values {
		b, err := encode(s.m.cfg.Codec, k, v)
		if err == nil {
			err = s.setLocked(k, b)
		}
		if err != nil {
			dropped = append(dropped, k)
		}
	}
	slices.Sort(dropped)
	return dropped
}

// errImporterPanic wraps a panic of an Importer.
var errImporterPanic = errors.New("session: importer panicked")

// callImporter calls imp, turning a panic into an error: a legacy cookie
// that crashes a decoder must not answer 500 on every request that carries
// it.
func callImporter(ctx context.Context, imp Importer, r *http.Request) (res Imported, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = Imported{}, fmt.Errorf("%w: %v", errImporterPanic, p)
		}
	}()
	return imp(ctx, r)
}

// commitLegacyCookie expires the legacy cookie an Importer reported, once,
// and reports whether it wrote a Set-Cookie.
func (s *Session) commitLegacyCookie(h http.Header) bool {
	c := s.legacy
	if c == nil {
		return false
	}
	s.legacy = nil
	if !validCookieName(c.Name) {
		s.m.logger.LogAttrs(s.req.Context(), slog.LevelWarn, "session: importer returned an invalid legacy cookie name", slog.String("name", clientstr.Clean(c.Name)))
		return false
	}
	exp := http.Cookie{
		Name: c.Name, Path: c.Path, Domain: c.Domain,
		Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite, Partitioned: c.Partitioned,
		MaxAge: -1, Expires: time.Unix(0, 0),
	}
	if exp.Path == "" {
		exp.Path = "/"
	}
	h.Add("Set-Cookie", exp.String())
	return true
}
