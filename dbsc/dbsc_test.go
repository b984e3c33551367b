package dbsc_test

import (
	"context"
	"crypto/elliptic"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/dbsc"
)

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// boundDevice logs alice in on a new device and registers it.
func (e *env) boundDevice() *device {
	e.t.Helper()
	d := e.newDevice()
	d.login("alice")
	d.register()
	return d
}

func wantGet(t *testing.T, d *device, wantStatus int, wantBody string) {
	t.Helper()
	status, body := d.get("/me")
	if status != wantStatus || (wantBody != "" && body != wantBody) {
		t.Fatalf("GET /me = %d %q, want %d %q", status, body, wantStatus, wantBody)
	}
}

func TestRegistration(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.newDevice()
	d.login("alice")
	wantGet(t, d, http.StatusOK, "alice") // offered, not bound yet
	if d.regPath != dbsc.DefaultRegistrationPath {
		t.Fatalf("registration path %q, want %q", d.regPath, dbsc.DefaultRegistrationPath)
	}
	d.register()
	if d.refreshURL != dbsc.DefaultRefreshPath || d.cookieName != "dbsc" {
		t.Fatalf("instructions: refresh_url %q, cookie %q", d.refreshURL, d.cookieName)
	}
	wantGet(t, d, http.StatusOK, "alice (bound)")
	devices, err := e.b.Sessions(context.Background(), "alice")
	if err != nil || len(devices) != 1 || !devices[0].Bound {
		t.Fatalf("Sessions = %+v, %v: want one bound session", devices, err)
	}
	// An unbound session of the same user is listed as such.
	other := e.newDevice()
	other.login("alice")
	devices, err = e.b.Sessions(context.Background(), "alice")
	if err != nil || len(devices) != 2 || devices[0].Bound == devices[1].Bound {
		t.Fatalf("Sessions = %+v, %v: want one bound, one unbound", devices, err)
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	e.clock.Advance(dbsc.DefaultCookieLifetime - time.Second)
	wantGet(t, d, http.StatusOK, "alice (bound)")
	e.clock.Advance(2 * time.Second) // the bound cookie has expired: the browser refreshes first
	if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn {
		t.Fatalf("refresh = %d, goes on %v", status, goesOn)
	}
	if d.challenged != 0 {
		t.Fatalf("refresh was challenged %d times: the challenge sent with the registration should do", d.challenged)
	}
	wantGet(t, d, http.StatusOK, "alice (bound)")
	// Without a cached challenge, the server asks for one (403) first.
	d.cachedChallenge = ""
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn || d.challenged != 1 {
		t.Fatalf("refresh = %d, goes on %v, challenged %d: want 200 after one 403", status, goesOn, d.challenged)
	}
	wantGet(t, d, http.StatusOK, "alice (bound)")
	// Kept in the background for hours, by refreshes alone.
	for range 20 {
		e.clock.Advance(dbsc.DefaultCookieLifetime)
		if status, _ := d.refresh(); status != http.StatusOK {
			t.Fatalf("refresh = %d", status)
		}
		wantGet(t, d, http.StatusOK, "alice (bound)")
	}
}

// A copied session cookie and a copied bound cookie, replayed from another
// device without the key, work for at most one bound-cookie lifetime.
func TestStolenCookiesRefusedAfterLifetime(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	victim := e.boundDevice()
	thief := e.newDevice()
	victim.copyCookiesTo(thief)
	thief.sessionID, thief.refreshURL = victim.sessionID, victim.refreshURL // the ID is no secret

	e.clock.Advance(time.Minute)
	wantGet(t, thief, http.StatusOK, "alice (bound)") // the window DBSC leaves
	// The thief cannot refresh: its key is not the session's.
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	status, goesOn := thief.refresh()
	if status != http.StatusOK || goesOn {
		t.Fatalf("thief's refresh = %d, goes on %v: want the session stopped", status, goesOn)
	}
	wantGet(t, thief, http.StatusOK, "anonymous")
	// The forged proof ended the session: the victim must log in again.
	if _, goesOn := victim.refresh(); goesOn {
		t.Fatal("the victim's binding survived a forged proof")
	}
	wantGet(t, victim, http.StatusOK, "anonymous")
	if !strings.Contains(e.logs.String(), "dbsc.session_ended") {
		t.Fatalf("no dbsc.session_ended log line:\n%s", e.logs)
	}
}

func TestStolenCookiesNeverRefreshed(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	victim := e.boundDevice()
	thief := e.newDevice()
	victim.copyCookiesTo(thief)
	e.clock.Advance(dbsc.DefaultCookieLifetime + time.Second)
	wantGet(t, thief, http.StatusUnauthorized, "")
	wantGet(t, thief, http.StatusOK, "anonymous")
	victim.refresh()
	wantGet(t, victim, http.StatusOK, "anonymous")
}

// Only the session cookie, without the bound cookie: refused at once
// (after the few seconds a registration leaves in-flight requests).
func TestStolenSessionCookieOnly(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	victim := e.boundDevice()
	thief := e.newDevice()
	for _, c := range victim.http.Jar.Cookies(victim.base) {
		if c.Name != "dbsc" {
			thief.http.Jar.SetCookies(thief.base, []*http.Cookie{c})
		}
	}
	wantGet(t, thief, http.StatusOK, "alice (bound)") // within the registration grace
	e.clock.Advance(11 * time.Second)
	wantGet(t, thief, http.StatusUnauthorized, "")
	victim.refresh()
	wantGet(t, victim, http.StatusOK, "anonymous")
}

// A browser that stops refreshing loses the session; with Demote the
// request itself is still served, as anonymous.
func TestMissingRefresh(t *testing.T) {
	for _, tc := range []struct {
		policy     dbsc.Policy
		wantStatus int
		wantBody   string
	}{
		{dbsc.End, http.StatusUnauthorized, ""},
		{dbsc.Demote, http.StatusOK, "anonymous"},
	} {
		e := newEnv(t, dbsc.Config{OnFailure: tc.policy})
		d := e.boundDevice()
		e.clock.Advance(dbsc.DefaultCookieLifetime)
		wantGet(t, d, tc.wantStatus, tc.wantBody)
		wantGet(t, d, http.StatusOK, "anonymous")
		if devices, err := e.b.Sessions(context.Background(), "alice"); err != nil || len(devices) != 0 {
			t.Fatalf("policy %d: Sessions = %+v, %v: want none", tc.policy, devices, err)
		}
	}
}

func TestOnRefused(t *testing.T) {
	e := newEnv(t, dbsc.Config{OnRefused: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})})
	d := e.boundDevice()
	d.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	wantGet(t, d, http.StatusSeeOther, "")
}

