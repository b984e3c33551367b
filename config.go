package session

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sessionkit/session/internal/signing"
)

// The default timeouts: OWASP's guidance for applications of ordinary risk.
const (
	defaultIdleTimeout     = 30 * time.Minute
	defaultAbsoluteTimeout = 8 * time.Hour
)

// defaultCSRFMaxFormBytes is the default of [Config.CSRFMaxFormBytes]: room
// for a login or settings form, far from a memory-exhausting upload.
const defaultCSRFMaxFormBytes = 64 << 10

// Config configures a Manager. The zero value is safe: in-memory store, idle
// timeout 30m, absolute timeout 8h, a __Host-Http-sid cookie that is Secure,
// HttpOnly, SameSite=Lax, Path=/, and cross-origin unsafe requests refused.
type Config struct {
	// Store keeps the session records. Nil means a new in-memory store,
	// which the Manager closes in Close.
	Store Store
	// IdleTimeout ends a session not used for this long. Default 30m.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login (or creation),
	// however active. Default 8h. Must not be shorter than IdleTimeout.
	AbsoluteTimeout time.Duration
	// TouchInterval throttles the idle-deadline refresh: a request writes
	// the new last-seen time only when the previous one is at least this
	// old, so read-only requests do not write to the store. Default
	// IdleTimeout/20 (90s for 30m). Must be shorter than IdleTimeout.
	TouchInterval time.Duration
	// RotationGrace is how long after a renewal (Login, Renew) a request
	// still carrying the old ID (another tab, an in-flight fetch) is
	// answered as anonymous without expiring the browser's cookie, which
	// may already hold the new ID, and without counting toward the
	// brute-force signal. The old ID is never mapped to the new session.
	// Default 60s; negative disables the grace.
	RotationGrace time.Duration
	// Cookie sets the cookie attributes; the zero value is the safe default.
	Cookie CookieConfig
	// Remember is the policy of sessions logged in with [Remember] ("remember
	// me"). Default: 7 days idle, 30 days absolute, a new ID daily.
	Remember RememberConfig
	// Codec encodes values. Default: encoding/json.
	Codec Codec
	// Logger receives security events and store errors. Default
	// slog.Default().
	Logger *slog.Logger
	// TombstonePeriod is how long, at least, a store remembers a
	// logged-in session after it ended (expired, renewed, revoked), so
	// that its user coming back is told "expired" rather than "unknown".
	// Anonymous sessions are remembered for their idle timeout only.
	// Every store in this module keeps tombstones for the period given;
	// Redis and Memcached may evict them earlier under memory pressure.
	// Default 72 hours (a user back from a weekend); negative is an error.
	TombstonePeriod time.Duration
	// EventLevels overrides the slog level of event kinds (keys are the
	// Event* constants, such as [EventCreated]); a kind not listed keeps
	// its default: [EventCreated] DEBUG; login, logout, renewal, expiry,
	// revocation, eviction and import INFO; rejected IDs, CSRF and
	// cross-origin refusals, binding changes, [EventBruteForce], refresh
	// reuse and refused logins or imports WARN; [EventStoreError] and
	// [EventCapacity] ERROR. [New] refuses an unknown kind. The level only
	// filters the log line: OnEvent receives every event.
	EventLevels map[string]slog.Level
	// OnEvent, if set, is called for every security event (for metrics).
	// It must be fast and safe for concurrent use.
	OnEvent func(ctx context.Context, e Event)
	// EventKey keys the hash that identifies sessions in events. Managers
	// sharing a key log the same hash for the same session. Default: random
	// per Manager.
	EventKey []byte
	// ErrorHandler writes the response when the store fails. It must not
	// reveal err to the client. Default: 500 with a generic body.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// TrustedOrigins are origins ("https://app.example.com") allowed to send
	// unsafe-method requests cross-origin.
	TrustedOrigins []string
	// DisableCrossOriginProtection turns off the default refusal of
	// cross-origin unsafe-method requests. Only for deployments that must
	// accept cross-origin writes and defend against CSRF otherwise.
	DisableCrossOriginProtection bool
	// CallbackPaths are the exact paths ("/auth/callback") of federated
	// login callbacks that an identity provider reaches with a cross-site
	// POST (OIDC response_mode=form_post, Sign in with Apple). Such a POST
	// to exactly one of them, which the cross-origin refusal would stop,
	// is answered with a page that posts the same form again from the
	// site's own origin, so the callback handler runs same-origin with the
	// session (and the state, nonce and PKCE verifier kept in it); the
	// handler must check the state against the session and use it once.
	// POSTs to these paths are also exempt from [Manager.CSRF]'s token
	// check (the state is their CSRF defence). Every other path, and any
	// other method, is refused as before. Patterns, wildcards, queries and
	// trailing slashes are errors.
	CallbackPaths []string
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header is believed when recording a client IP. Empty:
	// the client IP is RemoteAddr; forwarded headers are ignored.
	TrustedProxies []netip.Prefix
	// MaxSessionsPerUser caps the concurrent sessions of one user (0: no
	// cap). Requires a store implementing UserIndex.
	MaxSessionsPerUser int
	// RefuseOverLimit makes a login past the cap fail with
	// [ErrTooManySessions]. By default the login succeeds and ends the
	// user's least recently used session instead.
	RefuseOverLimit bool
	// SigningKeys, when set, sign every issued ID with HMAC-SHA256 under
	// the first key and accept IDs signed by any of them, so keys rotate
	// without logging anybody out: put the new key first, keep the old one
	// until the longest session has ended, then drop it. A forged or unsigned
	// ID is refused without a store round trip. Each key must be at least 32
	// random bytes. Optional: IDs are already 256 random bits.
	SigningKeys [][]byte
	// TokenHeader switches the transport from the cookie to a request
	// header, for API and mobile clients: "Authorization" reads a Bearer
	// token, any other name (Spring Session's "X-Auth-Token") reads the raw
	// value. New tokens are sent back in the same header (X-Auth-Token for
	// Authorization); an ended session gets it empty. The ID is never read
	// from a URL or query string, in either mode.
	TokenHeader string
	// Binding chooses what happens when a logged-in session is used from a
	// different User-Agent or IP prefix (/24 for IPv4, /64 for IPv6) than at
	// login. Default BindNone.
	Binding BindingPolicy
	// BruteForce configures the signal raised when one client IP presents
	// many session IDs that were never issued. On by default (events
	// only).
	BruteForce BruteForceConfig
	// CSRFMaxFormBytes bounds the request body [Manager.CSRF] reads when it
	// looks for the [CSRFField] form field (requests that send the
	// [CSRFHeader] header are not read at all). The field must lie within
	// the first CSRFMaxFormBytes bytes of a URL-encoded or multipart body;
	// a longer body without it there is answered 413 Request Entity Too
	// Large without reading further. The handler still reads the whole
	// body. Default 64 KiB; negative is an error.
	CSRFMaxFormBytes int64
	// Import, if set, adopts a session of the system this library
	// replaces (scs, gorilla/sessions, ...) on a request that carries no
	// session of ours but a legacy cookie: its user is logged in under a
	// new ID, its values kept, the legacy record consumed and its cookie
	// expired, so switching logs nobody out. See [Importer].
	Import Importer
	// Clock returns the current time. Default time.Now. A [MemoryStore]
	// the Manager uses (its own, or one given as Store) runs on the same
	// clock, so a test that moves it moves the store's expiry too. Other
	// stores keep their own clock (Redis expires keys on the server's).
	Clock func() time.Time
}

