package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
)

// Issue 27, federated callbacks: an OIDC login with response_mode=form_post
// against a fake identity provider on another site (https://127.0.0.1:port;
// the app is https://localhost:port), in Chromium. The app runs the default
// Config plus Config.CallbackPaths = ["/auth/callback"]: the provider's
// cross-site POST is relayed to a same-origin POST that carries the session
// (state, nonce and PKCE verifier), the login completes, and cross-site
// POSTs to any other route are still refused.

// oidcFlow is what the app keeps in the session between the redirect to
// the provider and the callback.
type oidcFlow struct{ State, Nonce, Verifier string }

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func page(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, "<!doctype html><title>t</title>"+body)
}

// fakeIdP is an identity provider that signs everybody in as alice.
type fakeIdP struct {
	mu    sync.Mutex
	codes map[string][2]string // code -> code challenge, nonce
}

func (p *fakeIdP) handler(rp func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_mode") != "form_post" || q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != rp()+"/auth/callback" {
			page(w, http.StatusBadRequest, "bad authorization request")
			return
		}
		code := randomString()
		p.mu.Lock()
		p.codes[code] = [2]string{q.Get("code_challenge"), q.Get("nonce")}
		p.mu.Unlock()
		page(w, http.StatusOK, fmt.Sprintf(`<form method="post" action="%s"><input type="hidden" name="code" value="%s">`+
			`<input type="hidden" name="submit" value="shadows form.submit">`+
			`<input type="hidden" name="state" value="%s"><button id="approve">Sign in as alice</button></form>`,
			html.EscapeString(q.Get("redirect_uri")), code, html.EscapeString(q.Get("state"))))
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		c, ok := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code")) // single use
		p.mu.Unlock()
		if !ok || s256(r.PostFormValue("code_verifier")) != c[0] {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": "alice", "nonce": c[1]})
	})
	// A page of another site posting to the app: to another route, and a
	// forged callback.
	mux.HandleFunc("GET /evil", func(w http.ResponseWriter, _ *http.Request) {
		page(w, http.StatusOK, fmt.Sprintf(`<form id="attack" method="post" action="%[1]s/transfer">`+
			`<input type="hidden" name="amount" value="100"><button>a</button></form>`+
			`<form id="forge" method="post" action="%[1]s/auth/callback"><input type="hidden" name="code" value="x">`+
			`<input type="hidden" name="state" value="forged"><button>f</button></form>`, rp()))
	})
	return mux
}

// relyingParty is the app's handler: start, callback, profile, transfer.
func relyingParty(rp func() string, idp *httptest.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/start", func(w http.ResponseWriter, r *http.Request) {
		f := oidcFlow{State: randomString(), Nonce: randomString(), Verifier: randomString()}
		if err := session.FromContext(r.Context()).Set("oidc", f); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		q := url.Values{"response_type": {"code"}, "response_mode": {"form_post"}, "client_id": {"e2e"},
			"redirect_uri": {rp() + "/auth/callback"}, "state": {f.State}, "nonce": {f.Nonce},
			"code_challenge": {s256(f.Verifier)}, "code_challenge_method": {"S256"}}
		http.Redirect(w, r, idp.URL+"/authorize?"+q.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /auth/callback", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		f, ok := session.Get[oidcFlow](s, "oidc")
		s.Delete("oidc") // single use
		if !ok || r.PostFormValue("state") != f.State {
			page(w, http.StatusBadRequest, `<p id="error">bad state</p>`)
			return
		}
		res, err := idp.Client().PostForm(idp.URL+"/token", url.Values{"code": {r.PostFormValue("code")}, "code_verifier": {f.Verifier}})
		if err != nil {
			http.Error(w, "error", http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		var tok struct{ Sub, Nonce string }
		if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 || tok.Nonce != f.Nonce {
			page(w, http.StatusBadRequest, `<p id="error">bad token</p>`)
			return
		}
		if err := s.Login(r.Context(), tok.Sub, session.WithMethod("federated")); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		methods := ""
		for m := range s.AuthMethods() {
			methods += m
		}
		page(w, http.StatusOK, fmt.Sprintf(`<p id="profile">user=%s methods=%s</p>`, s.UserID(), methods))
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, _ *http.Request) { page(w, http.StatusOK, "transferred") })
	return mux
}

// clickStatus clicks a submit button and returns the status of the page it
// leads to.
func clickStatus(t *testing.T, ctx context.Context, url, button string) int64 {
	t.Helper()
	do(t, ctx, "open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(button)))
	return submit(t, ctx, button+" button")
}

func TestFederatedFormPostLogin(t *testing.T) {
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	var rpURL string
	rp := func() string { return rpURL }
	idp := &fakeIdP{codes: map[string][2]string{}}
	idpSrv := httptest.NewTLSServer(idp.handler(rp))
	t.Cleanup(idpSrv.Close)
	// The default Config plus the one exemption.
	m, err := session.New(session.Config{CallbackPaths: []string{"/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	rpSrv := httptest.NewTLSServer(m.Handler(relyingParty(rp, idpSrv)))
	t.Cleanup(rpSrv.Close)
	rpURL = strings.Replace(rpSrv.URL, "127.0.0.1", "localhost", 1) // another site than the IdP

	if st := clickStatus(t, ctx, idpSrv.URL+"/evil", "#attack"); st != http.StatusForbidden {
		t.Fatalf("a cross-site POST to /transfer: status %d, want 403", st)
	}
	// A forged callback is relayed, and the handler refuses its state.
	do(t, ctx, "forged callback", chromedp.Navigate(idpSrv.URL+"/evil"), chromedp.WaitVisible(chromedp.CSS("#forge")),
		chromedp.Click(chromedp.CSS("#forge button")), chromedp.WaitVisible(chromedp.ID("error")))
	if got := run(t, ctx, "error", chromedp.Text(chromedp.ID("error"))); got != "bad state" {
		t.Fatalf("forged callback: %q", got)
	}

	// The login: the app sends the browser to the provider, which posts
	// back cross-site; the relayed POST carries the session and its flow.
	do(t, ctx, "start login", chromedp.Navigate(rpURL+"/login/start"), chromedp.WaitVisible(chromedp.ID("approve")))
	do(t, ctx, "approve", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("profile")))
	if got := run(t, ctx, "profile", chromedp.Text(chromedp.ID("profile"))); got != "user=alice methods=federated" {
		t.Fatalf("after the callback: %q", got)
	}
	if p := run(t, ctx, "location", chromedp.Location()); p != rpURL+"/profile" {
		t.Fatalf("ended at %s", p)
	}
	sid := cookieNamed(t, ctx, rpURL, "__Host-Http-sid")
	if sid == nil || !sid.Secure || !sid.HTTPOnly || sid.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie %+v: want the default __Host-Http-sid, Secure, HttpOnly, SameSite=Lax", sid)
	}
	// Logged in, a cross-site POST to another route is still refused.
	if st := clickStatus(t, ctx, idpSrv.URL+"/evil", "#attack"); st != http.StatusForbidden {
		t.Fatalf("a cross-site POST to /transfer after login: status %d, want 403", st)
	}
}

// cookieNamed returns the browser's cookie name for u, or nil.
func cookieNamed(t *testing.T, ctx context.Context, u, name string) *network.Cookie {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(cctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}
