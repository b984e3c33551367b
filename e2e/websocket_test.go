package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	gorillaws "github.com/gorilla/websocket"

	"github.com/sessionkit/session"
)

// wsServer runs the session Handler over TLS around two WebSocket
// endpoints, one per library. Each sets a session value before the upgrade,
// echoes one message, and sets another value afterwards (saved when the
// handler returns).
func wsServer(t *testing.T) *httptest.Server {
	t.Helper()
	m, err := session.New(session.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Set(r.URL.Query().Get("k"), r.URL.Query().Get("v"))
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).GetString(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("GET /ws/gorilla", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set("ws", "gorilla"); err != nil {
			t.Errorf("set: %v", err)
		}
		up := gorillaws.Upgrader{}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade answered the client
		}
		defer conn.Close()
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			t.Errorf("gorilla read: %v", err)
			return
		}
		_ = s.Set("after", "gorilla-after")
		if err := s.Save(r.Context()); err != nil {
			t.Errorf("save: %v", err)
		}
		_ = conn.WriteMessage(typ, msg)
	})
	mux.HandleFunc("GET /ws/coder", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set("ws", "coder"); err != nil {
			t.Errorf("set: %v", err)
		}
		conn, err := coderws.Accept(w, r, nil)
		if err != nil {
			t.Errorf("coder accept: %v", err)
			return
		}
		defer conn.CloseNow()
		typ, msg, err := conn.Read(r.Context())
		if err != nil {
			t.Errorf("coder read: %v", err)
			return
		}
		_ = s.Set("after", "coder-after")
		if err := s.Save(r.Context()); err != nil {
			t.Errorf("save: %v", err)
		}
		_ = conn.Write(r.Context(), typ, msg)
		_ = conn.Close(coderws.StatusNormalClosure, "")
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	t.Cleanup(srv.Close)
	return srv
}

// wsClient is a browser-like client of srv: a cookie jar and srv's CA.
type wsClient struct {
	srv  *httptest.Server
	jar  http.CookieJar
	http *http.Client
	tls  *tls.Config
}

func newWSClient(t *testing.T, srv *httptest.Server) *wsClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &wsClient{srv: srv, jar: jar, tls: tlsCfg, http: &http.Client{Jar: jar, Transport: tr}}
}

func (c *wsClient) do(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (c *wsClient) token() string {
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "__Host-Http-sid" {
			return ck.Value
		}
	}
	return ""
}

func (c *wsClient) wsURL(path string) string {
	return "wss" + strings.TrimPrefix(c.srv.URL, "https") + path
}

// checkSession asserts what the WebSocket handler stored is there, the
// cookie did not change, and the earlier value survived.
func checkSession(t *testing.T, c *wsClient, lib, tok string) {
	t.Helper()
	if got := c.token(); got != tok {
		t.Errorf("the session cookie changed across the upgrade")
	}
	for k, want := range map[string]string{"a": "before", "ws": lib, "after": lib + "-after"} {
		if _, got := c.do(t, "GET", "/get?k="+k); got != want {
			t.Errorf("%s: value %q = %q, want %q", lib, k, got, want)
		}
	}
}

// gorilla/websocket v1.5.3 requires w.(http.Hijacker) and writes its own
// 101: under Handler the upgrade works, the value set before the upgrade is
// persisted, the echo works, and the session cookie keeps working.
func TestWebSocketGorilla(t *testing.T) {
	srv := wsServer(t)
	c := newWSClient(t, srv)
	c.do(t, "POST", "/set?k=a&v=before")
	tok := c.token()
	if tok == "" {
		t.Fatal("no session cookie")
	}
	d := gorillaws.Dialer{TLSClientConfig: c.tls, Jar: c.jar, HandshakeTimeout: 10 * time.Second}
	conn, res, err := d.Dial(c.wsURL("/ws/gorilla"), nil)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, res)
	}
	defer conn.Close()
	if err := conn.WriteMessage(gorillaws.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := conn.ReadMessage()
	if err != nil || string(msg) != "hello" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
	checkSession(t, c, "gorilla", tok)
}

// A cookieless gorilla upgrade whose handler starts a session cannot get
// the new cookie through gorilla's hand-written 101: the upgrade is refused
// and the refusal carries the cookie, so the value is not lost silently.
func TestWebSocketGorillaNewSessionIsRefusedNotLost(t *testing.T) {
	srv := wsServer(t)
	c := newWSClient(t, srv)
	d := gorillaws.Dialer{TLSClientConfig: c.tls, Jar: c.jar, HandshakeTimeout: 10 * time.Second}
	conn, res, err := d.Dial(c.wsURL("/ws/gorilla"), nil)
	if err == nil {
		conn.Close()
		t.Fatal("upgrade of a new session succeeded; its cookie cannot have reached the client")
	}
	if res == nil || res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("refusal: %v, %v", res, err)
	}
	if c.token() == "" {
		t.Fatal("the refusal carried no session cookie")
	}
	if _, got := c.do(t, "GET", "/get?k=ws"); got != "gorilla" {
		t.Errorf("value set before the refused upgrade: %q", got)
	}
}

// coder/websocket writes its 101 through the wrapper and then hijacks: an
// existing session keeps its cookie and gets its values, and a new session's
// cookie travels in the 101 itself.
func TestWebSocketCoder(t *testing.T) {
	srv := wsServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	echo := func(c *wsClient) {
		t.Helper()
		conn, res, err := coderws.Dial(ctx, c.wsURL("/ws/coder"), &coderws.DialOptions{HTTPClient: c.http})
		if err != nil {
			t.Fatalf("dial: %v (response %v)", err, res)
		}
		defer conn.CloseNow()
		if err := conn.Write(ctx, coderws.MessageText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		_, msg, err := conn.Read(ctx)
		if err != nil || string(msg) != "hello" {
			t.Fatalf("echo: %q, %v", msg, err)
		}
		_ = conn.Close(coderws.StatusNormalClosure, "")
	}

	c := newWSClient(t, srv)
	c.do(t, "POST", "/set?k=a&v=before")
	tok := c.token()
	if tok == "" {
		t.Fatal("no session cookie")
	}
	echo(c)
	checkSession(t, c, "coder", tok)

	fresh := newWSClient(t, srv)
	echo(fresh)
	if fresh.token() == "" {
		t.Fatal("the 101 carried no cookie for the new session")
	}
	if _, got := fresh.do(t, "GET", "/get?k=ws"); got != "coder" {
		t.Errorf("new session's value: %q", got)
	}
}
