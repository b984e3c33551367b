package session

import (
	"context"
	"errors"
	"net/http"
	"sync"
)

// Session is one request's view of a session. It loads lazily: a handler that
// never touches it costs no store call. Reads see the stored record plus this
// request's own changes; the middleware commits only the changes (a Delta)
// before the response headers go out. Methods are safe for concurrent use by
// the goroutines of one request. A handler that streams can learn whether a
// change made after the headers went out was kept with Save.
type Session struct {
	m   *Manager
	req *http.Request

	mu     sync.Mutex
	loaded bool
	err    error // load failure, reported by the middleware

	token string  // current token; "" until the session is stored
	key   string  // sid.Key(token)
	rec   *Record // stored record as loaded (or as created); nil if none

	// pend holds this request's changes, sent by commit as they are: only
	// what the request did (values set and deleted, a setting it changed),
	// so a concurrent request never loses them or has an older setting
	// written back. nil until the first change.
	pend *Delta

	hadCookie    bool // the request carried our cookie
	graced       bool // it carried an ID renewed within Config.RotationGrace
	seenEnded    bool // a stored session of this request was seen to end (see Check)
	sendCookie   bool // Set-Cookie with token at commit
	reissue      bool // sendCookie only re-issues the presented token, unwritten since
	reissueGone  bool // a re-issue, renewal, commit or Check found the session renewed (or ended) since the load
	legacyMove   bool // read under the legacy cookie name: renewed under the current one at commit
	expireCookie bool // expire the browser's cookie at commit
	headersSent  bool

	finished bool // the handler returned: nothing more can be saved

	// events collected under mu, emitted by unlock once it is released,
	// so that an OnEvent hook or a log handler may call any method of s.
	events *[]pendingEvent

	// Stateless CSRF nonce issued for this response (csrf_stateless.go); a
	// pointer, so the per-request allocation keeps its size class.
	csrfNonce *string

	// legacy is the legacy cookie to expire at commit (Config.Import).
	legacy *http.Cookie
}

// FromContext returns the session of the request whose context is ctx. It
// never returns nil. Under [Manager.Handler] it is the request's session.
// Outside it (a context that did not come from the middleware, such as
// gin's *gin.Context without ContextWithFallback, or a test that calls a
// handler directly) it is a detached Session: every method that returns an
// error returns one wrapping [ErrNoSession], getters return zero values, and
// nothing is ever stored. Check for it with Session.Err:
//
//	if err := session.FromContext(ctx).Err(); errors.Is(err, session.ErrNoSession) { ... }
//
// Why not nil or a panic: a method called on nil would panic with a bare
// nil-pointer dereference that says nothing about the cause; net/http
// recovers a handler's panic only by dropping the connection, and a panic
// in a goroutine the handler started ends the process. One misrouted
// handler must not do that; an error that says what to do, returned where
// the handler already handles errors, does not.
func FromContext(ctx context.Context) *Session {
	if s := fromContext(ctx); s != nil {
		return s
	}
	return &Session{loaded: true, err: ErrNoSession}
}

// fromContext returns the request's session, or nil outside Manager.Handler.
func fromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// detached reports whether s came from FromContext outside Manager.Handler:
// it has no Manager, and every change fails with ErrNoSession.
func (s *Session) detached() bool { return s.m == nil }

type ctxKey struct{}

// load reads the record named by the request's cookie once. The caller holds
// s.mu. A malformed, unknown, expired or revoked ID is never adopted: the
// session starts fresh and the browser's cookie is expired (but for an ID
// renewed a moment ago, see ended).
func (s *Session) load() {
	if s.loaded {
		return
	}
	s.loaded = true
	s.m.carrier.load(s)
	s.importLegacy() // Config.Import (import.go)
}

// loadNow loads the session if it is not loaded yet, and reports whether
// the request carries an ID another request renewed a moment ago (see
// Config.RotationGrace).
func (s *Session) loadNow() (graced bool) {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	return s.graced
}

// load is Session.load with a server store: the request's token names the
// record.
func (c *storeCarrier) load(s *Session) {
	m := c.m
	p := m.readToken(s.req)
	if !p.present {
		return
	}
	s.hadCookie = true
	ctx := s.req.Context()
	token := p.token
	if p.reason != "" {
		s.reject(token, p.reason, true)
		return
	}
	key := m.key(p)
	rec, err := s.storeLoad(ctx, key)
	if err != nil {
		s.loadFailed(token, key, err)
		return
	}
	now := m.now()
	if kind := m.expiredReason(&rec.Meta, now); kind != "" {
		// Past a deadline the store's TTL has not caught up with (a
		// per-session limit, clock skew): end it here.
		if err := s.storeDelete(ctx, "delete expired", key); err != nil {
			s.err = err
			return
		}
		s.queue(s.event(kind, token, rec.UserID, ""))
		s.expireCookie = true
		return
	}
	s.token, s.key, s.rec = token, key, rec
	s.sendCookie = p.resign // move the client to the primary signing key
	s.reissue = p.resign
	s.legacyMove = p.legacy
	if rec.UserID != "" && m.cfg.Binding != BindNone {
		s.checkBinding(ctx)
	}
}

// loadFailed handles a Load error: a session that ended recently (the store
// kept a Tombstone), an ID the store does not know, or a store failure.
func (s *Session) loadFailed(token, key string, err error) {
	var tomb *Tombstone
	switch {
	case errors.As(err, &tomb):
		s.ended(token, tomb)
	case errors.Is(err, ErrCorrupt):
		s.corrupt(token, key)
	case errors.Is(err, ErrNotFound):
		// Well-formed (and, with SigningKeys, signed by us) but unknown:
		// a session lost to a flush or an expiry past its tombstone as
		// often as a guess, so never counted as brute force.
		s.reject(token, "unknown", false)
	default:
		s.err = err // a failure, wrapped and reported by storeLoad
	}
}

