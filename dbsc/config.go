package dbsc

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sessionkit/session"
)

// Policy says what a [Binder] does with a bound session whose proof of
// possession fails or stops: a refresh whose proof does not verify under
// the session's key, or a request that comes without a valid bound cookie
// (the browser did not refresh it, or the request comes from another
// device that copied the session cookie).
type Policy int

const (
	// End ends the session (as [session.Session.Destroy] does: the record is
	// deleted, the cookie expired) and refuses the request with
	// [Config.OnRefused]. The default.
	End Policy = iota
	// Demote ends the session the same way, then serves the request as an
	// anonymous one: the user is logged out, the page still loads.
	Demote
)

// Defaults of [Config].
const (
	DefaultRegistrationPath = "/dbsc/register"
	DefaultRefreshPath      = "/dbsc/refresh"
	DefaultCookieName       = "__Host-dbsc"
	DefaultCookieLifetime   = 10 * time.Minute
)

// Config configures a [Binder]. The zero value is usable: it serves the
// endpoints at [DefaultRegistrationPath] and [DefaultRefreshPath] and
// issues a [DefaultCookieName] cookie living [DefaultCookieLifetime].
type Config struct {
	// RegistrationPath and RefreshPath are the paths of the two endpoints
	// the browser POSTs to. Both must start with "/" and differ.
	RegistrationPath string
	RefreshPath      string
	// CookieName names the short-lived bound cookie. Default
	// [DefaultCookieName]; "dbsc" with AllowInsecure.
	CookieName string
	// CookieLifetime is how long a bound cookie is accepted: the longest a
	// copied cookie stays useful on another device. Default
	// [DefaultCookieLifetime]; at least one second.
	CookieLifetime time.Duration
	// IdleTimeout is the session's idle timeout: give it the Manager's
	// [session.Config.IdleTimeout] (default 30 minutes, the Manager's default).
	// The browser's background refreshes are not the user's activity but
	// would keep the session from its idle timeout, so a refresh after
	// IdleTimeout without any other request ends the session.
	IdleTimeout time.Duration
	// AllowInsecure drops the cookie's Secure attribute, for local HTTP
	// (the session's [session.CookieConfig.AllowInsecure] too). Browsers run
	// DBSC over HTTPS, and over HTTP on localhost only.
	AllowInsecure bool
	// OnFailure is what happens to a bound session whose proof fails or
	// stops. Default [End].
	OnFailure Policy
	// OnRefused answers a request refused under [End], and, under either
	// policy, a bound session's cross-site request that cannot carry the
	// SameSite=Lax bound cookie (an image another site embeds, with a
	// SameSite=None session cookie): that one keeps the session. Nil
	// answers 401 Unauthorized with a generic body.
	OnRefused http.Handler
	// Key, when set (32 bytes or more), is mixed into the HMAC of every
	// challenge and bound cookie, which are otherwise keyed by a secret
	// stored in the session: then a copy of the store alone cannot forge a
	// bound cookie. Every server must use the same Key, and changing it
	// invalidates the bound cookies in flight (their sessions end at their
	// next request, per OnFailure). Nil: the session's secret alone.
	Key []byte
	// Clock returns the current time. Default time.Now. Give it the
	// [session.Config.Clock] of the Manager.
	Clock func() time.Time
	// Logger receives one line per registration, refresh and refusal
	// (never a proof, cookie or token). Default slog.Default().
	Logger *slog.Logger
}

// invalid wraps a reason in [session.ErrInvalidConfig].
func invalid(format string, a ...any) error {
	return fmt.Errorf("dbsc: %w: "+format, append([]any{session.ErrInvalidConfig}, a...)...)
}

// withDefaults fills the zero fields and checks the others.
func (c Config) withDefaults() (Config, error) {
	if c.RegistrationPath == "" {
		c.RegistrationPath = DefaultRegistrationPath
	}
	if c.RefreshPath == "" {
		c.RefreshPath = DefaultRefreshPath
	}
	if !strings.HasPrefix(c.RegistrationPath, "/") || !strings.HasPrefix(c.RefreshPath, "/") ||
		c.RegistrationPath == c.RefreshPath {
		return c, invalid("RegistrationPath and RefreshPath must start with / and differ")
	}
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
		if c.AllowInsecure {
			c.CookieName = "dbsc"
		}
	}
	if !validCookieName(c.CookieName) {
		return c, invalid("CookieName %q is not a cookie name", c.CookieName)
	}
	if strings.HasPrefix(c.CookieName, "__Host-") && c.AllowInsecure {
		return c, invalid("a __Host- cookie needs Secure: drop AllowInsecure or rename the cookie")
	}
	return c.withLimits()
}

// withLimits fills and checks the lifetimes and the policy.
func (c Config) withLimits() (Config, error) {
	if c.CookieLifetime == 0 {
		c.CookieLifetime = DefaultCookieLifetime
	}
	if c.CookieLifetime < time.Second {
		return c, invalid("CookieLifetime must be at least one second")
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Minute // the Manager's default
	}
	if c.IdleTimeout < time.Second {
		return c, invalid("IdleTimeout must be at least one second")
	}
	if c.OnFailure != End && c.OnFailure != Demote {
		return c, invalid("unknown OnFailure policy %d", c.OnFailure)
	}
	return c.withKeyAndHooks()
}

// withKeyAndHooks checks the key and fills the clock, logger and refusal.
func (c Config) withKeyAndHooks() (Config, error) {
	if c.Key != nil {
		if len(c.Key) < 32 {
			return c, invalid("Key must be at least 32 bytes")
		}
		c.Key = append([]byte(nil), c.Key...)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OnRefused == nil {
		c.OnRefused = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		})
	}
	return c, nil
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