// BruteForceConfig configures the brute-force signal: session IDs that were
// never issued are counted per client IP in a sliding window; past
// Threshold an EventBruteForce is emitted and, with Block, that IP is
// answered 429 before any store lookup until its count falls back.
//
// Only what an attacker produces counts. With [Config.SigningKeys] a
// forged ID fails its MAC: certain, and counted. Without them a
// well-formed ID the store does not know is ambiguous (a guess, or a
// session lost to a store flush or forgotten past its tombstone), so only
// malformed IDs count: guessing well-formed IDs goes unsignalled, which is
// a reason to set SigningKeys. A store outage, a flushed store, an expired
// session or a tombstone (a renewed, revoked or logged-out ID) never counts.
type BruteForceConfig struct {
	// Threshold of rejected IDs per IP within Window. Default 20; negative
	// disables the signal.
	Threshold int
	// Window of the count. Default one minute.
	Window time.Duration
	// MaxTracked bounds the number of IPs tracked, so an attack from many
	// addresses cannot exhaust memory. Default 65536.
	MaxTracked int
	// Block answers 429 Too Many Requests to an IP over the threshold.
	Block bool
}

// CookieConfig holds the cookie attributes. The zero value is the safe
// default: name __Host-Http-sid, Secure, HttpOnly, SameSite=Lax, Path=/, no
// Domain, a session (browser-lifetime) cookie.
type CookieConfig struct {
	// Name of the cookie. Default "__Host-Http-sid" ("sid" with
	// AllowInsecure). The __Host- prefix makes the browser refuse the
	// cookie unless it is Secure, host-only and Path=/, which stops
	// subdomains from planting or overwriting it; the __Host-Http- prefix
	// (RFC 6265bis) also makes it refuse one that is not HttpOnly, so no
	// script (document.cookie, CookieStore) can set or overwrite it at all.
	// A browser that predates __Host-Http- still applies __Host-.
	//
	// Releases before it named the default cookie "__Host-sid": with the
	// default name, a request that presents only "__Host-sid" is read as
	// before (a CookieStore's sealed cookie is opened for the name it was
	// sealed for), and its response moves the session to the new name, with
	// a new ID, and expires the old cookie, so nobody is logged out. A
	// session issued under the new name is keyed apart and is not read under
	// the old one, so a script cannot plant it there (see MIGRATING.md).
	// That is for Name left empty: a name set explicitly, "__Host-Http-sid"
	// included (0.1.0 accepted it), is unchanged, keyed as before, and no
	// other name is read.
	Name string
	// Domain widens the cookie to subdomains. Leave it empty (host-only)
	// unless you need it; it cannot be combined with a __Host- name.
	Domain string
	// Path of the cookie. Default "/"; a __Host- name requires "/".
	Path string
	// SameSite mode. Default (zero or http.SameSiteDefaultMode) is Lax; it is
	// never left unset. http.SameSiteNoneMode requires Secure.
	SameSite http.SameSite
	// AllowInsecure drops the Secure attribute, for local development over
	// plain HTTP only. The default name then becomes "sid".
	AllowInsecure bool
	// DisableHTTPOnly exists so the choice is explicit: New rejects it. A
	// session cookie readable by scripts turns any XSS into session theft.
	DisableHTTPOnly bool
	// Partitioned adds the Partitioned attribute (CHIPS), for sessions used
	// inside third-party iframes. It requires Secure and SameSite=None (a
	// cross-site iframe never sends a Lax or Strict cookie, partitioned or
	// not).
	Partitioned bool
	// Persist makes every session cookie persistent (Max-Age up to the
	// session's next deadline) instead of ending with the browser. Use
	// Session.SetPersist for a per-session "remember me".
	Persist bool
}

