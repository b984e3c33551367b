package e2e

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
)

// legacyMoveApp is the test application on m: a page with fetch helpers,
// a form page whose token the test posts back, a login and a whoami.
func legacyMoveApp(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		page(w, 200, `<script>`+fetchJS+`</script><p id="ready">ready</p>`)
	})
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		page(w, 200, `<script>`+fetchJS+`</script><p id="token">`+html.EscapeString(session.CSRFToken(r))+`</p><p id="ready">ready</p>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		reply(w, session.FromContext(r.Context()).Login(r.Context(), "alice"))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})
	mux.Handle("POST /submit", m.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})))
	return m.Handler(mux)
}

// TestLegacyMoveInChromium: the upgrade from the earlier release's cookie
// name (__Host-sid) to __Host-Http-sid, in Debian's Chromium, which sends
// the Fetch Metadata the move relies on. A fetch of a page the earlier
// release served is answered under the old name and moves nothing; the
// next page navigation moves the session under the new name with a new ID
// and deletes the old cookie, and the form that page rendered posts.
func TestLegacyMoveInChromium(t *testing.T) {
	ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
	st := session.NewMemoryStore()
	before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = before.Close() })
	m, err := session.New(session.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	old, cur := legacyMoveApp(before), legacyMoveApp(m)
	var upgraded atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if upgraded.Load() {
			cur.ServeHTTP(w, r)
			return
		}
		old.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	do(t, ctx, "open", chromedp.Navigate(u+"/"), chromedp.WaitVisible(chromedp.ID("ready")))
	expect(t, ctx, `post('/login')`, "200 ok")
	legacy := cookieNamed(t, ctx, u, "__Host-sid")
	if legacy == nil {
		t.Fatal("the earlier release set no __Host-sid")
	}
	// A form the earlier release rendered: the session holds its CSRF secret.
	do(t, ctx, "open form (earlier release)", chromedp.Navigate(u+"/form"), chromedp.WaitVisible(chromedp.ID("ready")))
	if c := cookieNamed(t, ctx, u, "__Host-sid"); c == nil || c.Value != legacy.Value {
		t.Fatalf("the earlier release changed __Host-sid: %+v", c)
	}

	upgraded.Store(true)
	expect(t, ctx, `get('/whoami')`, "200 alice")
	if c := cookieNamed(t, ctx, u, "__Host-Http-sid"); c != nil {
		t.Fatalf("a fetch moved the session: __Host-Http-sid %+v", c)
	}
	if c := cookieNamed(t, ctx, u, "__Host-sid"); c == nil || c.Value != legacy.Value {
		t.Fatalf("a fetch changed __Host-sid: %+v", c)
	}

	do(t, ctx, "open form", chromedp.Navigate(u+"/form"), chromedp.WaitVisible(chromedp.ID("ready")))
	moved := cookieNamed(t, ctx, u, "__Host-Http-sid")
	if moved == nil || moved.Value == legacy.Value || !moved.HTTPOnly {
		t.Fatalf("the navigation did not move the session under a new ID: %+v", moved)
	}
	if c := cookieNamed(t, ctx, u, "__Host-sid"); c != nil {
		t.Fatalf("the old cookie survived the move: %+v", c)
	}
	token := run(t, ctx, "read token", chromedp.Text(chromedp.ID("token")))
	expect(t, ctx, `fetch('/submit', {method: 'POST', headers: {'`+session.CSRFHeader+`': '`+token+`'}}).then(async r => r.status + ' ' + (await r.text()).trim())`, "200 alice")
	expect(t, ctx, `get('/whoami')`, "200 alice")
}
