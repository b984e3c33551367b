package session

import (
	"time"

	"github.com/sessionkit/session/internal/authmethod"
)

// Step-up by method: Login and Reauthenticate record how the user proved
// their identity ([WithMethod]) and when, in Meta.Methods; [RequireRecentAuth]
// lets a route demand a given method within a given time, and
// Manager.Sessions shows each session's methods.
//
// Method names are the application's: lowercase tokens of at most
// 24 bytes (a-z, 0-9, '.', '_', '-'). The conventional ones are
// "password", "passkey" (WebAuthn), "totp", "sms", "email" (a one-time
// link or code) and "federated" (an identity provider's login).

// WithMethod records, with [Session.Login] or [Session.Reauthenticate], the
// authentication methods the user just completed (for instance "password",
// or "password" and "totp") and the time, for [RequireRecentAuth] and the
// devices list ([SessionInfo].Methods). Login starts the session's record
// of methods afresh; Reauthenticate adds to it (a method done again gets
// the new time). A name that is not a lowercase token of at most 24 bytes
// (a-z, 0-9, '.', '_', '-') makes Login or Reauthenticate fail with an
// error wrapping [ErrInvalidConfig], changing nothing.
func WithMethod(methods ...string) LoginOption {
	return func(o *loginOptions) { o.methods = append(o.methods, methods...) }
}

// AuthMethods returns the authentication methods recorded for this session
// by Login and Reauthenticate with [WithMethod], each with the time it was
// last completed; nil for an anonymous session or one authenticated without
// WithMethod. Like AuthenticatedAt, it reads as empty for a request whose
// device changed under [BindReauth].
func (s *Session) AuthMethods() map[string]time.Time {
	return authmethod.Decode(s.meta().Methods)
}
