package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
)

// Issue 27, cookie hardening, in Debian's Chromium: the default session
// cookie is __Host-Http-sid because this browser enforces the prefix (RFC
// 6265bis): a script can neither set nor overwrite a __Host-Http- cookie,
// and a server cannot set one without HttpOnly, while the same script can
// set a plain __Host- cookie (so a script could plant the old default name
// before login, never the new one).

// prefixApp logs in and answers the user, over the default Config.
func prefixApp(t *testing.T) string {
	t.Helper()
	m, err := session.New(session.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		page(w, 200, `<script>`+fetchJS+`</script><p id="ready">ready</p>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		reply(w, session.FromContext(r.Context()).Login(r.Context(), "alice"))
	})
	mux.HandleFunc("POST /login-mallory", func(w http.ResponseWriter, r *http.Request) {
		reply(w, session.FromContext(r.Context()).Login(r.Context(), "mallory"))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})
	mux.HandleFunc("GET /no-httponly", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("Set-Cookie", "__Host-Http-probe=1; Path=/; Secure; SameSite=Lax") // no HttpOnly
		page(w, 200, `<p id="ready">ready</p>`)
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

func TestHostHttpPrefixIsEnforced(t *testing.T) {
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	u := prefixApp(t)
	do(t, ctx, "open", chromedp.Navigate(u+"/"), chromedp.WaitVisible(chromedp.ID("ready")))

	// Before login: a script plants cookies under both names.
	js(t, ctx, `(document.cookie = "__Host-Http-sid=planted; Path=/; Secure", document.cookie = "__Host-sid=planted; Path=/; Secure", "")`)
	if c := cookieNamed(t, ctx, u, "__Host-Http-sid"); c != nil {
		t.Fatalf("a script set __Host-Http-sid=%s: the browser does not enforce the prefix", c.Value)
	}
	if c := cookieNamed(t, ctx, u, "__Host-sid"); c == nil || c.Value != "planted" {
		t.Fatalf("control: a script could not set a plain __Host- cookie (%+v); the test proves nothing", c)
	}

	expect(t, ctx, `post('/login')`, "200 ok")
	sid := cookieNamed(t, ctx, u, "__Host-Http-sid")
	if sid == nil || !sid.HTTPOnly || !sid.Secure {
		t.Fatalf("after login: __Host-Http-sid %+v", sid)
	}
	if c := cookieNamed(t, ctx, u, "__Host-sid"); c != nil {
		t.Fatalf("the planted __Host-sid survived the login: %+v", c)
	}
	// A script cannot overwrite it either.
	js(t, ctx, `(document.cookie = "__Host-Http-sid=overwritten; Path=/; Secure", "")`)
	if c := cookieNamed(t, ctx, u, "__Host-Http-sid"); c == nil || c.Value != sid.Value {
		t.Fatalf("a script changed the session cookie: %+v", c)
	}
	expect(t, ctx, `get('/whoami')`, "200 alice")

	// The server side of the rule: no HttpOnly, no __Host-Http- cookie.
	do(t, ctx, "no-httponly", chromedp.Navigate(u+"/no-httponly"), chromedp.WaitVisible(chromedp.ID("ready")))
	if c := cookieNamed(t, ctx, u, "__Host-Http-probe"); c != nil {
		t.Fatalf("the browser kept a __Host-Http- cookie without HttpOnly: %+v", c)
	}
}

// TestScriptCannotPlantASessionUnderTheLegacyName: a script can still write
// the earlier release's name __Host-sid, which is read when __Host-Http-sid
// is absent. An attacker's own session, issued under __Host-Http-sid and
// planted there in a victim's browser, must neither log the victim in as
// the attacker nor be moved under the prefix no script can set.
func TestScriptCannotPlantASessionUnderTheLegacyName(t *testing.T) {
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	u := prefixApp(t)

	// The attacker logs in from their own client.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := client.Post(u+"/login-mallory", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	var attacker string
	for _, c := range res.Cookies() {
		if c.Name == "__Host-Http-sid" {
			attacker = c.Value
		}
	}
	if attacker == "" {
		t.Fatalf("the attacker's login set no __Host-Http-sid: %v", res.Header["Set-Cookie"])
	}

	// In the victim's browser, with no session, a script plants it.
	do(t, ctx, "open", chromedp.Navigate(u+"/"), chromedp.WaitVisible(chromedp.ID("ready")))
	js(t, ctx, `(document.cookie = "__Host-sid=`+attacker+`; Path=/; Secure", "")`)
	if c := cookieNamed(t, ctx, u, "__Host-sid"); c == nil || c.Value != attacker {
		t.Fatalf("control: the script could not plant __Host-sid (%+v); the test proves nothing", c)
	}
	expect(t, ctx, `get('/whoami')`, "200 ")
	// A navigation is where a legacy session is moved.
	do(t, ctx, "navigate", chromedp.Navigate(u+"/"), chromedp.WaitVisible(chromedp.ID("ready")))
	expect(t, ctx, `get('/whoami')`, "200 ")
	if c := cookieNamed(t, ctx, u, "__Host-Http-sid"); c != nil {
		t.Fatalf("the planted session was moved under __Host-Http-sid: %+v", c)
	}
	if c := cookieNamed(t, ctx, u, "__Host-sid"); c != nil {
		t.Fatalf("the planted cookie, naming no session, was not deleted: %+v", c)
	}
}
