package dbsc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionkit/session"
)

// Header names of the protocol, as the W3C draft (webappsec-dbsc) and
// Chromium 156 spell them.
const (
	headerRegistration = "Secure-Session-Registration"
	headerChallenge    = "Secure-Session-Challenge"
	headerResponse     = "Secure-Session-Response"
	headerSessionID    = "Sec-Secure-Session-Id"
)

// valueKey is the session value holding the binding, pendingKey the one
// holding the secret of an offered registration, activeKey the time of the
// session's last request that was not a refresh (kept apart from the
// binding, so a write of one never puts back an old copy of the other).
// Application code must not write them.
const (
	valueKey   = "dbsc.binding"
	pendingKey = "dbsc.pending"
	activeKey  = "dbsc.active" // the last request other than a refresh
)

// registrationTTL is how long a registration challenge stays valid: the
// browser registers right after the login response.
const registrationTTL = 5 * time.Minute

// registrationGrace is how long after a registration a request of the
// session may still come without the bound cookie: requests the browser
// sent before the registration response set it.
const registrationGrace = 10 * time.Second

// binding is a session's DBSC state, kept in the session's values so that
// it moves with the session through ID renewals and ends with it (logout,
// revocation, expiry).
type binding struct {
	// ID is the DBSC session identifier the browser sends back in
	// Sec-Secure-Session-Id.
	ID string
	// Key is the public JWK the browser registered (JSON).
	Key string
	// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url.
	Thumbprint string
	// Secret keys the MACs of this binding's challenges and bound cookies.
	Secret []byte
	// Seq counts refreshes: a refresh challenge is valid for one Seq only,
	// so each challenge is used at most once.
	Seq uint64
	// BoundAt and RefreshedAt are the registration and the last refresh.
	BoundAt     time.Time
	RefreshedAt time.Time
}

// Binder binds the sessions of a [session.Manager] to the browser's device
// with DBSC. Build it with [New]; it is safe for concurrent use.
type Binder struct {
	m    *session.Manager
	cfg  Config
	key  []byte
	now  func() time.Time
	log  *slog.Logger
	used usedChallenges
}

// New returns a Binder for the sessions of m. It returns an error wrapping
// [session.ErrInvalidConfig] for a nil Manager, a Manager whose store is a
// [session.CookieStore] (the binding must live on the server), or an
// invalid Config.
func New(m *session.Manager, cfg Config) (*Binder, error) {
	if m == nil {
		return nil, invalid("nil Manager")
	}
	if _, ok := m.Store().(*session.CookieStore); ok {
		// The binding's state (the refresh counter that makes challenges
		// single use) would travel in the cookie, and an old cookie would
		// bring an old state back.
		return nil, invalid("a CookieStore keeps the session in the cookie: DBSC needs a server store")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Binder{m: m, cfg: c, key: c.Key, now: c.Clock, log: c.Logger,
		used: usedChallenges{m: map[string]time.Time{}}}, nil
}

// Handler is the Manager's middleware ([session.Manager.Handler]) with DBSC
// inside it: use it in place of m.Handler, not within it.
//
//	http.ListenAndServe(addr, b.Handler(mux))
//
// It serves the registration and refresh endpoints and guards every other
// request: one of a bound session must carry a valid bound cookie, or
// [Config.OnFailure] applies. A request that carries a session cookie loads
// its session (one store round trip) before next runs, to learn whether it
// is bound; a bound session's request also records its activity (see
// [Config.IdleTimeout]) with a small write at most once per twentieth of
// the idle timeout.
//
// The browser sends its registration and refresh POSTs in the context of the
// request that triggered them, which may come from another site (a login
// callback posted by an identity provider, a link followed from a mail). The
// Manager's cross-origin refusal would answer them 403, so Handler lets
// through those that carry the protocol's headers: Sec-Secure-Session-Id,
// which no page can set (a forbidden "Sec-" header), and
// Secure-Session-Response, which a page on another site cannot send without
// a CORS preflight that these endpoints never grant. Every other request,
// the endpoints' paths included, meets the refusal as before.
func (b *Binder) Handler(next http.Handler) http.Handler {
	inner := b.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case b.cfg.RegistrationPath:
			b.register(w, r)
		case b.cfg.RefreshPath:
			b.refresh(w, r)
		default:
			if b.guard(w, r) {
				next.ServeHTTP(w, r)
			}
		}
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.protocolRequest(r) {
			r = r.Clone(r.Context())
			r.Header.Del("Origin")
			r.Header.Del("Sec-Fetch-Site")
		}
		inner.ServeHTTP(w, r)
	})
}

// protocolRequest reports whether r is a browser's DBSC POST: to the
// refresh endpoint with Sec-Secure-Session-Id, or to the registration
// endpoint with Secure-Session-Response.
func (b *Binder) protocolRequest(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch r.URL.Path {
	case b.cfg.RefreshPath:
		return r.Header.Get(headerSessionID) != ""
	case b.cfg.RegistrationPath:
		return r.Header.Get(headerResponse) != ""
	}
	return false
}

