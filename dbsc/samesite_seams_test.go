package dbsc_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/dbsc"
	"github.com/sessionkit/session/internal/testkit"
)

// TestCrossSiteSubresourceDoesNotEndBoundSession: with a SameSite=None
// session cookie (an app embedded in other sites), a cross-site image or
// fetch carries the session cookie but never the bound cookie, which is
// SameSite=Lax. Such a request cannot prove anything, but it is no sign of
// theft either: any page the user visits can send one (<img
// src="https://app.example/">). It must not end the user's bound session.
func TestCrossSiteSubresourceDoesNotEndBoundSession(t *testing.T) {
	e := &env{t: t, clock: testkit.NewClock(time.Now()), logs: &syncBuffer{}}
	m, err := session.New(session.Config{Clock: e.clock.Now, Logger: testLogger(e.logs),
		Cookie: session.CookieConfig{SameSite: http.SameSiteNoneMode}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	b, err := dbsc.New(m, dbsc.Config{Clock: e.clock.Now, Logger: testLogger(e.logs)})
	if err != nil {
		t.Fatal(err)
	}
	e.m, e.b = m, b
	e.srv = httptest.NewTLSServer(b.Handler(e.mux()))
	t.Cleanup(e.srv.Close)
	d := e.newDevice()
	d.http.Transport = e.srv.Client().Transport
	d.login("alice")
	d.register()
	e.clock.Advance(time.Minute) // past the registration's grace, within the bound cookie's life
	wantGet(t, d, http.StatusOK, "alice (bound)")

	// The browser sends, from another site's page, the cookies a cross-site
	// subresource request carries: the SameSite=None session cookie only.
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.http.Jar.Cookies(d.base) {
		if c.Name == "__Host-Http-sid" {
			req.AddCookie(c)
		}
	}
	if len(req.Cookies()) != 1 {
		t.Fatalf("no session cookie in the jar: %v", d.http.Jar.Cookies(d.base))
	}
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "no-cors")
	req.Header.Set("Sec-Fetch-Dest", "image")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Fatalf("a request without the bound cookie was served: %d", res.StatusCode)
	}
	wantGet(t, d, http.StatusOK, "alice (bound)") // the user's own next request
}
