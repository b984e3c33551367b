package session

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net/http"
)

// CSRFHeader is the request header the CSRF middleware reads the
// synchronizer token from (for fetch/XHR clients).
const CSRFHeader = "X-CSRF-Token"

// CSRFField is the form field the CSRF middleware reads the synchronizer
// token from when the header is absent (for HTML forms).
const CSRFField = "csrf_token"

// csrfSessionKey is the reserved session key holding the synchronizer token.
// Login and Renew drop it, so a new ID gets a new token.
const csrfSessionKey = "_csrf"

const (
	// csrfSecretLen is the size of the per-session secret: 256 bits.
	csrfSecretLen = 32
	// csrfTokenLen is the length of a masked token: base64url, unpadded, of
	// a 32-byte pad followed by the 32-byte secret XOR pad.
	csrfTokenLen = (2*csrfSecretLen*8 + 5) / 6 // 86
	// csrfFormMemory is what the middleware lets a multipart form keep in
	// memory while looking for CSRFField; larger file parts spill to
	// temporary files, which are removed when the request ends. It is
	// net/http's own default, so a handler calling r.FormFile behaves as it
	// would without the middleware.
	csrfFormMemory = 32 << 20
)

// csrfEncoding decodes tokens and secrets strictly: canonical unpadded
// base64url only. It is never modified.
var csrfEncoding = base64.RawURLEncoding.Strict()

// errCSRFNoSession is handed to the error handler when the CSRF middleware
// runs outside Manager.Handler: a wiring mistake, refused rather than
// silently letting every request through.
var errCSRFNoSession = errors.New("session: CSRF middleware used outside Manager.Handler")

// CSRF returns middleware that requires a valid synchronizer token on every
// request with an unsafe method (anything but GET, HEAD, OPTIONS and TRACE).
// It is defence in depth on top of Handler's default refusal of cross-origin
// unsafe requests (http.CrossOriginProtection), and covers older browsers
// that send neither Fetch Metadata nor Origin (OWASP ASVS 3.5.1, 3.5.3).
//
// It must run inside Handler:
//
//	http.ListenAndServe(addr, m.Handler(m.CSRF(mux)))
//
// The token is taken from the X-CSRF-Token header (CSRFHeader) or, when that
// is absent, from the csrf_token field (CSRFField) of an
// application/x-www-form-urlencoded or multipart/form-data body. It is never
// read from the URL. Handlers and templates get a token with CSRFToken. The
// token is compared in constant time with a secret kept in the session, which
// Login and Renew replace, so a token from before a login stops working.
//
// A request without a valid token gets 403 Forbidden with a generic body and
// an EventCSRFFailure event (reason "missing", "malformed" or "mismatch");
// the token itself is never logged. Send the header rather than the form
// field for large uploads: finding the field means parsing the whole body
// (with net/http's own limits: 10 MB for URL-encoded forms, 32 MB in memory
// for multipart ones, the rest in temporary files). Bound request bodies
// with http.MaxBytesHandler as usual.
func (m *Manager) CSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			next.ServeHTTP(w, r)
			return
		}
		s := FromContext(r.Context())
		if s == nil {
			m.logger.LogAttrs(r.Context(), slog.LevelError, errCSRFNoSession.Error())
			m.cfg.ErrorHandler(w, r, errCSRFNoSession)
			return
		}
		sent, reason, cleanup := csrfFromRequest(r)
		if cleanup != nil {
			defer cleanup()
		}
		if reason == "" {
			var err error
			if reason, err = s.checkCSRF(sent); err != nil {
				// The session could not load: the middleware replaces
				// this response with the error handler's.
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				return
			}
		}
		if reason != "" {
			s.csrfFailure(w, reason)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CSRFToken returns a synchronizer token for the response to r, for a
// hidden CSRFField input or for a page that scripts read and send back in
// the CSRFHeader header:
//
//	<input type="hidden" name="csrf_token" value="{{.CSRFToken}}">
//
// Each call returns a different string (the session's secret masked with a
// fresh random pad, so the token does not leak through response compression:
// BREACH), and every one of them verifies until the session's ID changes
// (Login, Renew, Reauthenticate) or the session ends. The first call creates
// the secret and stores it in the session, which therefore starts a session
// (and sets its cookie) for an anonymous visitor; call it before writing the
// response body. It returns "" outside Manager.Handler or when the session
// cannot take the secret (store failure, or a new session whose headers have
// already been sent).
func CSRFToken(r *http.Request) string {
	s := FromContext(r.Context())
	if s == nil {
		return ""
	}
	secret, err := s.csrfSecret()
	if err != nil {
		return ""
	}
	return csrfMask(secret)
}

// csrfFromRequest returns the token a request sends, or the reason it sends
// none usable. cleanup, when non-nil, removes the temporary files of a
// multipart form this function parsed; run it once the request is done.
func csrfFromRequest(r *http.Request) (token, reason string, cleanup func()) {
	if v := r.Header.Get(CSRFHeader); v != "" {
		return v, "", nil
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return "", "missing", nil
	}
	switch ct {
	case "application/x-www-form-urlencoded":
		// ParseForm caps the body at 10 MB unless the application
		// already bounded it with http.MaxBytesReader.
		if err := r.ParseForm(); err != nil {
			return "", "malformed", nil
		}
	case "multipart/form-data":
		had := r.MultipartForm != nil
		err := r.ParseMultipartForm(csrfFormMemory)
		if !had && r.MultipartForm != nil {
			// The server cleans up the form of the request it created,
			// not of this copy made by Handler: do it here.
			form := r.MultipartForm
			cleanup = func() { _ = form.RemoveAll() }
		}
		if err != nil {
			return "", "malformed", cleanup
		}
	default:
		return "", "missing", nil
	}
	// PostForm, not Form: a token in the query string would leak through
	// logs and Referer headers, and is not accepted.
	if v := r.PostForm.Get(CSRFField); v != "" {
		return v, "", cleanup
	}
	return "", "missing", cleanup
}

// checkCSRF verifies a sent token against the session's secret. It returns
// the failure reason ("" when valid), or the session's load error.
func (s *Session) checkCSRF(sent string) (reason string, err error) {
	got, ok := csrfUnmask(sent)
	stored, err := s.storedCSRFSecret()
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "malformed", nil
	case stored == nil || subtle.ConstantTimeCompare(got, stored) != 1:
		return "mismatch", nil
	}
	return "", nil
}