// cookieDefaults fills zero fields with the safe defaults.
func (c CookieConfig) withDefaults() CookieConfig {
	if c.Name == "" {
		c.Name = defaultCookieName
		if c.AllowInsecure {
			c.Name = "sid"
		}
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = http.SameSiteLaxMode
	}
	return c
}

// RememberConfig is the policy of remembered sessions, chosen per login with
// [Remember]. The zero value: 7 days idle, 30 days absolute, a new ID every
// day. Its limits may not be shorter than the Manager's normal ones.
type RememberConfig struct {
	// IdleTimeout ends a remembered session not used for this long.
	// Default 7 days.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a remembered session this long after the login,
	// however active. Default 30 days.
	AbsoluteTimeout time.Duration
	// RenewEvery gives a remembered session a new ID on the first page
	// navigation (a GET the browser marks Sec-Fetch-Mode: navigate, or one
	// without Fetch Metadata; not a speculative prefetch, which the browser
	// may discard) after each period since the login, so a
	// cookie copied once does not work for a month. Default 1 day; at most
	// IdleTimeout.
	RenewEvery time.Duration
}

// validate fills the defaults and checks the policy against the Manager's
// normal limits.
func (r *RememberConfig) validate(idle, abs time.Duration) error {
	if r.IdleTimeout == 0 {
		r.IdleTimeout = max(defaultRememberIdle, idle)
	}
	if r.AbsoluteTimeout == 0 {
		r.AbsoluteTimeout = max(defaultRememberAbsolute, abs)
	}
	if r.RenewEvery == 0 {
		r.RenewEvery = min(defaultRememberRenew, r.IdleTimeout)
	}
	switch {
	case r.IdleTimeout < idle || r.AbsoluteTimeout < abs:
		return fmt.Errorf("%w: Remember limits (%v idle, %v absolute) shorter than the normal ones (%v, %v)",
			ErrInvalidConfig, r.IdleTimeout, r.AbsoluteTimeout, idle, abs)
	case r.AbsoluteTimeout < r.IdleTimeout:
		return fmt.Errorf("%w: Remember absolute timeout %v shorter than its idle timeout %v", ErrInvalidConfig, r.AbsoluteTimeout, r.IdleTimeout)
	case r.RenewEvery < 0 || r.RenewEvery > r.IdleTimeout:
		return fmt.Errorf("%w: Remember.RenewEvery %v must be positive and at most its idle timeout %v", ErrInvalidConfig, r.RenewEvery, r.IdleTimeout)
	}
	return nil
}

