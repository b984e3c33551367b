package tokens

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sessionkit/session"
)

// ErrReused is wrapped by the error of [Tokens.Refresh] when the refresh
// token was already rotated (presented again after [Config.ReuseGrace], or
// a second time within it): the whole family has been ended and a
// session.refresh_reused event emitted. It is [session.ErrReused].
var ErrReused = session.ErrReused

// Tokens issues, refreshes, verifies and revokes API tokens for one
// [session.Manager]. Create it with [New]; it is safe for concurrent use.
type Tokens struct {
	m      *session.Manager
	cfg    Config
	keys   []*key
	byKID  map[string]*key
	parser *jwt.Parser
}

// Pair is what a client receives from [Tokens.Issue] and [Tokens.Refresh].
// Both tokens are secrets: never log them or put them in a URL.
type Pair struct {
	// AccessToken is the JWT to send as "Authorization: Bearer".
	AccessToken string
	// RefreshToken is the opaque token for the next Refresh. It dies
	// when used.
	RefreshToken string
	// AccessExpires is the access token's exp.
	AccessExpires time.Time
	// RefreshExpires is when the family ends unless refreshed before:
	// the earlier of its idle and absolute deadlines.
	RefreshExpires time.Time
}

// New returns a Tokens issuing families in m's store. It returns an error
// wrapping [session.ErrInvalidConfig] for an unsafe or contradictory cfg.
func New(m *session.Manager, cfg Config) (*Tokens, error) {
	if m == nil {
		return nil, fmt.Errorf("tokens: %w: nil Manager", session.ErrInvalidConfig)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tk := &Tokens{m: m, cfg: cfg, byKID: make(map[string]*key, len(cfg.SigningKeys))}
	for i, s := range cfg.SigningKeys {
		k, err := newKey(i, s, i == 0)
		if err != nil {
			return nil, err
		}
		if _, dup := tk.byKID[k.kid]; dup {
			return nil, fmt.Errorf("tokens: %w: signing key %d is listed twice", session.ErrInvalidConfig, i)
		}
		tk.keys = append(tk.keys, k)
		tk.byKID[k.kid] = k
	}
	tk.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(cfg.Clock),
		jwt.WithStrictDecoding(),
	)
	return tk, nil
}

// Issue starts a refresh family for userID (after checking their
// credentials) and returns its first pair. The device (User-Agent, client
// IP) is taken from r; it is what [session.Manager.Sessions] shows. Under
// [session.Config.MaxSessionsPerUser] it counts as a login.
func (tk *Tokens) Issue(ctx context.Context, r *http.Request, userID string) (*Pair, error) {
	iss, err := tk.m.Issue(ctx, r, userID, session.Lifetimes{Idle: tk.cfg.RefreshIdle, Absolute: tk.cfg.RefreshLifetime})
	if err != nil {
		return nil, fmt.Errorf("tokens: issue: %w", err)
	}
	return tk.pair(iss)
}

// Refresh rotates refreshToken: it dies, and a new pair comes back, in one
// atomic store step. Errors wrap [session.ErrNotFound] when the token names
// no live family (unknown, expired, revoked: the client must authenticate
// again), [ErrReused] as well when it was already rotated (the family is
// ended), or [session.ErrStore].
//
// A retry within [Config.ReuseGrace] of a refresh whose response was lost
// is not reuse: it rotates the family once more and returns a fresh pair
// (the pair of the lost response dies unused). Only one such retry
// succeeds, so a client must not refresh concurrently with itself and must
// keep the last pair it received.
func (tk *Tokens) Refresh(ctx context.Context, r *http.Request, refreshToken string) (*Pair, error) {
	iss, err := tk.m.Rotate(ctx, r, refreshToken, tk.cfg.ReuseGrace)
	if err != nil {
		return nil, fmt.Errorf("tokens: refresh: %w", err)
	}
	return tk.pair(iss)
}

// Revoke ends the family of refreshToken (the client's logout). Access
// tokens already issued stay valid for [Tokens.Verify] until they expire;
// [Tokens.VerifyLive] refuses them at once. It returns an error wrapping
// [session.ErrNotFound] when the token names no live family.
func (tk *Tokens) Revoke(ctx context.Context, refreshToken string) error {
	if err := tk.m.End(ctx, refreshToken); err != nil {
		return fmt.Errorf("tokens: revoke: %w", err)
	}
	return nil
}

// pair signs an access token for the family iss and pairs it with the
// family's new refresh token.
func (tk *Tokens) pair(iss *session.Issued) (*Pair, error) {
	now := tk.cfg.Clock().Truncate(time.Second)
	exp := now.Add(tk.cfg.AccessLifetime)
	if fam := iss.Expires.Truncate(time.Second); fam.Before(exp) {
		exp = fam // never outlive the family
	}
	var jti [16]byte
	_, _ = rand.Read(jti[:]) // never fails (Go 1.24+)
	k := tk.keys[0]
	t := jwt.NewWithClaims(k.method, &accessClaims{
		Iss: tk.cfg.Issuer,
		Sub: iss.UserID,
		Aud: audience{tk.cfg.Audience},
		Exp: unix(exp),
		Nbf: unix(now),
		Iat: unix(now),
		Jti: b64.EncodeToString(jti[:]),
		SID: iss.Handle,
	})
	t.Header["kid"] = k.kid
	t.Header["typ"] = accessTokenType
	var signKey any = k.signer
	access, err := t.SignedString(signKey)
	if err != nil {
		// A key that fails to sign (a remote signer): the family exists
		// but the client gets nothing; end it rather than leave it.
		_ = tk.m.End(context.Background(), iss.Token)
		return nil, fmt.Errorf("tokens: sign: %w", err)
	}
	return &Pair{AccessToken: access, RefreshToken: iss.Token, AccessExpires: exp, RefreshExpires: iss.Expires}, nil
}

// accessTokenType is the typ header of an access token (RFC 9068).
const accessTokenType = "at+jwt"
