package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sessionkit/session/internal/jsonfast"
)

var (
	// ErrHeadersSent is returned by changes that need a Set-Cookie (Login,
	// Renew, Destroy, or the first value of a new session) once the response
	// headers have gone out: the browser could no longer learn of them.
	ErrHeadersSent = errors.New("session: response headers already sent")
	// ErrEncode wraps a codec failure in Set: the value was not stored.
	ErrEncode = errors.New("session: cannot encode value")
	// ErrNoUser is returned by Login with an empty user ID and by
	// operations that need an authenticated session.
	ErrNoUser = errors.New("session: no user")
	// ErrRotated is returned by Set and the other changes that would start
	// a new anonymous session, on a request that carries an ID renewed a
	// moment ago by another request (see Config.RotationGrace): its new
	// cookie would overwrite the renewed one in the browser. The request
	// can read nothing but may still Login.
	ErrRotated = errors.New("session: ID renewed by a concurrent request")
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
	key   string  // storeKey(token)
	rec   *Record // stored record as loaded (or as created); nil if none

	// Pending changes of this request, sent by commit. persist and
	// timeouts are set only by the request that changed them, so that a
	// concurrent request never writes back an older setting.
	clear    bool
	set      map[string][]byte
	del      []string
	persist  *bool
	timeouts *Timeouts

	hadCookie    bool // the request carried our cookie
	graced       bool // it carried an ID renewed within Config.RotationGrace
	sendCookie   bool // Set-Cookie with token at commit
	expireCookie bool // expire the browser's cookie at commit
	headersSent  bool

	bindingChanged bool // see Config.Binding

	// events collected under mu, emitted by unlock once it is released,
	// so that an OnEvent hook or a log handler may call any method of s.
	events *[]pendingEvent

	// Stateless CSRF nonce issued for this response (csrf_stateless.go); a
	// pointer, so the per-request allocation keeps its size class.
	csrfNonce *string
}

// FromContext returns the session of the request whose context is ctx. Under
// Manager.Handler it is never nil. Outside it, it returns nil.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

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
	m := s.m
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
	key := storeKey(token)
	rec, err := m.store.Load(ctx, key)
	if err != nil {
		s.loadFailed(token, err)
		return
	}
	now := m.now()
	if kind := m.expiredReason(&rec.Meta, now); kind != "" {
		// Past a deadline the store's TTL has not caught up with (a
		// per-session limit, clock skew): end it here.
		if err := m.store.Delete(ctx, key); err != nil {
			s.err = s.storeErr("delete expired", err)
			return
		}
		s.queue(s.event(kind, token, rec.UserID, ""))
		s.expireCookie = true
		return
	}
	s.token, s.key, s.rec = token, key, rec
	s.sendCookie = p.resign // move the client to the primary signing key
	if rec.UserID != "" && m.cfg.Binding != BindNone {
		s.checkBinding(ctx)
	}
}

// loadFailed handles a Load error: a session that ended recently (the store
// kept a Tombstone), an ID the store does not know, or a store failure.
func (s *Session) loadFailed(token string, err error) {
	var tomb *Tombstone
	switch {
	case errors.As(err, &tomb):
		s.ended(token, tomb)
	case errors.Is(err, ErrNotFound):
		s.reject(token, "unknown", true)
	default:
		s.err = s.storeErr("load", err)
	}
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
// may be a guess, and the browser's cookie expired. The caller holds s.mu.
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

// lookup returns the encoded value of key as this request sees it.
func (s *Session) lookup(key string) ([]byte, bool) {
	s.load()
	if v, ok := s.set[key]; ok {
		return v, true
	}
	if s.clear || s.rec == nil || slices.Contains(s.del, key) {
		return nil, false
	}
	v, ok := s.rec.Values[key]
	return v, ok
}

// decode reads key into dst, reporting whether it was present and decodable.
func (s *Session) decode(key string, dst any) bool {
	s.mu.Lock()
	b, ok := s.lookup(key)
	s.unlock()
	if !ok {
		return false
	}
	return s.m.cfg.Codec.Unmarshal(b, dst) == nil
}

// Get returns the value under key decoded as T, and whether it was present
// and of a compatible type.
func Get[T any](s *Session, key string) (T, bool) {
	var v T
	ok := s.decode(key, &v)
	return v, ok
}

// GetString returns the string under key, or "" when absent.
func (s *Session) GetString(key string) string {
	if b, ok := s.jsonRaw(key); ok {
		if v, ok := jsonfast.PlainString(b); ok {
			return v
		}
	}
	v, _ := Get[string](s, key)
	return v
}

// GetInt returns the int under key, or 0 when absent.
func (s *Session) GetInt(key string) int {
	if b, ok := s.jsonRaw(key); ok {
		if v, ok := jsonfast.PlainInt(b); ok {
			return v
		}
	}
	v, _ := Get[int](s, key)
	return v
}

// jsonRaw returns the encoded value under key when the codec is the default
// JSONCodec, so the typed getters can decode the common shapes without
// encoding/json (which allocates its decoder state and the destination).
func (s *Session) jsonRaw(key string) ([]byte, bool) {
	if _, ok := s.m.cfg.Codec.(JSONCodec); !ok {
		return nil, false
	}
	s.mu.Lock()
	b, ok := s.lookup(key)
	s.unlock()
	return b, ok
}

// GetBool returns the bool under key, or false when absent.
func (s *Session) GetBool(key string) bool { v, _ := Get[bool](s, key); return v }

// GetTime returns the time under key, or the zero time when absent.
func (s *Session) GetTime(key string) time.Time { v, _ := Get[time.Time](s, key); return v }

// Has reports whether key holds a value.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.unlock()
	_, ok := s.lookup(key)
	return ok
}

