package tokens

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/sessionkit/session"
)

// ErrInvalidToken is wrapped by every error of [Tokens.Verify] about the
// token itself (missing, malformed, expired, wrong key, issuer or
// audience). Its detail is a fixed reason, never any part of the token.
var ErrInvalidToken = errors.New("tokens: invalid access token")

// ErrNoToken is wrapped (with [ErrInvalidToken]) when the request carries
// no bearer token at all.
var ErrNoToken = errors.New("tokens: no bearer token")

// Claims are the verified claims of an access token.
type Claims struct {
	// Subject is the user ID (sub).
	Subject string
	// SessionHandle is the refresh family's handle when the token was
	// issued (sid): a [session.SessionInfo.Handle]. It changes with every
	// refresh.
	SessionHandle string
	// ID is the token's unique ID (jti).
	ID string
	// IssuedAt and ExpiresAt are iat and exp.
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// invalid wraps a fixed reason in ErrInvalidToken.
func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

// Verify checks the access token in the request's "Authorization: Bearer"
// header (never a URL or a cookie) and returns its claims. It costs no
// store call: a token stays valid until it expires even when its family
// was revoked meanwhile (see [Tokens.VerifyLive]). The signature must be
// by one of [Config.SigningKeys], named by kid, with that key's algorithm;
// typ must be at+jwt; iss, aud, exp, nbf and iat are checked with
// [Config.Leeway]. Errors wrap [ErrInvalidToken].
func (tk *Tokens) Verify(r *http.Request) (*Claims, error) {
	raw, err := bearer(r.Header)
	if err != nil {
		return nil, err
	}
	var c accessClaims
	_, err = tk.parser.ParseWithClaims(raw, &c, tk.keyFor)
	if err != nil {
		return nil, invalid(reason(err))
	}
	if c.Sub == "" || c.SID == "" || c.Jti == "" {
		return nil, invalid("missing sub, sid or jti")
	}
	return &Claims{
		Subject:       c.Sub,
		SessionHandle: c.SID,
		ID:            c.Jti,
		IssuedAt:      date(c.Iat).Time,
		ExpiresAt:     date(c.Exp).Time,
	}, nil
}

// VerifyLive is Verify plus a store lookup: it also refuses a token whose
// refresh family has ended (logout, Revoke, RevokeUser, reuse, expiry),
// with an error wrapping [ErrInvalidToken] and [session.ErrNotFound]. A
// store failure is an error wrapping [session.ErrStore] (answer 5xx, not
// 401). Use it on routes where a revocation must bite at once (changing
// the password, paying) and Verify elsewhere: the trade-off is one store
// round trip per request (two right after a refresh) against up to
// [Config.AccessLifetime] of a revoked token being accepted.
func (tk *Tokens) VerifyLive(r *http.Request) (*Claims, error) {
	c, err := tk.Verify(r)
	if err != nil {
		return nil, err
	}
	if err := tk.m.CheckLive(r.Context(), c.Subject, c.SessionHandle); err != nil {
		if errors.Is(err, session.ErrNotFound) {
			return nil, fmt.Errorf("%w: family ended: %w", ErrInvalidToken, err)
		}
		return nil, err
	}
	return c, nil
}

// keyFor is the jwt Keyfunc: the key named by kid, only with its own
// algorithm, only for an at+jwt token that asks for no extension.
func (tk *Tokens) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: a recipient must reject a JWS whose crit
		// names an extension it does not understand; this verifier
		// understands none (and crit may not be empty).
		return nil, errCritical
	}
	if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, accessTokenType) && !strings.EqualFold(typ, "application/"+accessTokenType) {
		return nil, errWrongType
	}
	kid, _ := t.Header["kid"].(string)
	k := tk.byKID[kid]
	if k == nil {
		return nil, errUnknownKey
	}
	if t.Method == nil || t.Method.Alg() != k.method.Alg() {
		return nil, errWrongAlg
	}
	return k.pub, nil
}

var (
	errWrongType  = errors.New("typ is not at+jwt")
	errUnknownKey = errors.New("unknown kid")
	errWrongAlg   = errors.New("alg does not match the key")
	errCritical   = errors.New("crit names an extension not understood")
)

// reason maps a jwt error to a fixed description that holds nothing of the
// token.
func reason(err error) string {
	for _, e := range []error{errWrongType, errUnknownKey, errWrongAlg, errCritical} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "missing claim"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable"
	}
	return "invalid"
}

// bearer returns the token of the request's only Authorization header,
// which must use the Bearer scheme (RFC 6750 2.1).
func bearer(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", fmt.Errorf("%w: %w", ErrInvalidToken, ErrNoToken)
	case len(vals) > 1:
		return "", invalid("several Authorization headers")
	}
	v := vals[0]
	if len(v) > MaxTokenBytes {
		return "", invalid("oversized")
	}
	const scheme = "bearer "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		if strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("%w: %w", ErrInvalidToken, ErrNoToken)
		}
		return "", invalid("not a Bearer token")
	}
	tok := strings.TrimLeft(v[len(scheme):], " ")
	if tok == "" {
		return "", fmt.Errorf("%w: %w", ErrInvalidToken, ErrNoToken)
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", invalid("malformed")
		}
	}
	return tok, nil
}

// Handler verifies the access token of every request (see Verify) and
// passes the claims to next in the context ([FromContext]). A request
// without a valid token gets 401 with a WWW-Authenticate header (RFC 6750:
// error="invalid_token" for a bad token) and never reaches next.
func (tk *Tokens) Handler(next http.Handler) http.Handler { return tk.handler(next, tk.Verify) }

// HandlerLive is Handler with VerifyLive: a token whose family has ended is
// refused at once, at the cost of a store round trip per request. A store
// failure is answered 500 with a generic body.
func (tk *Tokens) HandlerLive(next http.Handler) http.Handler { return tk.handler(next, tk.VerifyLive) }

func (tk *Tokens) handler(next http.Handler, verify func(*http.Request) (*Claims, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := verify(r)
		switch {
		case errors.Is(err, ErrInvalidToken):
			Unauthorized(w, err)
		case err != nil:
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		default:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
		}
	})
}

// Unauthorized answers 401 for a Verify or VerifyLive error, with the RFC
// 6750 challenge: `Bearer` when there was no token, `Bearer
// error="invalid_token"` otherwise. The body says nothing more.
func Unauthorized(w http.ResponseWriter, err error) {
	h := w.Header()
	if errors.Is(err, ErrNoToken) {
		h.Set("WWW-Authenticate", `Bearer`)
	} else {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	h.Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

type ctxKey struct{}

// FromContext returns the claims Handler verified for the request whose
// context is ctx, or nil outside Handler.
func FromContext(ctx context.Context) *Claims {
	c, _ := ctx.Value(ctxKey{}).(*Claims)
	return c
}
