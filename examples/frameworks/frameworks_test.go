package frameworks_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/frameworks"
)

func init() { gin.SetMode(gin.TestMode) }

var apps = []struct {
	name string
	new  func(*session.Manager) http.Handler
}{
	{"servemux", frameworks.NewServeMux},
	{"chi", frameworks.NewChi},
	{"gin", frameworks.NewGin},
	{"echo", frameworks.NewEcho},
}

// forEachApp runs fn against each router, each on its own TLS server with a
// browser-like client (cookie jar).
func forEachApp(t *testing.T, fn func(t *testing.T, c *client)) {
	for _, app := range apps {
		t.Run(app.name, func(t *testing.T) {
			t.Parallel()
			m, err := session.New(session.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close() })
			srv := httptest.NewTLSServer(app.new(m))
			t.Cleanup(srv.Close)
			hc := srv.Client()
			hc.Jar, _ = cookiejar.New(nil)
			fn(t, &client{t: t, srv: srv, http: hc})
		})
	}
}

type client struct {
	t    *testing.T
	srv  *httptest.Server
	http *http.Client
}

func (c *client) do(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (c *client) form(path string, v url.Values) (*http.Response, string) {
	return c.do("POST", path, strings.NewReader(v.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

func (c *client) sid() string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "__Host-Http-sid" {
			return ck.Value
		}
	}
	return ""
}

func TestCookieSetAndValuesPersist(t *testing.T) {
	forEachApp(t, func(t *testing.T, c *client) {
		res, body := c.do("POST", "/inc", nil)
		if body != "1" || len(res.Header.Values("Set-Cookie")) == 0 {
			t.Fatalf("first write: %q, Set-Cookie %q", body, res.Header.Values("Set-Cookie"))
		}
		ck := res.Header.Get("Set-Cookie")
		for _, attr := range []string{"__Host-Http-sid=", "HttpOnly", "Secure", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(ck, attr) {
				t.Errorf("cookie %q lacks %s", ck, attr)
			}
		}
		for _, want := range []string{"2", "3"} {
			if _, body := c.do("POST", "/inc", nil); body != want {
				t.Fatalf("n = %q, want %s", body, want)
			}
		}
	})
}

func TestLoginRenewsID(t *testing.T) {
	forEachApp(t, func(t *testing.T, c *client) {
		c.do("POST", "/inc", nil)
		before := c.sid()
		if res, _ := c.form("/login", url.Values{"user": {"alice"}}); res.StatusCode != http.StatusNoContent {
			t.Fatalf("login: %d", res.StatusCode)
		}
		if after := c.sid(); after == "" || after == before {
			t.Fatalf("Login did not renew the ID")
		}
		if _, who := c.do("GET", "/whoami", nil); who != "alice" {
			t.Fatalf("whoami %q", who)
		}
		if _, n := c.do("POST", "/inc", nil); n != "2" {
			t.Fatalf("values lost across Login: n = %q", n)
		}
	})
}

func TestCSRFFormAndHeader(t *testing.T) {
	forEachApp(t, func(t *testing.T, c *client) {
		_, tok := c.do("GET", "/token", nil)
		if tok == "" {
			t.Fatal("no token")
		}
		if res, body := c.form("/form", url.Values{session.CSRFField: {tok}, "x": {"1"}}); res.StatusCode != 200 || body != "accepted 1" {
			t.Fatalf("form with token: %d %q", res.StatusCode, body)
		}
		if res, _ := c.do("POST", "/api", nil, session.CSRFHeader, tok); res.StatusCode != 200 {
			t.Fatalf("header with token: %d", res.StatusCode)
		}
		if res, _ := c.form("/form", url.Values{"x": {"1"}}); res.StatusCode != http.StatusForbidden {
			t.Fatalf("form without token: %d, want 403", res.StatusCode)
		}
		wrong := "x" + tok[1:] // another first character: "x" itself in one token of 64
		if tok[0] == 'x' {
			wrong = "y" + tok[1:]
		}
		if res, _ := c.do("POST", "/api", nil, session.CSRFHeader, wrong); res.StatusCode != http.StatusForbidden {
			t.Fatalf("header with a wrong token: %d, want 403", res.StatusCode)
		}
	})
}

func TestServerSentEventsStreamAndCommit(t *testing.T) {
	forEachApp(t, func(t *testing.T, c *client) {
		req, _ := http.NewRequest("GET", c.srv.URL+"/events", nil)
		res, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		if len(res.Header.Values("Set-Cookie")) == 0 {
			t.Fatal("the stream's headers carry no session cookie")
		}
		sc := bufio.NewScanner(res.Body)
		var got []string
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				got = append(got, line)
			}
		}
		if strings.Join(got, ",") != "data: 1,data: 2,data: 3" {
			t.Fatalf("events %q", got)
		}
		if _, n := c.do("POST", "/inc", nil); n != "2" {
			t.Fatalf("the stream's change was not kept: n = %q", n)
		}
	})
}

func TestWebSocketUpgrade(t *testing.T) {
	forEachApp(t, func(t *testing.T, c *client) {
		c.form("/login", url.Values{"user": {"alice"}})
		d := websocket.Dialer{
			TLSClientConfig: c.http.Transport.(*http.Transport).TLSClientConfig,
			Jar:             c.http.Jar,
		}
		conn, res, err := d.Dial("wss"+strings.TrimPrefix(c.srv.URL, "https")+"/ws", nil)
		if err != nil {
			t.Fatalf("dial: %v (response %v)", err, res)
		}
		defer conn.Close()
		if err := conn.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(msg) != "alice: hi" {
			t.Fatalf("echo %q", msg)
		}
	})
}