func TestReplayedRefreshProof(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	hdr := http.Header{
		"Sec-Secure-Session-Id":   {sfQuote(d.sessionID)},
		"Secure-Session-Response": {sfQuote(proof(t, d.key, map[string]any{"jti": d.cachedChallenge}, false))},
	}
	first := d.do(http.MethodPost, d.refreshURL, hdr, nil)
	first.Body.Close()
	second := d.do(http.MethodPost, d.refreshURL, hdr, nil)
	second.Body.Close()
	if first.StatusCode != http.StatusOK || second.StatusCode != http.StatusForbidden || hasCookie(second, "dbsc") {
		t.Fatalf("refresh, replay = %d, %d (cookie %v): want 200, then 403 without a cookie",
			first.StatusCode, second.StatusCode, hasCookie(second, "dbsc"))
	}
	if second.Header.Get("Secure-Session-Challenge") == "" {
		t.Fatal("the 403 carries no new challenge")
	}
	wantGet(t, d, http.StatusOK, "alice (bound)") // a replay is not a forgery
}

func TestReplayedRegistrationProof(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.newDevice()
	d.login("alice")
	p := sfQuote(proof(t, d.key, map[string]any{"jti": d.regChallenge}, true))
	for i, want := range []int{http.StatusOK, http.StatusBadRequest} {
		resp := d.registerWith(p)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("registration %d = %d, want %d", i, resp.StatusCode, want)
		}
	}
}