// guard reports whether the request may go on to the application.
func (b *Binder) guard(w http.ResponseWriter, r *http.Request) bool {
	s := session.FromContext(r.Context())
	bd, ok := session.Get[binding](s, valueKey)
	if !ok {
		return true
	}
	if b.cookieValid(r, bd) || b.now().Before(bd.BoundAt.Add(registrationGrace)) {
		b.markActive(s)
		return true
	}
	if laxWithheld(r) {
		// The browser never sends the (SameSite=Lax) bound cookie with
		// this request, while a SameSite=None session cookie comes: any
		// site can cause one (an image), so it is no sign of theft.
		// Refused, the session kept.
		b.cfg.OnRefused.ServeHTTP(w, r)
		return false
	}
	if !b.end(w, r, s, "no_bound_cookie") {
		return false
	}
	if b.cfg.OnFailure == Demote {
		return true
	}
	b.cfg.OnRefused.ServeHTTP(w, r)
	return false
}

// laxWithheld reports whether r is a request that carries no SameSite=Lax
// cookie: a cross-site one other than a top-level navigation with a safe
// method (Fetch Metadata). A forged header only gets the request refused.
func laxWithheld(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") != "cross-site" {
		return false
	}
	topLevel := r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document"
	return !topLevel || (r.Method != http.MethodGet && r.Method != http.MethodHead)
}

// markActive records the request as the session's activity, at most once
// per twentieth of the idle timeout (the session's default touch rate): one
// small value write, joined to the request's commit.
func (b *Binder) markActive(s *session.Session) {
	now := b.now()
	if last, _ := session.Get[time.Time](s, activeKey); now.Sub(last) >= b.cfg.IdleTimeout/20 {
		// A failed Set (the session did not load, or another request just
		// renewed its ID) leaves the activity to the next request.
		_ = s.Set(activeKey, now.UTC())
	}
}

// idle reports whether the session saw no request but refreshes for the
// idle timeout.
func (b *Binder) idle(s *session.Session) bool {
	last, ok := session.Get[time.Time](s, activeKey)
	return ok && !b.now().Before(last.Add(b.cfg.IdleTimeout))
}

// end ends the session of a failed or stopped proof and logs why. It
// reports false when the end failed (the response is then an error).
func (b *Binder) end(w http.ResponseWriter, r *http.Request, s *session.Session, reason string) bool {
	user := s.UserID()
	if err := s.Destroy(r.Context()); err != nil {
		b.log.LogAttrs(r.Context(), slog.LevelError, "dbsc.end_failed",
			slog.String("user_id", user), slog.String("reason", reason), slog.String("error", err.Error()))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return false
	}
	b.log.LogAttrs(r.Context(), slog.LevelWarn, "dbsc.session_ended",
		slog.String("user_id", user), slog.String("reason", reason))
	return true
}

// Offer asks the browser to bind the session of r to a new key: call it
// right after [session.Session.Login] (or Reauthenticate) succeeds, before
// writing the response. It adds the Secure-Session-Registration header with
// a challenge valid for five minutes, single use, and tied to this session
// by a secret stored in it (so it is saved with the Login).
// A browser without DBSC ignores it; its session stays unbound.
//
// It returns an error wrapping [session.ErrNoUser] when the session is not
// logged in, or the session's load error.
//
// Why a call and not automatic: the middleware would have to load every
// session before the handler runs and compare it after, and could not tell
// a login from a renewal; the application knows when it logged someone in.
func (b *Binder) Offer(w http.ResponseWriter, r *http.Request) error {
	s := session.FromContext(r.Context())
	if err := s.Err(); err != nil {
		return err
	}
	if s.UserID() == "" {
		return fmt.Errorf("dbsc: offer: %w", session.ErrNoUser)
	}
	bd, _ := session.Get[binding](s, valueKey)
	secret := newSecret()
	if err := s.Set(pendingKey, secret); err != nil {
		return err
	}
	ch := b.seal(secret, kindRegister, registrationTTL, bd.ID)
	w.Header().Add(headerRegistration,
		fmt.Sprintf("(ES256);path=%s;challenge=%s", quote(b.cfg.RegistrationPath), quote(ch)))
	return nil
}

// Bound reports whether the session of ctx (a request context under the
// Manager's middleware) is bound to a device key.
func Bound(ctx context.Context) bool {
	_, ok := session.Get[binding](session.FromContext(ctx), valueKey)
	return ok
}

// refreshContext ties a refresh challenge to one refresh of one binding.
func refreshContext(bd binding) string { return fmt.Sprintf("%s|%d", bd.ID, bd.Seq) }
