package dbsc

import (
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/sessionkit/session"
)

// instructions is the JSON session configuration answered by the
// registration and refresh endpoints (spec: JSON session instructions).
type instructions struct {
	SessionIdentifier string       `json:"session_identifier,omitempty"`
	RefreshURL        string       `json:"refresh_url,omitempty"`
	Continue          *bool        `json:"continue,omitempty"`
	Scope             *scope       `json:"scope,omitempty"`
	Credentials       []credential `json:"credentials,omitempty"`
}

type scope struct {
	IncludeSite bool `json:"include_site"`
}

type credential struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Attributes string `json:"attributes"`
}

// register serves the registration endpoint: the browser's first proof,
// signed with its new key, for a challenge from Offer.
func (b *Binder) register(w http.ResponseWriter, r *http.Request) {
	if !endpointRequest(w, r) {
		return
	}
	s := session.FromContext(r.Context())
	if s.Err() != nil {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	user := s.UserID()
	if user == "" {
		b.refuse(w, r, http.StatusUnauthorized, "", "register_anonymous")
		return
	}
	old, _ := session.Get[binding](s, valueKey)
	pending, _ := session.Get[[]byte](s, pendingKey)
	p, err := parseProof(r.Header.Get(headerResponse), nil, endpoint(r))
	if err != nil {
		b.refuse(w, r, http.StatusBadRequest, user, reasonOf(err))
		return
	}
	if _, ok := b.open(pending, kindRegister, p.JTI, old.ID); !ok {
		b.refuse(w, r, http.StatusBadRequest, user, "register_challenge")
		return
	}
	bd, err := newBinding(p.Key, b.now())
	if err == nil {
		err = s.Set(valueKey, bd)
	}
	s.Delete(pendingKey) // the challenge is used
	if err == nil {
		err = s.Set(activeKey, b.now().UTC())
	}
	if err != nil {
		b.log.LogAttrs(r.Context(), slog.LevelError, "dbsc.register_failed",
			slog.String("user_id", user), slog.String("error", err.Error()))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	b.log.LogAttrs(r.Context(), slog.LevelInfo, "dbsc.registered",
		slog.String("user_id", user), slog.String("key_thumbprint", bd.Thumbprint))
	b.challenge(w, bd, 0) // the first refresh's challenge, ahead of time
	b.issue(w, bd)
}

// newBinding starts a binding to key.
func newBinding(key *jose.JSONWebKey, now time.Time) (binding, error) {
	pub := key.Public()
	raw, err := pub.MarshalJSON()
	if err != nil {
		return binding{}, err
	}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return binding{}, err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id) // crypto/rand.Read never fails (Go 1.24+)
	t := now.UTC()
	return binding{ID: b64.EncodeToString(id), Key: string(raw), Thumbprint: b64.EncodeToString(thumb),
		Secret: newSecret(), BoundAt: t, RefreshedAt: t}, nil
}

// refresh serves the refresh endpoint: a proof signed with the registered
// key for a challenge of this refresh earns a new bound cookie.
func (b *Binder) refresh(w http.ResponseWriter, r *http.Request) {
	if !endpointRequest(w, r) {
		return
	}
	id, err := sfString(r.Header.Get(headerSessionID))
	if err != nil || id == "" || len(id) > 128 {
		b.refuse(w, r, http.StatusBadRequest, "", "refresh_no_session_id")
		return
	}
	s := session.FromContext(r.Context())
	if s.Err() != nil {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	bd, ok := session.Get[binding](s, valueKey)
	if ok && bd.ID == id && b.idle(s) {
		// Only background refreshes since the idle timeout: the user left.
		if b.end(w, r, s, "idle") {
			stop(w)
		}
		return
	}
	if !ok || bd.ID != id {
		// Logged out, revoked, expired or bound anew: the browser drops
		// this DBSC session.
		b.log.LogAttrs(r.Context(), slog.LevelInfo, "dbsc.refresh_unknown", slog.String("user_id", s.UserID()))
		stop(w)
		return
	}
	b.refreshBound(w, r, s, bd)
}

// refreshBound checks the proof of a refresh of the bound session s.
func (b *Binder) refreshBound(w http.ResponseWriter, r *http.Request, s *session.Session, bd binding) {
	raw := r.Header.Get(headerResponse)
	if raw == "" {
		b.challenge(w, bd, http.StatusForbidden)
		return
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON([]byte(bd.Key)); err != nil {
		b.log.LogAttrs(r.Context(), slog.LevelError, "dbsc.stored_key_unreadable", slog.String("user_id", s.UserID()))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	p, err := parseProof(raw, &key, endpoint(r))
	if err != nil {
		// Not signed by the session's key: whoever sent it does not hold
		// the device's key.
		if b.end(w, r, s, reasonOf(err)) {
			stop(w)
		}
		return
	}
	if exp, ok := b.open(bd.Secret, kindRefresh, p.JTI, refreshContext(bd)); !ok || !b.used.take(p.JTI, exp, b.now()) {
		// The right key, an old, used or expired challenge (a replay, or a
		// race with a newer challenge): ask again.
		b.log.LogAttrs(r.Context(), slog.LevelInfo, "dbsc.refresh_rechallenged", slog.String("user_id", s.UserID()))
		b.challenge(w, bd, http.StatusForbidden)
		return
	}
	bd.Seq++
	bd.RefreshedAt = b.now().UTC()
	err = s.Set(valueKey, bd)
	if err == nil {
		err = s.Save(r.Context())
	}
	if err != nil {
		b.log.LogAttrs(r.Context(), slog.LevelError, "dbsc.refresh_failed",
			slog.String("user_id", s.UserID()), slog.String("error", err.Error()))
		status := http.StatusInternalServerError
		if errors.Is(err, session.ErrNotFound) {
			stop(w) // ended meanwhile
			return
		}
		http.Error(w, http.StatusText(status), status)
		return
	}
	b.log.LogAttrs(r.Context(), slog.LevelDebug, "dbsc.refreshed", slog.String("user_id", s.UserID()))
	b.challenge(w, bd, 0) // the next refresh's challenge, ahead of time
	b.issue(w, bd)
}

// issue answers a registration or refresh with a new bound cookie and the
// session's instructions.
func (b *Binder) issue(w http.ResponseWriter, bd binding) {
	http.SetCookie(w, &http.Cookie{
		Name: b.cfg.CookieName, Value: b.seal(bd.Secret, kindCookie, b.cfg.CookieLifetime, bd.ID),
		Path: "/", MaxAge: int(b.cfg.CookieLifetime.Seconds()),
		Secure: !b.cfg.AllowInsecure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	attrs := "Path=/; Secure; HttpOnly; SameSite=Lax"
	if b.cfg.AllowInsecure {
		attrs = "Path=/; HttpOnly; SameSite=Lax"
	}
	writeJSON(w, http.StatusOK, instructions{
		SessionIdentifier: bd.ID,
		RefreshURL:        b.cfg.RefreshPath,
		Scope:             &scope{},
		Credentials:       []credential{{Type: "cookie", Name: b.cfg.CookieName, Attributes: attrs}},
	})
}

// challenge adds a refresh challenge for bd's next refresh; with a status,
// it also answers with it (403: "sign this and try again").
func (b *Binder) challenge(w http.ResponseWriter, bd binding, status int) {
	ch := b.seal(bd.Secret, kindRefresh, b.cfg.CookieLifetime+registrationTTL, refreshContext(bd))
	w.Header().Add(headerChallenge, quote(ch)+";id="+quote(bd.ID))
	if status != 0 {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
	}
}

// cookieValid reports whether r carries a bound cookie of bd that has not
// expired.
func (b *Binder) cookieValid(r *http.Request, bd binding) bool {
	for _, c := range r.CookiesNamed(b.cfg.CookieName) {
		if _, ok := b.open(bd.Secret, kindCookie, c.Value, bd.ID); ok {
			return true
		}
	}
	return false
}

// refuse logs a refused registration or refresh and answers status.
func (b *Binder) refuse(w http.ResponseWriter, r *http.Request, status int, user, reason string) {
	b.log.LogAttrs(r.Context(), slog.LevelWarn, "dbsc.refused",
		slog.String("user_id", user), slog.String("reason", reason))
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(status), status)
}

// stop answers {"continue": false}: the browser ends its DBSC session.
func stop(w http.ResponseWriter) {
	f := false
	writeJSON(w, http.StatusOK, instructions{Continue: &f})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a failed write is the client's loss
}

// endpointRequest refuses anything but a POST.
func endpointRequest(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	return false
}

// endpoint is the URL a proof was sent to, for its aud claim.
func endpoint(r *http.Request) *url.URL { return &url.URL{Host: r.Host, Path: r.URL.Path} }

// reasonOf turns a proof error into a short log reason.
func reasonOf(err error) string {
	return "proof: " + strings.TrimPrefix(err.Error(), ErrProof.Error()+": ")
}