func TestLogoutAndRevokeEndBinding(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	resp := d.do(http.MethodPost, "/logout", nil, nil)
	resp.Body.Close()
	if _, goesOn := d.refresh(); goesOn {
		t.Fatal("the binding survived a logout")
	}

	d = e.boundDevice()
	if err := e.m.RevokeUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, goesOn := d.refresh(); goesOn {
		t.Fatal("the binding survived RevokeUser")
	}

	d = e.boundDevice()
	devices, err := e.m.Sessions(context.Background(), "alice")
	if err != nil || len(devices) != 1 {
		t.Fatalf("Sessions = %v, %v", devices, err)
	}
	if err := e.m.Revoke(context.Background(), "alice", devices[0].Handle); err != nil {
		t.Fatal(err)
	}
	if _, goesOn := d.refresh(); goesOn {
		t.Fatal("the binding survived Revoke")
	}
	// Expiry: idle timeout without a refresh.
	d = e.boundDevice()
	e.clock.Advance(30*time.Minute + time.Minute) // past the default idle timeout
	if _, goesOn := d.refresh(); goesOn {
		t.Fatal("the binding survived the session's expiry")
	}
}

// An ID renewal keeps the binding and the bound cookie.
func TestRenewKeepsBinding(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	resp := d.do(http.MethodPost, "/renew", nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("renew: %d", resp.StatusCode)
	}
	e.clock.Advance(11 * time.Second)
	wantGet(t, d, http.StatusOK, "alice (bound)")
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn {
		t.Fatalf("refresh after renew = %d, %v", status, goesOn)
	}
	wantGet(t, d, http.StatusOK, "alice (bound)")
}

