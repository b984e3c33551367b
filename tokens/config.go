package tokens

import (
	"crypto"
	"fmt"
	"time"

	"github.com/sessionkit/session"
)

// Defaults of [Config].
const (
	DefaultAccessLifetime  = 15 * time.Minute
	DefaultRefreshLifetime = 7 * 24 * time.Hour
	DefaultRefreshIdle     = 24 * time.Hour
	DefaultReuseGrace      = 10 * time.Second
	DefaultIssuer          = "urn:sessionkit:tokens"
	// MaxAccessLifetime bounds Config.AccessLifetime: an access token
	// cannot be revoked before it expires.
	MaxAccessLifetime = time.Hour
	// MaxLeeway bounds Config.Leeway.
	MaxLeeway = 5 * time.Minute
	// MaxTokenBytes bounds the Authorization header Verify reads; a longer
	// one is refused unparsed.
	MaxTokenBytes = 4096
)

// Config configures [New]. Zero fields take the defaults.
type Config struct {
	// SigningKeys sign and verify access tokens: ed25519.PrivateKey
	// (alg EdDSA) or *ecdsa.PrivateKey on P-256 (alg ES256). The first
	// signs; all verify, so put a new key first and keep the old one for
	// one AccessLifetime. Keys after the first may be any crypto.Signer
	// whose public key is of those kinds. Required.
	SigningKeys []crypto.Signer
	// AccessLifetime is how long an access token is accepted. Default
	// 15m; at most MaxAccessLifetime.
	AccessLifetime time.Duration
	// RefreshLifetime is the absolute lifetime of a refresh family:
	// after it the client must authenticate again. Default 7 days; not
	// shorter than AccessLifetime. With the Redis store keep it within
	// session.WithMaxSessionLifetime (default 30 days).
	RefreshLifetime time.Duration
	// RefreshIdle ends a family not refreshed for this long. Default 24h;
	// not longer than RefreshLifetime.
	RefreshIdle time.Duration
	// ReuseGrace is how long after a refresh the retired refresh token may
	// be presented once more (a client retrying a lost response) without
	// counting as reuse. Default 10s; negative: no grace.
	ReuseGrace time.Duration
	// Leeway tolerates clock skew on exp, nbf and iat. Default 0; at most
	// MaxLeeway.
	Leeway time.Duration
	// Issuer is the iss claim written and required. Default
	// DefaultIssuer; set it to your service's URL.
	Issuer string
	// Audience is the aud claim written and required. Default: Issuer.
	Audience string
	// Clock returns the current time for exp, nbf and iat. Default
	// time.Now; give it the Manager's clock in tests.
	Clock func() time.Time
}

// validate fills defaults and refuses unsafe or contradictory settings.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tokens: %w: "+format, append([]any{session.ErrInvalidConfig}, args...)...)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AccessLifetime, DefaultAccessLifetime)
	def(&c.RefreshLifetime, DefaultRefreshLifetime)
	def(&c.RefreshIdle, min(DefaultRefreshIdle, c.RefreshLifetime))
	def(&c.ReuseGrace, DefaultReuseGrace)
	switch {
	case len(c.SigningKeys) == 0:
		return bad("no signing key")
	case c.AccessLifetime < 0 || c.RefreshLifetime < 0 || c.RefreshIdle < 0:
		return bad("lifetimes must be positive")
	case c.AccessLifetime > MaxAccessLifetime:
		return bad("access lifetime %v is over %v: an access token cannot be revoked before it expires", c.AccessLifetime, MaxAccessLifetime)
	case c.RefreshLifetime < c.AccessLifetime:
		return bad("refresh lifetime %v is shorter than the access lifetime %v", c.RefreshLifetime, c.AccessLifetime)
	case c.RefreshIdle > c.RefreshLifetime:
		return bad("refresh idle %v is longer than the refresh lifetime %v", c.RefreshIdle, c.RefreshLifetime)
	case c.Leeway < 0 || c.Leeway > MaxLeeway:
		return bad("leeway %v must be between 0 and %v", c.Leeway, MaxLeeway)
	}
	if c.ReuseGrace < 0 {
		c.ReuseGrace = 0
	}
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return nil
}
