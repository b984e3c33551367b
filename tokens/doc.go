// Package tokens gives API clients (single-page apps, mobile apps, other
// services) short-lived signed access tokens and rotating refresh tokens on
// top of a [session.Manager]: the "hybrid" pattern.
//
// An access token is a JWT (RFC 7519, in the RFC 9068 profile: typ
// "at+jwt", iss, sub, aud, exp, iat, nbf, jti and sid, the refresh family's
// device handle) signed with Ed25519 (EdDSA) or ECDSA P-256 (ES256). It
// lives [DefaultAccessLifetime] and is checked by [Tokens.Verify] without a
// store call, so a revocation reaches it only when it expires; routes that
// cannot wait use [Tokens.VerifyLive], which also asks the store.
//
// A refresh token is an opaque 256-bit random value, stored only as a hash:
// a refresh family is a session record in the Manager's store (see
// [session.Manager.Issue]), so it is listed by [session.Manager.Sessions],
// ended by [session.Manager.Revoke], [session.Manager.RevokeUser] and
// [session.Session.RevokeOthers], and counted by
// [session.Config.MaxSessionsPerUser]. Every [Tokens.Refresh] rotates it;
// a retired refresh token presented again ends the whole family
// ([ErrReused]), so a stolen refresh token is caught as soon as the thief
// and the real client have both used it.
//
// Keys: the first of [Config.SigningKeys] signs, all of them verify (the
// header's kid, an RFC 7638 thumbprint, names the key, and each key accepts
// only its own algorithm), so keys rotate without logging anyone out.
// [Tokens.JWKS] publishes the public keys (RFC 7517) for other services.
//
// This package is a nested module, so that the JWT library
// (github.com/golang-jwt/jwt/v5) stays out of the root module's
// dependencies.
package tokens
