package session

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"

	"github.com/sessionkit/session/internal/csrf"
)

// errCSRFNoSession is handed to the error handler when the CSRF middleware
// runs outside Manager.Handler: a wiring mistake, refused rather than
// silently letting every request through.
var errCSRFNoSession = errors.New("session: CSRF middleware used outside Manager.Handler")

// CSRF returns middleware that requires a valid CSRF token on every request
// with an unsafe method (anything but GET, HEAD, OPTIONS and TRACE). It is
// defence in depth on top of Handler's default refusal of cross-origin
// unsafe requests (http.CrossOriginProtection), and covers older browsers
// that send neither Fetch Metadata nor Origin (OWASP ASVS 3.5.1, 3.5.3).
//
// POSTs to [Config.CallbackPaths] are exempt (their state parameter is
// their CSRF defence). It must run inside Handler:
//
//	http.ListenAndServe(addr, m.Handler(m.CSRF(mux)))
//
// The token is taken from the X-CSRF-Token header ([CSRFHeader]) or, when
// that is absent, from the csrf_token field ([CSRFField]) of an
// application/x-www-form-urlencoded or multipart/form-data body. It is never
// read from the URL. Handlers and templates get a token with [CSRFToken].
//
// A stored session's tokens are checked, in constant time, against a secret
// kept in the session, which Login and Renew replace, so a token from before
// a login stops working. A visitor whose session is not stored gets
// stateless tokens instead (see [CSRFToken]): the server keeps nothing for
// them, and such a token is accepted only while the request presents no
// session cookie at all.
//
// Looking for the form field reads at most [Config.CSRFMaxFormBytes] of the
// body (64 KiB by default), and the field must lie within them; the handler
// still receives the whole body, byte for byte. A request that sends the
// header has its body left alone, so send the header for uploads.
//
// A request without a valid token gets 403 Forbidden with a generic body, a
// body longer than the bound without the field in it gets 413 Request
// Entity Too Large (with Connection: close, so the rest is not read), and
// both emit an [EventCSRFFailure] event (reason "missing", "malformed",
// "mismatch" or "too_large"); the token itself is never logged.
func (m *Manager) CSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			next.ServeHTTP(w, r)
			return
		}
		if m.isCallback(r) { // Config.CallbackPaths: the state is the defence
			next.ServeHTTP(w, r)
			return
		}
		s := fromContext(r.Context())
		if s == nil {
			m.logger.LogAttrs(r.Context(), slog.LevelError, errCSRFNoSession.Error())
			m.cfg.ErrorHandler(w, r, errCSRFNoSession)
			return
		}
		f := csrf.Read(r, m.cfg.CSRFMaxFormBytes)
		reason := f.Reason
		if reason == "" {
			var err error
			if reason, err = s.checkCSRF(f.Token); err != nil {
				// The session could not load: the middleware replaces
				// this response with the error handler's.
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				return
			}
		}
		if reason != "" {
			if !f.Drained && r.ContentLength != 0 {
				// Do not let the server read the rest of a refused body
				// to keep the connection alive.
				w.Header().Set("Connection", "close")
			}
			s.csrfFailure(w, reason)
			return
		}
		next.ServeHTTP(w, f.Req)
	})
}

