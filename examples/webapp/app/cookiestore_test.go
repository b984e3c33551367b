package app_test

import (
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
)

// On a cookie store (-store cookie) the app works, and the pages that need
// server state say plainly what stateless cannot do instead of failing.
func TestCookieStoreApp(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cs, err := session.NewCookieStore(key)
	if err != nil {
		t.Fatal(err)
	}
	_, srv := newAppServer(t, app.Config{Store: cs})
	a, b := newBrowser(t, srv), newBrowser(t, srv)
	a.login(password)
	b.login(password)
	a.post("/counter", nil)
	a.post("/counter", nil)
	if n := a.count(); n != 2 {
		t.Fatalf("counter %d, want 2", n)
	}

	a.get("/devices")
	a.expect(200, "/devices", "encrypted cookies")
	if n := strings.Count(a.page, "<tr class="); n != 0 {
		t.Fatalf("%d devices listed on a cookie store", n)
	}
	a.post("/devices/revoke-others", nil)
	a.expect(200, "/devices", "cannot be listed or logged out")

	const next = "a brand new password"
	a.get("/password")
	a.post("/password", url.Values{"current": {password}, "new": {next}, "confirm": {next}})
	a.expect(200, "/profile", "Password changed.")
	if !strings.Contains(a.page, "encrypted cookies") {
		t.Fatalf("the password change does not say the other sessions stay:\n%s", a.page)
	}
	if n := a.count(); n != 2 {
		t.Fatalf("the changing session lost its data: counter %d", n)
	}
	// As the page said: the other browser is still logged in.
	b.get("/profile")
	b.expect(200, "/profile", "Signed in as")

	a.post("/logout", nil)
	a.get("/profile")
	a.expect(200, "/login", `id="login"`)
}