// reasonCorrupt is the Reason of the EventRejected of an ID whose record
// does not decode.
const reasonCorrupt = "corrupt"

// corrupt handles a record the store cannot decode (a codec change, a
// partial write, a hand edit): it is deleted and the ID rejected with reason
// "corrupt", so the browser starts afresh instead of meeting a store error
// on every request until the record's TTL. A delete the corrupt record
// itself defeats is left to the TTL; an outage is reported as one.
func (s *Session) corrupt(token, key string) {
	if err := deleteCorrupt(s.req.Context(), s.m.store, key); err != nil {
		s.err = s.storeErr("delete corrupt", err)
		return
	}
	s.reject(token, reasonCorrupt, false)
}

// ended handles an ID whose session ended recently (its store kept a
// Tombstone): a renewal within the grace period is another tab or an
// in-flight request, answered as anonymous without touching the browser's
// cookie (which may already hold the new ID); anything else is reported for
// what it is, the cookie expired, and nothing counted as brute force.
func (s *Session) ended(token string, t *Tombstone) {
	m := s.m
	switch t.Reason {
	case EndRotated:
		if m.now().Sub(t.At) < m.cfg.RotationGrace {
			s.graced = true
			return
		}
		s.reject(token, "rotated", false)
	case EndExpired:
		s.queue(s.event(m.expiryKind(&t.Meta), token, "", ""))
		s.expireCookie = true
	default:
		s.reject(token, t.Reason, false)
	}
}

// reject records a refused ID: an event, the brute-force count when the ID
// was certainly never issued (guess: malformed, or its signature failed),
// and the browser's cookie expired. The caller holds s.mu.
func (s *Session) reject(token, reason string, guess bool) {
	m := s.m
	s.queue(s.event(EventRejected, token, "", reason))
	if guess && m.bf != nil {
		ip := m.clientIP(s.req)
		if m.bf.reject(ip, m.now()) {
			s.queue(Event{Kind: EventBruteForce, IP: ip, UserAgent: s.req.UserAgent(), Reason: "rejected_ids_over_threshold"})
		}
	}
	s.expireCookie = true
}

// event builds an Event about this request.
func (s *Session) event(kind, token, userID, reason string) Event {
	return Event{
		Kind:      kind,
		Session:   s.m.eventHash(token),
		UserID:    userID,
		IP:        s.m.clientIP(s.req),
		UserAgent: s.req.UserAgent(),
		Reason:    reason,
	}
}

// ready loads the session and reports whether it can take a change that
// needs a Set-Cookie.
func (s *Session) ready() error {
	s.load()
	if s.err != nil {
		return s.err
	}
	if s.headersSent {
		return ErrHeadersSent
	}
	return nil
}

// readyUser is ready for changes that need a logged-in session: ErrNoUser
// otherwise. The caller holds s.mu.
func (s *Session) readyUser() error {
	if err := s.ready(); err != nil {
		return err
	}
	if s.rec == nil || s.rec.UserID == "" {
		return ErrNoUser
	}
	return nil
}

// ensureRecord gives an anonymous, not yet stored session an in-memory record
// so metadata can be set before the first commit creates it.
func (s *Session) ensureRecord() {
	if s.rec == nil {
		now := s.m.now()
		s.rec = &Record{Meta: Meta{CreatedAt: now, LastSeen: now}}
		s.rec.Linger = s.m.linger(&s.rec.Meta)
		s.token, s.key = "", ""
	}
}

// reset forgets the session: what follows is a new anonymous session.
func (s *Session) reset() {
	if s.key != "" {
		s.seenEnded = true
	}
	s.token, s.key, s.rec = "", "", nil
	s.legacyMove = false
	s.clearPending()
}

// clearPending forgets this request's pending changes (they were sent).
func (s *Session) clearPending() { s.pend = nil }

// changes returns this request's pending changes, to add to. The caller
// holds s.mu.
func (s *Session) changes() *Delta {
	if s.pend == nil {
		s.pend = &Delta{}
	}
	return s.pend
}

// finish marks the request as over, so that a change made later (by a
// goroutine that outlived its handler) is refused by Set rather than lost,
// and reports whether changes made since the headers went out are still to
// be saved. One lock for both: it runs on every request.
func (s *Session) finish() (pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = true
	return s.loaded && s.pend != nil && !s.pend.Empty()
}

// renewedElsewhere reports whether the request carries an ID another
// request just renewed (see Config.RotationGrace) and holds no session of
// its own: it must not start one, whose cookie would replace the renewed
// one in the browser. The caller holds s.mu and has loaded s.
func (s *Session) renewedElsewhere() bool { return s.graced && s.rec == nil }

// wantsCreate reports whether committing now would store this not yet
// stored session: it holds a value or a setting. The caller holds s.mu.
func (s *Session) wantsCreate() bool {
	return (s.pend != nil && len(s.pend.Set) > 0) || (s.rec != nil && s.hasSettings())
}

// settable prepares the session for a change of a per-session setting:
// loaded, headers not sent, an in-memory record to change. The caller
// holds s.mu.
func (s *Session) settable() error {
	if err := s.ready(); err != nil {
		return err
	}
	if s.renewedElsewhere() {
		return ErrRotated
	}
	s.ensureRecord()
	return nil
}

// hasSettings reports whether this request changed a per-session setting.
func (s *Session) hasSettings() bool {
	return s.pend != nil && (s.pend.Persist != nil || s.pend.Timeouts != nil)
}

// pending returns this request's pending changes as a Delta.
func (s *Session) pending() Delta {
	if s.pend == nil {
		return Delta{}
	}
	return *s.pend
}
