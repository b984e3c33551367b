package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
)

// Issue 27, Partitioned: a session used inside a cross-site iframe. The
// embedded app (https://localhost:port) runs inside a page of another site
// (https://127.0.0.1:port). With SameSite=None and Partitioned (the only
// combination Config accepts for Partitioned) the login inside the iframe
// holds; the same app with the default SameSite=Lax loses it, which is why
// Partitioned with Lax is refused.

// embeddedApp serves a frame page that logs in and answers the user.
func embeddedApp(t *testing.T, cookie session.CookieConfig) string {
	t.Helper()
	m, err := session.New(session.Config{Cookie: cookie})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	mux := http.NewServeMux()
	// The frame logs in, asks who it is, and tells the embedding page.
	mux.HandleFunc("GET /frame", func(w http.ResponseWriter, _ *http.Request) {
		page(w, 200, `<script>`+fetchJS+`
(async () => { await post('/login'); parent.postMessage(await get('/whoami'), '*'); })();
</script><p>frame</p>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		reply(w, session.FromContext(r.Context()).Login(r.Context(), "alice"))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// embeddingPage shows what the app's frame reports in #done.
const embeddingPage = `<p id="top">top</p><p id="result"></p><script>
addEventListener('message', e => { const p = document.getElementById('result'); p.textContent = e.data; p.id = 'done'; });
</script><iframe src="%s/frame"></iframe>`

func TestPartitionedCookieInCrossSiteIframe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cookie session.CookieConfig
		want   string
	}{
		{"Partitioned SameSite=None", session.CookieConfig{SameSite: http.SameSiteNoneMode, Partitioned: true}, "200 alice"},
		{"default SameSite=Lax", session.CookieConfig{}, "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newBrowser(t, chromedp.Flag("ignore-certificate-errors", true))
			app := embeddedApp(t, tc.cookie)
			top := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				page(w, 200, fmt.Sprintf(embeddingPage, app))
			}))
			t.Cleanup(top.Close)
			do(t, ctx, "open the embedding page", chromedp.Navigate(top.URL+"/"), chromedp.WaitVisible(chromedp.ID("done")))
			if got := run(t, ctx, "result", chromedp.Text(chromedp.ID("done"))); got != tc.want {
				t.Fatalf("login then whoami inside the cross-site iframe: %q, want %q", got, tc.want)
			}
			if tc.cookie.Partitioned {
				// Partitioned: the cookie belongs to the app embedded in
				// that site only, not to the app opened on its own.
				do(t, ctx, "open the app", chromedp.Navigate(app+"/whoami"), chromedp.WaitReady("body"))
				if got := run(t, ctx, "top-level whoami", chromedp.Text(chromedp.CSS("body"))); got != "" {
					t.Fatalf("the partitioned session is visible outside the iframe: %q", got)
				}
			}
		})
	}
	// Config refuses the combination that cannot work.
	if _, err := session.New(session.Config{Cookie: session.CookieConfig{Partitioned: true}}); err == nil {
		t.Fatal("Partitioned with SameSite=Lax was accepted")
	}
}
