package dbsc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/dbsc"
	"github.com/sessionkit/session/internal/testkit"
)

// env is an application with a Manager and a Binder sharing one settable
// clock (the Manager gives it to its memory store).
type env struct {
	t     *testing.T
	clock *testkit.Clock
	m     *session.Manager
	b     *dbsc.Binder
	srv   *httptest.Server
	logs  *syncBuffer
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, cfg dbsc.Config) *env { return newEnvStore(t, nil, cfg) }

// newEnvStore is newEnv on the given store (nil: a memory store).
func newEnvStore(t *testing.T, st session.Store, cfg dbsc.Config) *env {
	t.Helper()
	e := &env{t: t, clock: testkit.NewClock(time.Now()), logs: &syncBuffer{}}
	m, err := session.New(session.Config{Store: st, Clock: e.clock.Now, Logger: testLogger(e.logs),
		Cookie: session.CookieConfig{AllowInsecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	cfg.Clock = e.clock.Now
	cfg.AllowInsecure = true
	if cfg.Logger == nil {
		cfg.Logger = testLogger(e.logs)
	}
	b, err := dbsc.New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m, e.b = m, b
	e.srv = httptest.NewServer(b.Handler(e.mux()))
	t.Cleanup(e.srv.Close)
	return e
}

// mux is the application: log in (offering DBSC), who am I, renew, log out.
func (e *env) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.FormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := e.b.Offer(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		user := session.FromContext(r.Context()).UserID()
		if user == "" {
			user = "anonymous"
		}
		if dbsc.Bound(r.Context()) {
			user += " (bound)"
		}
		_, _ = io.WriteString(w, user)
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Renew(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// device is a browser speaking DBSC as the W3C draft describes it, with a
// software ES256 key: the protocol-level client of these tests.
type device struct {
	t    *testing.T
	base *url.URL
	http *http.Client
	key  *ecdsa.PrivateKey

	// From the registration header.
	regPath, regChallenge string
	// From the session instructions.
	sessionID, refreshURL, cookieName string
	cachedChallenge                   string
	// refreshes counts refresh POSTs, challenged counts 403 answers.
	refreshes, challenged int
}

func (e *env) newDevice() *device {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	u, _ := url.Parse(e.srv.URL)
	return &device{t: e.t, base: u, http: &http.Client{Jar: jar}, key: key}
}

// do sends a request with the device's cookies.
func (d *device) do(method, path string, hdr http.Header, form url.Values) *http.Response {
	d.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, d.base.ResolveReference(&url.URL{Path: path}).String(), body)
	if err != nil {
		d.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := d.http.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp
}

// get returns the status and body of GET path.
func (d *device) get(path string) (int, string) {
	d.t.Helper()
	resp := d.do(http.MethodGet, path, nil, nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// login logs in and reads the registration header of the response.
func (d *device) login(user string) {
	d.t.Helper()
	resp := d.do(http.MethodPost, "/login", nil, url.Values{"user": {user}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("login: %d", resp.StatusCode)
	}
	reg := resp.Header.Get("Secure-Session-Registration")
	if !strings.HasPrefix(reg, "(ES256);") {
		d.t.Fatalf("registration header %q: want the ES256 algorithm list first", reg)
	}
	params := sfParams(reg[len("(ES256)"):])
	d.regPath, d.regChallenge = params["path"], params["challenge"]
	if d.regPath == "" || d.regChallenge == "" {
		d.t.Fatalf("registration header %q: no path or challenge", reg)
	}
}

// proof signs a dbsc+jwt proof for challenge with key; withJWK embeds the
// public key (registration).
func proof(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any, withJWK bool) string {
	t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: withJWK}).WithType("dbsc+jwt")
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sfQuote serializes an RFC 9651 string.
func sfQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// registerWith POSTs a registration with the given proof header value.
func (d *device) registerWith(value string) *http.Response {
	d.t.Helper()
	return d.do(http.MethodPost, d.regPath, http.Header{"Secure-Session-Response": {value}}, nil)
}

// register completes the registration; it fails the test unless the server
// answers with session instructions and a bound cookie.
func (d *device) register() {
	d.t.Helper()
	resp := d.registerWith(sfQuote(proof(d.t, d.key, map[string]any{"jti": d.regChallenge}, true)))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("register: %d", resp.StatusCode)
	}
	d.sessionID, d.cachedChallenge = "", "" // a registration starts a new DBSC session
	d.readInstructions(resp)
}

// instructionsJSON is the spec's JSON session instructions.
type instructionsJSON struct {
	SessionIdentifier string `json:"session_identifier"`
	RefreshURL        string `json:"refresh_url"`
	Continue          *bool  `json:"continue"`
	Scope             *struct {
		IncludeSite *bool `json:"include_site"`
	} `json:"scope"`
	Credentials []struct {
		Type, Name, Attributes string
	} `json:"credentials"`
}

func (d *device) readInstructions(resp *http.Response) instructionsJSON {
	d.t.Helper()
	var in instructionsJSON
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
		d.t.Fatalf("instructions: %v", err)
	}
	if in.Continue != nil && !*in.Continue {
		d.sessionID = "" // the browser drops the session
		return in
	}
	if in.SessionIdentifier == "" || in.Scope == nil || in.Scope.IncludeSite == nil || len(in.Credentials) != 1 ||
		in.Credentials[0].Type != "cookie" {
		d.t.Fatalf("instructions %+v: missing required keys", in)
	}
	if d.sessionID != "" && in.SessionIdentifier != d.sessionID {
		d.t.Fatalf("refresh answered for session %q, want %q", in.SessionIdentifier, d.sessionID)
	}
	d.sessionID, d.refreshURL, d.cookieName = in.SessionIdentifier, in.RefreshURL, in.Credentials[0].Name
	if !hasCookie(resp, d.cookieName) {
		d.t.Fatalf("instructions without a Set-Cookie of the bound cookie %q", d.cookieName)
	}
	d.cacheChallenge(resp)
	return in
}

func hasCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// cacheChallenge keeps a Secure-Session-Challenge for this session.
func (d *device) cacheChallenge(resp *http.Response) {
	for _, h := range resp.Header.Values("Secure-Session-Challenge") {
		value, params := sfItem(h)
		if params["id"] == d.sessionID {
			d.cachedChallenge = value
		}
	}
}

// refresh runs the refresh procedure as a browser does when the bound
// cookie is missing: POST with the session ID (and a proof of the cached
// challenge, if any); on 403, sign the new challenge and POST once more.
// It returns the final response's status and whether the session goes on.
func (d *device) refresh() (status int, goesOn bool) {
	d.t.Helper()
	for attempt := 0; attempt < 2; attempt++ {
		hdr := http.Header{"Sec-Secure-Session-Id": {sfQuote(d.sessionID)}}
		if d.cachedChallenge != "" {
			hdr.Set("Secure-Session-Response", sfQuote(proof(d.t, d.key, map[string]any{"jti": d.cachedChallenge}, false)))
		}
		d.refreshes++
		resp := d.do(http.MethodPost, d.refreshURL, hdr, nil)
		if resp.StatusCode == http.StatusForbidden {
			d.challenged++
			d.cachedChallenge = ""
			d.cacheChallenge(resp)
			resp.Body.Close()
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, false
		}
		d.readInstructions(resp)
		return resp.StatusCode, d.sessionID != ""
	}
	return http.StatusForbidden, false
}

// copyCookiesTo gives other every cookie of d: an infostealer's haul.
func (d *device) copyCookiesTo(other *device) {
	other.http.Jar.SetCookies(other.base, d.http.Jar.Cookies(d.base))
}

// sfItem parses `"value";k="v";...` (RFC 9651 string item with string
// parameters), enough for these headers.
func sfItem(h string) (string, map[string]string) {
	h = strings.TrimSpace(h)
	if !strings.HasPrefix(h, `"`) {
		return "", nil
	}
	end := strings.Index(h[1:], `"`) + 1
	return h[1:end], sfParams(h[end+1:])
}

// sfParams parses `;k="v";k2="v2"`.
func sfParams(s string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}