// BindingPolicy says what a Manager does when a logged-in session shows up
// with another User-Agent or from another network than at login.
type BindingPolicy int

const (
	// BindNone ignores device changes (the default: mobile clients change
	// networks all the time).
	BindNone BindingPolicy = iota
	// BindLog emits an EventBindingChanged and carries on.
	BindLog
	// BindReauth emits the event and treats the session as not recently
	// authenticated: AuthenticatedAt reads as zero for the request, so
	// RequireRecentAuth sends the user to re-enter their password.
	BindReauth
	// BindDestroy emits the event and ends the session: the request
	// continues as a new anonymous one.
	BindDestroy
)

// csrfCookieName returns the name of the nonce cookie for c (with defaults
// filled).
func csrfCookieName(c *CookieConfig) string {
	if c.AllowInsecure {
		return csrfCookieInsecure
	}
	return csrfCookieSecure
}

// minSigningKey is the shortest signing key New accepts: 256 bits.
const minSigningKey = signing.MinKeyLen

// Defaults of [RememberConfig].
const (
	defaultRememberIdle     = 7 * 24 * time.Hour
	defaultRememberAbsolute = 30 * 24 * time.Hour
	defaultRememberRenew    = 24 * time.Hour
)

// The session cookie's default name, and the one releases before
// __Host-Http- used (read as a fallback: see CookieConfig.Name).
const (
	defaultCookieName = "__Host-Http-sid"
	legacyCookieName  = "__Host-sid"
)

// The CSRF nonce cookie's names (csrf_stateless.go).
const (
	// csrfCookieSecure is the nonce cookie's name. The __Host- prefix makes
	// browsers refuse it unless it is Secure, host-only and Path=/, so a
	// sibling subdomain cannot plant one; the Http- part, unless it is
	// HttpOnly, so no script can. It can carry that part because no page
	// ever reads it: the token a page sends back comes from CSRFToken in
	// the page, never from this cookie (a double-submit cookie that
	// scripts read could not be HttpOnly, hence not __Host-Http-).
	csrfCookieSecure = "__Host-Http-csrf"
	// legacyCSRFCookie is its name in releases before __Host-Http-, still
	// read (a form rendered before an upgrade).
	legacyCSRFCookie = "__Host-csrf"
	// csrfCookieInsecure is its name with CookieConfig.AllowInsecure.
	csrfCookieInsecure = "csrf"
)

// validate fills defaults and rejects unsafe or contradictory settings, one
// group of settings at a time.
func (c *Config) validate() error {
	for _, step := range []func() error{c.validateTimeouts, c.validateLimits, c.validateCookie, c.validateBruteForce} {
		if err := step(); err != nil {
			return err
		}
	}
	c.fillDefaults()
	return nil
}

// invalid is the error of an unsafe or contradictory setting.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// validateTimeouts checks the idle, absolute, touch, remember-me and
// rotation-grace durations, filling their defaults.
func (c *Config) validateTimeouts() error {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = defaultIdleTimeout
	}
	if c.AbsoluteTimeout == 0 {
		c.AbsoluteTimeout = defaultAbsoluteTimeout
	}
	if c.IdleTimeout < 0 || c.AbsoluteTimeout < 0 {
		return invalid("timeouts must be positive (idle %v, absolute %v)", c.IdleTimeout, c.AbsoluteTimeout)
	}
	if c.AbsoluteTimeout < c.IdleTimeout {
		return invalid("absolute timeout %v is shorter than idle timeout %v", c.AbsoluteTimeout, c.IdleTimeout)
	}
	if c.TouchInterval == 0 {
		c.TouchInterval = c.IdleTimeout / 20
	}
	if c.TouchInterval < 0 || c.TouchInterval >= c.IdleTimeout {
		return invalid("touch interval %v must be positive and shorter than the idle timeout %v", c.TouchInterval, c.IdleTimeout)
	}
	if err := c.Remember.validate(c.IdleTimeout, c.AbsoluteTimeout); err != nil {
		return err
	}
	switch {
	case c.RotationGrace == 0:
		c.RotationGrace = time.Minute
	case c.RotationGrace < 0:
		c.RotationGrace = 0
	}
	return nil
}

