package ginsession_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/ginsession"
)

func init() { gin.SetMode(gin.TestMode) }

type events struct {
	mu sync.Mutex
	ev []session.Event
}

func (e *events) add(_ context.Context, ev session.Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
}

func (e *events) count(kind string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.ev {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// routes registers the test app's handlers on g.
func routes(g gin.IRoutes) {
	g.POST("/inc", func(c *gin.Context) {
		s := ginsession.From(c)
		n := s.GetInt("n") + 1
		if err := s.Set("n", n); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.JSON(http.StatusOK, n)
	})
	g.POST("/login", func(c *gin.Context) {
		if err := ginsession.From(c).Login(c.Request.Context(), "alice"); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.Status(http.StatusNoContent)
	})
	g.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, ginsession.From(c).UserID()) })
	g.GET("/token", func(c *gin.Context) { c.String(http.StatusOK, session.CSRFToken(c.Request)) })
}

type fixture struct {
	srv *httptest.Server
	ev  *events
	c   *http.Client
}

func newFixture(t *testing.T, mount func(*gin.Engine, *session.Manager)) *fixture {
	t.Helper()
	ev := &events{}
	m, err := session.New(session.Config{OnEvent: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	mount(r, m)
	srv := httptest.NewTLSServer(r)
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	return &fixture{srv: srv, ev: ev, c: c}
}

func (f *fixture) do(t *testing.T, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := f.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func sid(f *fixture) string {
	u, _ := url.Parse(f.srv.URL)
	for _, c := range f.c.Jar.Cookies(u) {
		if c.Name == "__Host-Http-sid" {
			return c.Value
		}
	}
	return ""
}

func mountAdapter(r *gin.Engine, m *session.Manager) {
	r.Use(ginsession.Middleware(m))
	routes(r)
}

func TestMiddlewareSetsCookieAndValuesPersist(t *testing.T) {
	f := newFixture(t, mountAdapter)
	for i, want := range []string{"1", "2", "3"} {
		res, body := f.do(t, "POST", "/inc", nil)
		if res.StatusCode != http.StatusOK || body != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, res.StatusCode, body, want)
		}
		if i == 0 && len(res.Header.Values("Set-Cookie")) == 0 {
			t.Fatal("no Set-Cookie on the first write")
		}
	}
	if sid(f) == "" {
		t.Fatal("no session cookie in the jar")
	}
	if n := f.ev.count(session.EventCreated); n != 1 {
		t.Fatalf("%d sessions created, want 1", n)
	}
	if n := f.ev.count(session.EventUncommitted); n != 0 {
		t.Fatalf("%d uncommitted events under the adapter", n)
	}
}

func TestMiddlewareLoginRenews(t *testing.T) {
	f := newFixture(t, mountAdapter)
	f.do(t, "POST", "/inc", nil)
	before := sid(f)
	res, _ := f.do(t, "POST", "/login", nil)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("login: %d", res.StatusCode)
	}
	after := sid(f)
	if after == "" || after == before {
		t.Fatalf("Login did not renew the ID (before %q, after %q)", before, after)
	}
	if _, who := f.do(t, "GET", "/whoami", nil); who != "alice" {
		t.Fatalf("whoami = %q", who)
	}
	if _, n := f.do(t, "POST", "/inc", nil); n != "2" {
		t.Fatalf("values lost across Login: n = %s", n)
	}
}

func TestCSRFWithFormAndHeader(t *testing.T) {
	f := newFixture(t, func(r *gin.Engine, m *session.Manager) {
		r.Use(ginsession.Middleware(m))
		r.GET("/token", func(c *gin.Context) { c.String(http.StatusOK, session.CSRFToken(c.Request)) })
		g := r.Group("/", ginsession.CSRF(m))
		g.POST("/form", func(c *gin.Context) { c.String(http.StatusOK, "form ok "+c.PostForm("x")) })
		g.POST("/api", func(c *gin.Context) { c.String(http.StatusOK, "api ok") })
	})
	_, tok := f.do(t, "GET", "/token", nil)
	if tok == "" {
		t.Fatal("no CSRF token")
	}
	form := url.Values{session.CSRFField: {tok}, "x": {"1"}}.Encode()
	res, body := f.do(t, "POST", "/form", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded")
	if res.StatusCode != http.StatusOK || body != "form ok 1" {
		t.Fatalf("form with a valid token: %d %q", res.StatusCode, body)
	}
	res, _ = f.do(t, "POST", "/api", nil, session.CSRFHeader, tok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("header with a valid token: %d", res.StatusCode)
	}
	res, _ = f.do(t, "POST", "/api", nil)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("no token: %d, want 403", res.StatusCode)
	}
	wrong := "x" + tok[1:] // another first character: "x" itself in one token of 64
	if tok[0] == 'x' {
		wrong = "y" + tok[1:]
	}
	res, _ = f.do(t, "POST", "/api", nil, session.CSRFHeader, wrong)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: %d, want 403", res.StatusCode)
	}
}

func TestMiddlewareRefusesCrossOriginAndAborts(t *testing.T) {
	ran := false
	f := newFixture(t, func(r *gin.Engine, m *session.Manager) {
		r.Use(ginsession.Middleware(m))
		r.POST("/x", func(c *gin.Context) { ran = true })
	})
	res, _ := f.do(t, "POST", "/x", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if res.StatusCode != http.StatusForbidden || ran {
		t.Fatalf("cross-origin POST: %d, handler ran: %v", res.StatusCode, ran)
	}
}

// The naive adapter loses the session; the Manager says so loudly.
func TestNaiveAdapterProducesUncommittedEvent(t *testing.T) {
	f := newFixture(t, func(r *gin.Engine, m *session.Manager) {
		r.Use(func(c *gin.Context) {
			m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				c.Request = r
				c.Next()
			})).ServeHTTP(c.Writer, c.Request)
		})
		routes(r)
	})
	res, _ := f.do(t, "POST", "/inc", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatal("the naive adapter set a cookie: the test no longer shows the failure")
	}
	if n := f.ev.count(session.EventUncommitted); n != 1 {
		t.Fatalf("%d %s events, want 1", n, session.EventUncommitted)
	}
}

// Without any adapter, From returns the detached session: an error, not a
// nil-pointer panic.
func TestFromWithoutMiddlewareIsNoSession(t *testing.T) {
	f := newFixture(t, func(r *gin.Engine, _ *session.Manager) { routes(r) })
	res, body := f.do(t, "POST", "/login", nil)
	if res.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "ginsession") {
		t.Fatalf("login without middleware: %d %q", res.StatusCode, body)
	}
}