// CSRFToken returns a CSRF token for the response to r, for a hidden
// [CSRFField] input or for a page that scripts read and send back in the
// [CSRFHeader] header:
//
//	<input type="hidden" name="csrf_token" value="{{.CSRFToken}}">
//
// Each call returns a different string (a secret masked with a fresh random
// pad, so the token does not leak through response compression: BREACH).
//
// For a stored session the secret is kept in the session: the first call
// stores one, and every token verifies until the session's ID changes
// (Login, Renew, Reauthenticate) or the session ends.
//
// For a visitor whose session is not stored, the token is stateless: the
// secret is an HMAC of a random nonce that travels in its own cookie
// (__Host-csrf, or csrf with [CookieConfig.AllowInsecure]; HttpOnly, Path=/,
// no Domain, the session cookie's SameSite and Secure), under a key of the
// Manager (derived from [Config.SigningKeys] when they are set, so Managers
// sharing those keys accept each other's tokens; random per Manager
// otherwise). Rendering a form therefore costs no store write. When the
// session is later stored because the handler sets a value, it adopts that
// secret, so forms already rendered keep working; Login and Renew replace it
// as usual, and the nonce cookie is expired with the first session cookie.
// A request that presents a session cookie never uses the nonce cookie.
//
// Call it before writing the response body when the visitor may have
// neither a stored session nor a nonce cookie yet: it returns "" when the
// cookie that must back the token can no longer be sent, and outside
// Manager.Handler or when the session cannot load (store failure).
func CSRFToken(r *http.Request) string {
	s := fromContext(r.Context())
	if s == nil {
		return ""
	}
	secret, err := s.csrfSecret()
	if err != nil || secret == nil {
		return ""
	}
	return csrf.Mask(secret)
}

// checkCSRF verifies a sent token: against the session's secret when the
// session is stored, against the request's nonce cookie when it is not. It
// returns the failure reason ("" when valid), or the session's load error.
func (s *Session) checkCSRF(sent string) (reason string, err error) {
	got, ok := csrf.Unmask(sent)
	s.mu.Lock()
	defer s.unlock()
	s.load()
	switch {
	case s.err != nil:
		return "", s.err
	case !ok:
		return "malformed", nil
	case s.key != "":
		stored := s.lockedCSRFSecret()
		if stored == nil || subtle.ConstantTimeCompare(got, stored) != 1 {
			return "mismatch", nil
		}
		return "", nil
	case csrf.VerifyNonce(s.m.csrfKeys, s.requestNonce(), got):
		return "", nil
	}
	return "mismatch", nil
}

// csrfFailure answers a refused request: an event (carrying the session's
// hashed ID, never a token) and 403, or 413 for reason "too_large", with a
// generic body.
func (s *Session) csrfFailure(w http.ResponseWriter, reason string) {
	s.mu.Lock()
	s.load() // a request with no token has not looked at the session yet
	token, userID := s.token, ""
	if s.rec != nil {
		userID = s.rec.UserID
	}
	s.unlock()
	s.m.emit(s.req.Context(), s.event(EventCSRFFailure, token, userID, reason))
	code := http.StatusForbidden
	if reason == csrf.TooLarge {
		code = http.StatusRequestEntityTooLarge
	}
	http.Error(w, http.StatusText(code), code)
}

// lockedCSRFSecret returns the secret kept in the session, or nil if it has
// none (or an unreadable one). The caller holds s.mu and has loaded s.
func (s *Session) lockedCSRFSecret() []byte {
	b, ok := s.lookup(csrfSessionKey)
	if !ok {
		return nil
	}
	var enc string
	if s.m.cfg.Codec.Unmarshal(b, &enc) != nil {
		return nil
	}
	return csrf.DecodeSecret(enc)
}

// csrfSecret returns the secret this response's tokens mask: the stateless
// one of a session that is not stored (nil when no nonce cookie can back
// it), or the stored session's, created and stored when it has none. Lookup
// and creation happen under one lock, so concurrent first calls within a
// request agree on one secret.
func (s *Session) csrfSecret() ([]byte, error) {
	var fresh, encoded []byte
	for {
		s.mu.Lock()
		s.load()
		if s.err != nil {
			s.unlock()
			return nil, s.err
		}
		if s.key == "" {
			secret := s.anonCSRFSecret()
			s.unlock()
			return secret, nil
		}
		if secret := s.lockedCSRFSecret(); secret != nil {
			s.unlock()
			return secret, nil
		}
		if encoded != nil {
			err := s.setLocked(csrfSessionKey, encoded)
			s.unlock()
			if err != nil {
				return nil, err
			}
			return fresh, nil
		}
		s.unlock()
		// Encode outside the lock (the codec is the application's), then
		// look again.
		var enc string
		fresh, enc = csrf.NewSecret()
		var err error
		if encoded, err = encode(s.m.cfg.Codec, csrfSessionKey, enc); err != nil {
			return nil, err
		}
	}
}