// validateLimits checks the per-user cap, the signing keys, the token
// header, the binding policy and the CSRF form limit.
func (c *Config) validateLimits() error {
	if c.MaxSessionsPerUser < 0 {
		return invalid("MaxSessionsPerUser %d is negative", c.MaxSessionsPerUser)
	}
	for i, k := range c.SigningKeys {
		if len(k) < minSigningKey {
			return invalid("signing key %d is %d bytes; use at least %d random bytes", i, len(k), minSigningKey)
		}
	}
	if c.TokenHeader != "" && !validCookieName(c.TokenHeader) {
		return invalid("TokenHeader %q is not a valid header name", c.TokenHeader)
	}
	if c.Binding < BindNone || c.Binding > BindDestroy {
		return invalid("unknown Binding policy %d", c.Binding)
	}
	if c.CSRFMaxFormBytes == 0 {
		c.CSRFMaxFormBytes = defaultCSRFMaxFormBytes
	}
	if c.CSRFMaxFormBytes < 0 {
		return invalid("CSRFMaxFormBytes %d is negative", c.CSRFMaxFormBytes)
	}
	return checkCallbackPaths(c.CallbackPaths)
}

// validateCookie fills the cookie's defaults and refuses attributes that
// would weaken it or that browsers reject.
func (c *Config) validateCookie() error {
	ck := c.Cookie.withDefaults()
	if err := ck.check(); err != nil {
		return err
	}
	c.Cookie = ck
	return nil
}

// check refuses cookie attributes that would weaken the session cookie or
// that browsers reject.
func (ck *CookieConfig) check() error {
	if ck.DisableHTTPOnly {
		return invalid("HttpOnly cannot be turned off: a script-readable session cookie turns XSS into session theft")
	}
	if ck.SameSite != http.SameSiteLaxMode && ck.SameSite != http.SameSiteStrictMode && ck.SameSite != http.SameSiteNoneMode {
		return invalid("unknown SameSite mode %d", ck.SameSite)
	}
	if err := ck.checkName(); err != nil {
		return err
	}
	return ck.checkScope()
}

// checkName refuses a cookie name browsers reject or that collides with the
// CSRF nonce cookie.
func (ck *CookieConfig) checkName() error {
	switch {
	case !validCookieName(ck.Name):
		return invalid("cookie name %q is not a valid token", ck.Name)
	case len(ck.Name) > 256:
		// Name + value must stay far below the 4096 bytes browsers keep
		// (ASVS 3.3.5); the value is at most 87 bytes (a signed ID).
		return invalid("cookie name is %d bytes; keep it under 256", len(ck.Name))
	case ck.Name == csrfCookieName(ck):
		return invalid("cookie name %q is the name of the CSRF nonce cookie; choose another", ck.Name)
	}
	return nil
}

// checkScope refuses SameSite, Secure, Partitioned, Domain and Path
// settings that contradict each other or the name's prefix.
func (ck *CookieConfig) checkScope() error {
	host := strings.HasPrefix(ck.Name, "__Host-")
	secure := host || strings.HasPrefix(ck.Name, "__Secure-") || strings.HasPrefix(ck.Name, "__Http-")
	if err := ck.checkCrossSite(); err != nil {
		return err
	}
	switch {
	case host && ck.Domain != "":
		return invalid("a __Host- cookie cannot have a Domain (%q); drop the Domain or rename the cookie", ck.Domain)
	case host && ck.Path != "/":
		return invalid("a __Host- cookie must have Path=/ (got %q)", ck.Path)
	case secure && ck.AllowInsecure:
		return invalid("cookie name %q requires Secure; with AllowInsecure use a plain name such as \"sid\"", ck.Name)
	case !strings.HasPrefix(ck.Path, "/"):
		return invalid("cookie path %q must start with /", ck.Path)
	}
	return nil
}

// checkCrossSite refuses SameSite=None and Partitioned settings that
// browsers reject or that could never work.
func (ck *CookieConfig) checkCrossSite() error {
	switch {
	case ck.SameSite == http.SameSiteNoneMode && ck.AllowInsecure:
		return invalid("SameSite=None requires Secure; browsers reject it otherwise")
	case ck.Partitioned && ck.AllowInsecure:
		return invalid("Partitioned requires Secure")
	case ck.Partitioned && ck.SameSite != http.SameSiteNoneMode:
		return invalid("Partitioned requires SameSite=None: a cross-site iframe never sends a Lax or Strict cookie")
	}
	return nil
}

