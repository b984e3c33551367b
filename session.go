package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
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
)

// Session is one request's view of a session. It loads lazily: a handler that
// never touches it costs no store call. Reads see the stored record plus this
// request's own changes; the middleware commits only the changes (a Delta)
// before the response headers go out. Methods are safe for concurrent use by
// the goroutines of one request.
type Session struct {
	m   *Manager
	req *http.Request

	mu     sync.Mutex
	loaded bool
	err    error // load failure, reported by the middleware

	token string  // current token; "" until the session is stored
	key   string  // storeKey(token)
	rec   *Record // stored record as loaded (or as created); nil if none

	// Pending changes of this request, sent by commit.
	clear   bool
	set     map[string][]byte
	del     []string
	metaSet bool  // rec.Meta changed (persist, timeouts) and must be written
	delta   Delta // commit's scratch delta (a field, so it is no heap local)

	hadCookie    bool // the request carried our cookie
	sendCookie   bool // Set-Cookie with token at commit
	expireCookie bool // expire the browser's cookie at commit
	headersSent  bool

	bindingChanged bool // see Config.Binding

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
// session starts fresh and the browser's cookie is expired.
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
		s.reject(ctx, token, p.reason)
		return
	}
	key := storeKey(token)
	rec, err := m.store.Load(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		s.reject(ctx, token, "unknown")
		return
	case err != nil:
		s.err = m.storeErr(ctx, "load", err)
		return
	}
	now := m.now()
	if kind := m.expiredReason(&rec.Meta, now); kind != "" {
		if err := m.store.Delete(ctx, key); err != nil {
			s.err = m.storeErr(ctx, "delete expired", err)
			return
		}
		m.emit(ctx, s.event(kind, token, rec.UserID, ""))
		s.expireCookie = true
		return
	}
	s.token, s.key, s.rec = token, key, rec
	s.sendCookie = p.resign // move the client to the primary signing key
	if rec.UserID != "" && m.cfg.Binding != BindNone {
		s.checkBinding(ctx)
	}
}

// reject records a refused ID: an event, the brute-force count, and the
// browser's cookie expired.
func (s *Session) reject(ctx context.Context, token, reason string) {
	m := s.m
	m.emit(ctx, s.event(EventRejected, token, "", reason))
	if m.bf != nil {
		ip := m.clientIP(s.req)
		if m.bf.reject(ip, m.now()) {
			m.emit(ctx, Event{Kind: EventBruteForce, IP: ip, UserAgent: s.req.UserAgent(), Reason: "rejected_ids_over_threshold"})
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
	s.mu.Unlock()
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
		if v, ok := jsonPlainString(b); ok {
			return v
		}
	}
	v, _ := Get[string](s, key)
	return v
}

// GetInt returns the int under key, or 0 when absent.
func (s *Session) GetInt(key string) int {
	if b, ok := s.jsonRaw(key); ok {
		if v, ok := jsonPlainInt(b); ok {
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
	s.mu.Unlock()
	return b, ok
}

// GetBool returns the bool under key, or false when absent.
func (s *Session) GetBool(key string) bool { v, _ := Get[bool](s, key); return v }

// GetTime returns the time under key, or the zero time when absent.
func (s *Session) GetTime(key string) time.Time { v, _ := Get[time.Time](s, key); return v }

// Has reports whether key holds a value.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.lookup(key)
	return ok
}

// Keys returns the keys holding values, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	defer s.mu.Unlock()
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
	defer s.mu.Unlock()
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
	defer s.mu.Unlock()
	s.load()
	s.clear = true
	clear(s.set)
	s.del = s.del[:0]
}

// UserID returns the authenticated user, or "" for an anonymous session.
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.rec == nil {
		return ""
	}
	return s.rec.UserID
}

// IsNew reports whether the session has not been stored yet.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
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
	defer s.mu.Unlock()
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
	defer s.mu.Unlock()
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
	defer s.mu.Unlock()
	s.load()
	return s.err
}

// SetPersist chooses a persistent cookie ("remember me", Max-Age up to the
// session's next deadline) or a browser-session cookie for this session.
func (s *Session) SetPersist(persist bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	s.ensureRecord()
	if s.rec.Persist != persist {
		s.rec.Persist = persist
		s.metaSet = true
		s.sendCookie = true
	}
	return nil
}

// SetTimeouts gives this session shorter limits than the Manager's (for an
// admin session, say). Zero keeps the Manager's; longer ones are capped at
// the Manager's.
func (s *Session) SetTimeouts(idle, absolute time.Duration) error {
	if idle < 0 || absolute < 0 {
		return fmt.Errorf("session: negative timeout")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	s.ensureRecord()
	s.rec.IdleTimeout, s.rec.AbsoluteTimeout = idle, absolute
	s.metaSet = true
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
		s.token, s.key = "", ""
	}
}

