package session

import (
	"mime"
	"net/http"
	"slices"

	"github.com/sessionkit/session/internal/clientstr"
	"github.com/sessionkit/session/internal/csrf"
)

// The cross-origin refusal of Handler, and its one exemption: federated
// login callbacks (Config.CallbackPaths). An identity provider
// that answers with response_mode=form_post (Sign in with Apple, many OIDC
// providers) makes the browser POST the code and state to the callback
// from the provider's origin: a cross-site POST, which Handler refuses, and
// which does not carry the SameSite=Lax session cookie that holds the
// state, nonce and PKCE verifier.
//
// For a POST to exactly one of Config.CallbackPaths that the cross-origin
// refusal would stop, Handler answers instead with a small page that posts
// the same form fields again to the same URL, from the site's own origin.
// That second POST is same-origin: it passes the refusal and carries the
// session cookie, so the callback handler reads state, nonce and verifier
// from the session like any other value. Nothing else changes: no
// SameSite=None cookie, no extra secret, and every other route (and any
// other method or path) is refused as before.
//
// Why a re-POST page rather than a SameSite=None flow cookie: the state
// stays in the session, in whatever store it lives; no cookie is ever sent
// on cross-site requests; no new key or cookie name is needed. The cost is
// one more round trip and an inline script (allowed by the page's own
// Content-Security-Policy hash; a Continue button without JavaScript).

// denyCrossOrigin answers a refused cross-origin request: 403, no session
// touched, no Set-Cookie.
func (m *Manager) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	m.emit(r.Context(), Event{
		Kind:      EventCrossOrigin,
		IP:        m.clientIP(r),
		UserAgent: r.UserAgent(),
		Reason:    clientstr.Clean(r.Method) + " from " + clientstr.Clean(r.Header.Get("Origin")),
	})
	http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
}

// isCallback reports whether r is a POST to exactly one of
// Config.CallbackPaths.
func (m *Manager) isCallback(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.RawPath == "" && slices.Contains(m.cfg.CallbackPaths, r.URL.Path)
}

// relayFormPost answers a cross-site POST to a callback path with a page
// that posts its URL-encoded form fields again from the site's origin. A
// body that is not a URL-encoded form within Config.CSRFMaxFormBytes is
// refused like any cross-origin request.
func (m *Manager) relayFormPost(w http.ResponseWriter, r *http.Request) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		m.denyCrossOrigin(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, m.cfg.CSRFMaxFormBytes)
	if err := r.ParseForm(); err != nil {
		w.Header().Set("Connection", "close")
		m.denyCrossOrigin(w, r)
		return
	}
	action := r.URL.Path
	if r.URL.RawQuery != "" {
		action += "?" + r.URL.RawQuery
	}
	csrf.WriteRelay(w, action, r.PostForm)
}
