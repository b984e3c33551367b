// Package dbsc binds the sessions of a [session.Manager] to the browser's
// device with Device Bound Session Credentials (W3C webappsec-dbsc), so
// that a session cookie copied off the device (an infostealer, a leaked
// log) stops working within one bound-cookie lifetime.
//
// How it works, in the protocol's terms:
//
//   - After [session.Session.Login] succeeds, the application calls
//     [Binder.Offer]: the response carries a Secure-Session-Registration
//     header with a single-use challenge tied to the session.
//   - The browser makes a key pair (ES256; the private key stays on the
//     device) and POSTs a proof, a "dbsc+jwt" JWS carrying its public key,
//     to [Config.RegistrationPath]. The Binder verifies it with go-jose,
//     stores the public key with the session (in its values, so it moves
//     with the session through ID renewals and ends with it: logout,
//     [session.Manager.Revoke], [session.Manager.RevokeUser], expiry), and
//     sets a short-lived bound cookie ([Config.CookieName], living
//     [Config.CookieLifetime]).
//   - When the bound cookie has expired (or is about to), the browser POSTs to
//     [Config.RefreshPath] with Sec-Secure-Session-Id; the Binder answers
//     403 with a Secure-Session-Challenge (or the browser uses the one sent
//     ahead of time), the browser signs it with the device key, and gets a
//     new bound cookie. Each challenge is valid for one refresh only.
//   - Every other request of a bound session must carry a valid bound
//     cookie. A browser defers its requests until the refresh is done; a
//     request without one (another device replaying copied cookies, or a
//     browser that stopped refreshing) ends the session per
//     [Config.OnFailure]. So does a refresh proof that does not verify under
//     the registered key.
//
// [Binder.Handler] takes the place of the Manager's middleware (it wraps
// it). [Binder.Sessions] lists a user's sessions with whether each is bound.
//
// Background refreshes are not the user's activity: a refresh after
// [Config.IdleTimeout] with no other request ends the session.
//
// What it does not stop: malware running on the device while the user is
// logged in can use the key as it likes (DBSC makes it act from that
// device, where it can be found); a session stolen between the login and
// the registration, or used without the bound cookie in the ten seconds
// after the registration (the grace for requests the browser sent before
// it); a copy used within one bound-cookie lifetime of its theft; browsers
// without DBSC, whose sessions stay unbound (use short idle timeouts and
// [session.Config.Binding] there).
//
// Challenges are single use: each refresh advances a counter kept with the
// binding, and a server remembers the challenges it accepted until they
// expire, so a proof raced against itself is accepted once. Servers that do
// not share memory can each accept one copy of a proof within the same
// instant, before either has saved the new counter.
//
// This is a nested module, so the JOSE library (github.com/go-jose/go-jose/v4)
// stays out of the root module's dependencies.
package dbsc