// Login authenticates the session as userID: it issues a new ID (the old one
// dies at once), binds the user, records the authentication time and the
// device (User-Agent, client IP), keeps the session's values, adds it to the
// user's index and applies Config.MaxSessionsPerUser. Call it after checking
// the user's credentials, before writing the response.
func (s *Session) Login(ctx context.Context, userID string) error {
	if userID == "" {
		return ErrNoUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	m := s.m
	if err := m.enforceCap(ctx, s, userID); err != nil {
		return err
	}
	now := m.now()
	var values map[string][]byte
	if s.rec == nil || s.rec.UserID == "" || s.rec.UserID == userID {
		values = s.mergedValues(ctx)
	} // else: another user's session: their values must not carry over.
	meta := Meta{
		UserID:          userID,
		CreatedAt:       now,
		LastSeen:        now,
		AuthenticatedAt: now,
		UserAgent:       truncate(s.req.UserAgent(), 256),
		IP:              m.clientIP(s.req),
	}
	if s.rec != nil {
		// Keep the per-session settings chosen before login.
		meta.Persist, meta.IdleTimeout, meta.AbsoluteTimeout = s.rec.Persist, s.rec.IdleTimeout, s.rec.AbsoluteTimeout
	}
	if err := s.replace(ctx, &Record{Meta: meta, Values: values}); err != nil {
		return err
	}
	m.emit(ctx, s.event(EventLogin, s.token, userID, ""))
	return nil
}

// Renew issues a new ID for the session, keeping its user and values, and
// kills the old ID at once. Call it on any privilege change. On a session
// that is not stored yet it does nothing (its ID will be fresh anyway). If
// the session was destroyed meanwhile (another tab logged out), Renew returns
// an error wrapping ErrNotFound and the session continues as a new anonymous
// one.
func (s *Session) Renew(ctx context.Context) error {
	return s.renew(ctx, false)
}

// Reauthenticate records that the user just proved their identity again
// (password re-entry before a sensitive action): it renews the ID and sets
// AuthenticatedAt to now. The session must be logged in.
func (s *Session) Reauthenticate(ctx context.Context) error {
	return s.renew(ctx, true)
}

func (s *Session) renew(ctx context.Context, reauth bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if reauth && (s.rec == nil || s.rec.UserID == "") {
		return ErrNoUser
	}
	if s.rec == nil || s.key == "" {
		return nil
	}
	// Start from the current stored record so changes made by concurrent
	// requests are carried over, and a destroyed session is not revived.
	cur, err := s.m.store.Load(ctx, s.key)
	if errors.Is(err, ErrNotFound) {
		s.reset()
		s.expireCookie = true
		return fmt.Errorf("session: renew: %w", err)
	}
	if err != nil {
		return s.m.storeErr(ctx, "renew", err)
	}
	s.applyPending(cur)
	cur.Meta = s.rec.Meta
	if reauth {
		cur.AuthenticatedAt = s.m.now()
	}
	if err := s.replace(ctx, cur); err != nil {
		return err
	}
	reason := ""
	if reauth {
		reason = "reauthenticate"
	}
	s.m.emit(ctx, s.event(EventRenewed, s.token, cur.UserID, reason))
	return nil
}

// Destroy ends the session: the server record is deleted, the cookie expired.
// Values set afterwards start a new anonymous session with a new ID.
func (s *Session) Destroy(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.headersSent {
		return ErrHeadersSent
	}
	if s.key != "" {
		if err := s.m.store.Delete(ctx, s.key); err != nil {
			return s.m.storeErr(ctx, "destroy", err)
		}
		s.m.emit(ctx, s.event(EventDestroyed, s.token, s.rec.UserID, ""))
	}
	s.reset()
	s.err = nil
	s.expireCookie = s.hadCookie || s.sendCookie || s.expireCookie
	s.sendCookie = false
	return nil
}

// reset forgets the session: what follows is a new anonymous session.
func (s *Session) reset() {
	s.token, s.key, s.rec = "", "", nil
	s.clear, s.set, s.del, s.metaSet = false, nil, nil, false
}

// mergedValues returns the values this request sees, starting from the
// freshest stored copy when there is one. The caller holds s.mu.
func (s *Session) mergedValues(ctx context.Context) map[string][]byte {
	base := &Record{}
	if s.key != "" {
		if cur, err := s.m.store.Load(ctx, s.key); err == nil {
			base = cur
		} else if s.rec != nil {
			base = s.rec.Clone()
		}
	}
	s.applyPending(base)
	return base.Values
}

// applyPending merges this request's pending value changes into r.
func (s *Session) applyPending(r *Record) {
	d := Delta{Clear: s.clear, Set: s.set, Delete: s.del}
	d.Apply(r)
}

// replace stores r under a new ID, deletes the old record and arranges for
// the new cookie. The caller holds s.mu.
func (s *Session) replace(ctx context.Context, r *Record) error {
	m := s.m
	r.Expires = m.expiry(&r.Meta)
	delete(r.Values, csrfSessionKey) // a new ID gets a new CSRF token
	token := newToken()
	key := storeKey(token)
	if err := m.store.Create(ctx, key, r); err != nil {
		return m.storeErr(ctx, "create", err)
	}
	if s.key != "" {
		if err := m.store.Delete(ctx, s.key); err != nil {
			// The new record exists but the old ID is still alive: undo
			// and fail rather than leave two live IDs.
			_ = m.store.Delete(context.WithoutCancel(ctx), key)
			return m.storeErr(ctx, "delete old id", err)
		}
	}
	s.token, s.key, s.rec = token, key, r
	s.clear, s.set, s.del, s.metaSet = false, nil, nil, false
	s.sendCookie, s.expireCookie = true, false
	return nil
}

// truncate bounds untrusted strings kept in records.
func truncate(v string, n int) string {
	if len(v) > n {
		return v[:n]
	}
	return v
}