// Keys returns the keys holding values, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	var keys []string
	if s.rec != nil && !s.clear {
		for k := range s.rec.Values {
			if !slices.Contains(s.del, k) {
				keys = append(keys, k)
			}
		}
	}
	for k := range s.set {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Set stores v under key. It returns an error wrapping ErrEncode when the
// codec cannot encode v (nothing is stored), the load error when the store
// failed, and ErrHeadersSent when the session is new and the response headers
// are gone (its cookie could not reach the browser).
func (s *Session) Set(key string, v any) error {
	b, err := encode(s.m.cfg.Codec, key, v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.unlock()
	return s.setLocked(key, b)
}

// setLocked records an encoded value as a pending change. The caller holds
// s.mu.
func (s *Session) setLocked(key string, b []byte) error {
	s.load()
	if s.err != nil {
		return s.err
	}
	if s.headersSent && s.rec == nil {
		return ErrHeadersSent
	}
	if s.graced && s.rec == nil {
		return ErrRotated
	}
	if s.set == nil {
		s.set = make(map[string][]byte, 4)
	}
	s.set[key] = b
	s.del = slices.DeleteFunc(s.del, func(k string) bool { return k == key })
	return nil
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	delete(s.set, key)
	if !slices.Contains(s.del, key) {
		s.del = append(s.del, key)
	}
}

// Pop returns the string under key and deletes it: the flash-message idiom.
func (s *Session) Pop(key string) string {
	v := s.GetString(key)
	if v != "" {
		s.Delete(key)
	}
	return v
}

// Clear removes every value but keeps the session, its ID and its user.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	s.clear = true
	clear(s.set)
	s.del = s.del[:0]
}

// UserID returns the authenticated user, or "" for an anonymous session.
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.rec == nil {
		return ""
	}
	return s.rec.UserID
}

// IsNew reports whether the session has not been stored yet.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	return s.rec == nil
}

// CreatedAt returns when the session began (its last Login, or its creation
// if anonymous); zero if it is not stored yet.
func (s *Session) CreatedAt() time.Time { return s.meta().CreatedAt }

// AuthenticatedAt returns the time of the last Login or Reauthenticate; zero
// for an anonymous session.
func (s *Session) AuthenticatedAt() time.Time { return s.meta().AuthenticatedAt }

// LastSeen returns the last recorded activity (refreshed at most once per
// Config.TouchInterval).
func (s *Session) LastSeen() time.Time { return s.meta().LastSeen }

func (s *Session) meta() Meta {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.rec == nil {
		return Meta{}
	}
	return s.rec.Meta
}

// Handle returns the public handle of this session as listed by
// Manager.Sessions ("" if it is not stored). It is not a token.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.rec == nil {
		return ""
	}
	return s.key
}

// Err returns the error that prevented the session from loading, if any.
// The middleware already answers such requests with the error handler; Err
// lets a handler stop early.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	return s.err
}

// SetPersist chooses a persistent cookie ("remember me", Max-Age up to the
// session's next deadline) or a browser-session cookie for this session.
// Only this request writes the setting, so a concurrent request cannot put
// the old one back.
func (s *Session) SetPersist(persist bool) error {
	s.mu.Lock()
	defer s.unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if s.graced && s.rec == nil {
		return ErrRotated
	}
	s.ensureRecord()
	if s.rec.Persist != persist {
		s.rec.Persist = persist
		s.persist = &persist
		s.sendCookie = true
	}
	return nil
}

// SetTimeouts gives this session shorter limits than the Manager's (for an
// admin session, say). Zero keeps the Manager's; longer ones are capped at
// the Manager's. Only this request writes them, so a concurrent request
// cannot put the old ones back, and the throttled touch follows a shorter
// idle limit.
func (s *Session) SetTimeouts(idle, absolute time.Duration) error {
	if idle < 0 || absolute < 0 {
		return fmt.Errorf("session: negative timeout")
	}
	s.mu.Lock()
	defer s.unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if s.graced && s.rec == nil {
		return ErrRotated
	}
	s.ensureRecord()
	s.rec.IdleTimeout, s.rec.AbsoluteTimeout = idle, absolute
	s.rec.Linger = s.m.linger(&s.rec.Meta)
	s.timeouts = &Timeouts{Idle: idle, Absolute: absolute, Linger: s.rec.Linger}
	return nil
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
	s.token, s.key, s.rec = "", "", nil
	s.clearPending()
}

// clearPending forgets this request's pending changes (they were sent).
func (s *Session) clearPending() {
	s.clear, s.set, s.del, s.persist, s.timeouts = false, nil, nil, nil, nil
}

// pending returns this request's pending changes as a Delta.
func (s *Session) pending() Delta {
	return Delta{Clear: s.clear, Set: s.set, Delete: s.del, Persist: s.persist, Timeouts: s.timeouts}
}