func TestOfferNeedsLogin(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	var err error
	h := e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { err = e.b.Offer(w, r) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !errors.Is(err, session.ErrNoUser) || rec.Header().Get("Secure-Session-Registration") != "" {
		t.Fatalf("Offer on an anonymous session = %v, header %q", err, rec.Header().Get("Secure-Session-Registration"))
	}
}

func TestConfigValidation(t *testing.T) {
	m, err := session.New(session.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for name, cfg := range map[string]dbsc.Config{
		"relative path":    {RegistrationPath: "register"},
		"same paths":       {RegistrationPath: "/x", RefreshPath: "/x"},
		"bad cookie name":  {CookieName: "a b"},
		"host insecure":    {CookieName: "__Host-x", AllowInsecure: true},
		"short lifetime":   {CookieLifetime: time.Millisecond},
		"short key":        {Key: []byte("short")},
		"unknown policy":   {OnFailure: dbsc.Policy(7)},
		"negative lifetim": {CookieLifetime: -time.Minute},
	} {
		if _, err := dbsc.New(m, cfg); !errors.Is(err, session.ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := dbsc.New(nil, dbsc.Config{}); !errors.Is(err, session.ErrInvalidConfig) {
		t.Errorf("nil Manager: %v", err)
	}
}

// Another server on the same store, or the same one after a restart (a
// new Binder), accepts the bound cookies and challenges of the first: they
// are keyed by a secret kept in the session, mixed with Config.Key when the
// servers share one.
func TestAnotherServerOrRestart(t *testing.T) {
	for name, key := range map[string][]byte{"no Key": nil, "shared Key": []byte(strings.Repeat("k", 32))} {
		e := newEnv(t, dbsc.Config{Key: key})
		d := e.boundDevice()
		b2, err := dbsc.New(e.m, dbsc.Config{Key: key, Clock: e.clock.Now, AllowInsecure: true, Logger: testLogger(io.Discard)})
		if err != nil {
			t.Fatal(err)
		}
		srv2 := httptest.NewServer(b2.Handler(e.mux()))
		d.base, _ = url.Parse(srv2.URL) // same host: the cookies go along
		e.clock.Advance(time.Minute)
		wantGet(t, d, http.StatusOK, "alice (bound)")
		e.clock.Advance(dbsc.DefaultCookieLifetime)
		if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn {
			t.Fatalf("%s: refresh on the second server = %d, %v", name, status, goesOn)
		}
		srv2.Close()
	}
	// A server with another Key refuses the bound cookie.
	e := newEnv(t, dbsc.Config{Key: []byte(strings.Repeat("a", 32))})
	d := e.boundDevice()
	b2, err := dbsc.New(e.m, dbsc.Config{Key: []byte(strings.Repeat("b", 32)), Clock: e.clock.Now, AllowInsecure: true,
		Logger: testLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(b2.Handler(e.mux()))
	defer srv2.Close()
	d.base, _ = url.Parse(srv2.URL)
	e.clock.Advance(time.Minute)
	wantGet(t, d, http.StatusUnauthorized, "")
}

// crossSite marks a request as a browser sends it in the context of a page
// of another site.
var crossSite = http.Header{"Origin": {"https://idp.example"}, "Sec-Fetch-Site": {"cross-site"}}

func withHeaders(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = v
		}
	}
	return out
}

// The browser's registration and refresh POSTs pass the cross-origin
// refusal when another site's page triggered them (a login callback posted
// by an identity provider, a followed link); nothing else does.
func TestCrossSiteProtocolRequests(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.newDevice()
	d.login("alice")
	resp := d.registerWith(sfQuote(proof(t, d.key, map[string]any{"jti": d.regChallenge}, true)))
	resp.Body.Close()
	resp = d.do(http.MethodPost, d.regPath, withHeaders(crossSite, http.Header{
		"Secure-Session-Response": {sfQuote(proof(t, d.key, map[string]any{"jti": d.regChallenge}, true))}}), nil)
	resp.Body.Close()
	if resp.StatusCode == http.StatusForbidden {
		t.Fatal("a cross-site registration POST was refused by the cross-origin check")
	}
	d = e.boundDevice()
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	resp = d.do(http.MethodPost, d.refreshURL, withHeaders(crossSite, http.Header{
		"Sec-Secure-Session-Id":   {sfQuote(d.sessionID)},
		"Secure-Session-Response": {sfQuote(proof(t, d.key, map[string]any{"jti": d.cachedChallenge}, false))},
	}), nil)
	in := d.readInstructions(resp)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || in.Continue != nil {
		t.Fatalf("cross-site refresh = %d %+v, want new instructions", resp.StatusCode, in)
	}
	for _, path := range []string{d.refreshURL, d.regPath, "/logout"} {
		resp = d.do(http.MethodPost, path, crossSite, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s without the protocol's headers = %d, want 403", path, resp.StatusCode)
		}
	}
	wantGet(t, d, http.StatusOK, "alice (bound)")
}

// A new login of the same user keeps the binding (the values move with the
// renewed ID) and may bind anew; another user's login drops it with the
// rest of the values.
func TestLoginKeepsOrDropsBinding(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	oldID := d.sessionID
	e.clock.Advance(11 * time.Second)
	d.login("alice")
	wantGet(t, d, http.StatusOK, "alice (bound)")
	d.key = mustKey(t, elliptic.P256()) // a new key, as a browser makes for a new registration
	d.register()
	if d.sessionID == oldID {
		t.Fatal("re-registration kept the old DBSC session identifier")
	}
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn {
		t.Fatalf("refresh with the new key = %d, %v", status, goesOn)
	}
	d.login("bob")
	e.clock.Advance(dbsc.DefaultCookieLifetime)
	wantGet(t, d, http.StatusOK, "bob")
}

// Background refreshes are not the user's activity: with no other request
// for the idle timeout, the next refresh ends the session.
func TestRefreshesDoNotDefeatIdleTimeout(t *testing.T) {
	e := newEnv(t, dbsc.Config{})
	d := e.boundDevice()
	for i := range 2 {
		e.clock.Advance(dbsc.DefaultCookieLifetime)
		if status, goesOn := d.refresh(); status != http.StatusOK || !goesOn {
			t.Fatalf("refresh %d = %d, %v", i, status, goesOn)
		}
	}
	e.clock.Advance(dbsc.DefaultCookieLifetime) // 30 minutes of refreshes alone
	if _, goesOn := d.refresh(); goesOn {
		t.Fatal("background refreshes kept an idle session alive")
	}
	wantGet(t, d, http.StatusOK, "anonymous")
	if !strings.Contains(e.logs.String(), "reason=idle") {
		t.Fatalf("no idle end in the log:\n%s", e.logs)
	}
}
