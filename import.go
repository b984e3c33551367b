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
		if err := s.login(ctx, imp.UserID, loginOptions{remember: imp.Remember, imported: true, authAt: imp.AuthenticatedAt}); err != nil {
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