// csrfFailure answers a refused request: an event (carrying the session's
// hashed ID, never a token) and 403 with a generic body.
func (s *Session) csrfFailure(w http.ResponseWriter, reason string) {
	s.mu.Lock()
	s.load() // a request with no token has not looked at the session yet
	token, userID := s.token, ""
	if s.rec != nil {
		userID = s.rec.UserID
	}
	s.mu.Unlock()
	s.m.emit(s.req.Context(), s.event(EventCSRFFailure, token, userID, reason))
	http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
}

// storedCSRFSecret returns the session's secret, nil if it has none (or an
// unreadable one), and the load error if the session could not load.
func (s *Session) storedCSRFSecret() ([]byte, error) {
	s.mu.Lock()
	defer s.unlock()
	return s.lockedCSRFSecret()
}

// lockedCSRFSecret is storedCSRFSecret for a caller holding s.mu.
func (s *Session) lockedCSRFSecret() ([]byte, error) {
	s.load()
	if s.err != nil {
		return nil, s.err
	}
	b, ok := s.lookup(csrfSessionKey)
	if !ok {
		return nil, nil
	}
	var enc string
	if s.m.cfg.Codec.Unmarshal(b, &enc) != nil {
		return nil, nil
	}
	secret, err := csrfEncoding.DecodeString(enc)
	if err != nil || len(secret) != csrfSecretLen {
		return nil, nil
	}
	return secret, nil
}

// csrfSecret returns the session's secret, creating and storing a new one
// when it has none. Lookup and creation happen under one lock, so concurrent
// first calls within a request agree on one secret.
func (s *Session) csrfSecret() ([]byte, error) {
	fresh := make([]byte, csrfSecretLen)
	_, _ = rand.Read(fresh) // never fails (Go 1.24+)
	encoded, err := encode(s.m.cfg.Codec, csrfSessionKey, base64.RawURLEncoding.EncodeToString(fresh))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	secret, err := s.lockedCSRFSecret()
	if err != nil || secret != nil {
		return secret, err
	}
	if err := s.setLocked(csrfSessionKey, encoded); err != nil {
		return nil, err
	}
	return fresh, nil
}

// csrfMask returns base64url(pad || secret XOR pad) with a fresh random pad.
func csrfMask(secret []byte) string {
	var buf [2 * csrfSecretLen]byte
	pad, masked := buf[:csrfSecretLen], buf[csrfSecretLen:]
	_, _ = rand.Read(pad) // never fails (Go 1.24+)
	subtle.XORBytes(masked, secret, pad)
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// csrfUnmask recovers the secret from a masked token. It reports false for
// anything that is not exactly a canonical 86-character base64url encoding
// of 64 bytes; it never panics.
func csrfUnmask(token string) ([]byte, bool) {
	if len(token) != csrfTokenLen {
		return nil, false
	}
	var buf [2 * csrfSecretLen]byte
	// The decoder skips '\r' and '\n', so a token holding them decodes short:
	// the length check below rejects it.
	n, err := csrfEncoding.Decode(buf[:], []byte(token))
	if err != nil || n != len(buf) {
		return nil, false
	}
	secret := make([]byte, csrfSecretLen)
	subtle.XORBytes(secret, buf[:csrfSecretLen], buf[csrfSecretLen:])
	return secret, true
}