// validateBruteForce fills the defaults of the brute-force signal and of
// the tombstone period that keeps returning users out of it.
func (c *Config) validateBruteForce() error {
	bf := &c.BruteForce
	if c.TombstonePeriod < 0 {
		return invalid("TombstonePeriod must not be negative")
	}
	if c.TombstonePeriod == 0 {
		c.TombstonePeriod = 72 * time.Hour
	}
	if bf.Threshold == 0 {
		bf.Threshold = 20
	}
	if bf.Window == 0 {
		bf.Window = time.Minute
	}
	if bf.MaxTracked == 0 {
		bf.MaxTracked = 1 << 16
	}
	if bf.Window < 0 || bf.MaxTracked < 0 {
		return invalid("BruteForce window and MaxTracked must be positive")
	}
	return nil
}

// fillDefaults sets the codec, logger, event key, error handler and clock
// left unset.
func (c *Config) fillDefaults() {
	if c.Codec == nil {
		c.Codec = jsonCodec{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.EventKey) == 0 {
		c.EventKey = make([]byte, 32)
		_, _ = rand.Read(c.EventKey)
	}
	if c.ErrorHandler == nil {
		c.ErrorHandler = defaultErrorHandler
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

// validCookieName reports whether name is a valid RFC 6265 cookie name.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// defaultErrorHandler answers 500 with a body that reveals nothing.
func defaultErrorHandler(w http.ResponseWriter, _ *http.Request, _ error) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

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
// device of this request (and Imported.AuthenticatedAt), the user's index and
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
	// AuthenticatedAt is when the legacy system last authenticated the
	// user, if it kept that (a later time than now is taken as now). Zero,
	// the default, records none: the adopted session is logged in but has
	// not recently authenticated, so [RequireRecentAuth] sends it to
	// reauthenticate, as a replayed legacy cookie must not pass for a fresh
	// login.
	AuthenticatedAt time.Time
}

// Event is a security event. It never holds a session token: Session is a
// keyed hash prefix of it, stable for one token under one Manager (or across
// Managers sharing Config.EventKey), so log lines about one session can be
// correlated without the lines being usable to hijack it. IP, UserAgent and
// Reason may carry client-supplied text: they are always valid UTF-8 and at
// most 256 bytes (cut at a character boundary), in records and events alike.
//
// An expiry comes in two forms. When an expired session's cookie comes
// back, [EventExpiredIdle] or [EventExpiredAbsolute] is emitted with an
// empty Reason and the request's IP and UserAgent. When the store itself
// drops a session nobody came back for (an [ExpiryNotifier]: the memory
// sweeper, the SQL reaper, Redis keyspace notifications), the same kinds
// are emitted with Reason "expired", Time the deadline that passed, no
// request (IP and UserAgent empty), Session "handle:" and a prefix of the
// session's handle (the store never had the token), and UserID,
// TargetIP and TargetUserAgent the recorded user and device where the
// store keeps them (not on Redis); one without a user is logged at DEBUG
// at most (OnEvent gets every one). A session may get both forms.
type Event struct {
	Kind      string
	Time      time.Time
	Session   string // keyed hash prefix of the token, "" if none
	UserID    string
	IP        string
	UserAgent string
	Reason    string // detail such as "unknown", "malformed", "max_sessions", or the store operation that failed
	// TargetIP and TargetUserAgent are the recorded device of the session
	// acted on, when that is not the acting request's: the device a
	// [Manager.Revoke] ended. IP and UserAgent are always the acting
	// request's (empty when the call came with no request in its
	// context, an admin job), so an audit reader can tell who acted from
	// where and whom it hit.
	TargetIP        string
	TargetUserAgent string
}

// checkCallbackPaths refuses a callback path that is not one exact path:
// it must start with "/", and hold no wildcard, pattern, query, fragment,
// escape, empty or dot segment, or trailing slash.
func checkCallbackPaths(paths []string) error {
	for _, p := range paths {
		bad := !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") ||
			strings.ContainsAny(p, "{}*?#% \t\r\n\\") || strings.Contains(p, "//") ||
			strings.Contains(p+"/", "/./") || strings.Contains(p+"/", "/../")
		if bad {
			return invalid("CallbackPaths: %q is not an exact path (\"/auth/callback\": no wildcard, pattern, query, escape, dot segment or trailing slash)", p)
		}
	}
	return nil
}
