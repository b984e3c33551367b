package session_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// csrfApp is the application the CSRF tests run behind Handler and CSRF.
func csrfApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.CSRFToken(r))
	})
	mux.HandleFunc("GET /tokens", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.CSRFToken(r)+"\n"+session.CSRFToken(r))
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).GetString(r.URL.Query().Get("k")))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		// FormValue: the value may come from the query or the form body
		// the CSRF middleware already parsed.
		if err := session.FromContext(r.Context()).Set(r.FormValue("k"), r.FormValue("v")); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "set")
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, "no file", http.StatusBadRequest)
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		fmt.Fprintf(w, "%s:%s", r.FormValue("note"), b)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, "error", http.StatusConflict)
			return
		}
		fmt.Fprint(w, "logged in")
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Renew(r.Context()); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "renewed")
	})
	mux.HandleFunc("POST /logout-token", func(w http.ResponseWriter, r *http.Request) {
		// Logout, then render the next page's form.
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, session.CSRFToken(r))
	})
	mux.HandleFunc("GET /token-then-set", func(w http.ResponseWriter, r *http.Request) {
		tok := session.CSRFToken(r)
		if err := session.FromContext(r.Context()).Set("seen", true); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, tok)
	})
	mux.HandleFunc("GET /set-only", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set(r.FormValue("k"), r.FormValue("v")); err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "set")
	})
	mux.HandleFunc("GET /late-token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "body first\n")
		fmt.Fprint(w, session.CSRFToken(r))
	})
	mux.HandleFunc("/any", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	return mux
}

// newCSRFEnv starts a TLS server running m.Handler(m.CSRF(csrfApp())).
func newCSRFEnv(t *testing.T, cfg session.Config) *env {
	t.Helper()
	var h atomic.Pointer[http.Handler]
	e := newEnv(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.Load()).ServeHTTP(w, r)
	}))
	wrapped := e.m.CSRF(csrfApp())
	h.Store(&wrapped)
	return e
}

// csrfSameOrigin is what a browser sends with a same-origin fetch or form.
var csrfSameOrigin = []string{"Sec-Fetch-Site", "same-origin"}

// csrfGetToken fetches a fresh token for the client's session.
func (c *client) csrfGetToken() string {
	c.t.Helper()
	res, body := c.get("/token")
	require.Equal(c.t, http.StatusOK, res.StatusCode)
	require.Len(c.t, body, 86, "masked token: base64url of 64 bytes")
	return body
}

// csrfPost POSTs with the token in the X-CSRF-Token header.
func (c *client) csrfPost(path, token string, hdr ...string) (*http.Response, string) {
	c.t.Helper()
	return c.do("POST", path, nil, append(append([]string{session.CSRFHeader, token}, csrfSameOrigin...), hdr...)...)
}

// csrfPostForm POSTs an URL-encoded form.
func (c *client) csrfPostForm(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	return c.do("POST", path, strings.NewReader(form.Encode()),
		append([]string{"Content-Type", "application/x-www-form-urlencoded"}, csrfSameOrigin...)...)
}

// csrfFailures returns the reasons of the EventCSRFFailure events so far.
func (e *env) csrfFailures() []string {
	var out []string
	for _, ev := range e.events.all() {
		if ev.Kind == session.EventCSRFFailure {
			out = append(out, ev.Reason)
		}
	}
	return out
}

func TestCSRFCrossSitePostIsRefusedAndChangesNothing(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	tok := c.csrfGetToken()
	res, _ := c.csrfPost("/set?k=a&v=1", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)
	sid := c.token()
	require.NotEmpty(t, sid)

	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
	} {
		t.Run(hdr[0], func(t *testing.T) {
			// Even with a valid token: the cross-origin refusal comes first.
			res, body := c.do("POST", "/set?k=a&v=evil", nil, session.CSRFHeader, tok, hdr[0], hdr[1])
			assert.Equal(t, http.StatusForbidden, res.StatusCode)
			assert.Equal(t, "Forbidden\n", body)
			assert.Empty(t, res.Header.Values("Set-Cookie"))

			// Without a session at all: none is created.
			fresh := e.client()
			res, _ = fresh.do("POST", "/set?k=a&v=evil", nil, hdr[0], hdr[1])
			assert.Equal(t, http.StatusForbidden, res.StatusCode)
			assert.Empty(t, res.Header.Values("Set-Cookie"))
			assert.Empty(t, fresh.token())
		})
	}
	_, v := c.get("/get?k=a")
	assert.Equal(t, "1", v, "the session's values are unchanged")
	assert.Equal(t, sid, c.token(), "the session ID is unchanged")
	assert.Contains(t, e.events.kinds(), session.EventCrossOrigin)
	assert.Empty(t, e.csrfFailures(), "refused before the CSRF middleware ran")
}

func TestCSRFSameOriginPostWithoutTokenIsRefused(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	tok := c.csrfGetToken()
	res, _ := c.csrfPost("/set?k=a&v=1", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)

	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		res, body := c.do(method, "/any", nil, csrfSameOrigin...)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, method)
		assert.Equal(t, "Forbidden\n", body, method)
	}
	res, _ = c.do("POST", "/set?k=a&v=2", nil, csrfSameOrigin...)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	_, v := c.get("/get?k=a")
	assert.Equal(t, "1", v)

	// The token is never taken from the URL.
	res, _ = c.do("POST", "/set?k=a&v=3&"+session.CSRFField+"="+tok, nil, csrfSameOrigin...)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.csrfPostForm("/set?"+session.CSRFField+"="+tok, url.Values{"k": {"a"}, "v": {"4"}})
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "a form body with the token only in the URL")

	// A visitor without a session is refused and gets none.
	fresh := e.client()
	res, _ = fresh.do("POST", "/set?k=a&v=1", nil, csrfSameOrigin...)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Empty(t, res.Header.Values("Set-Cookie"))

	// Safe methods need no token.
	for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
		res, _ := fresh.do(method, "/any", nil, csrfSameOrigin...)
		assert.Equal(t, http.StatusOK, res.StatusCode, method)
	}
	assert.NotEmpty(t, e.csrfFailures())
	for _, r := range e.csrfFailures() {
		assert.Equal(t, "missing", r)
	}
}

func TestCSRFTokenInHeaderOrFormPasses(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	tok := c.csrfGetToken()

	res, body := c.csrfPost("/set?k=h&v=header", tok)
	require.Equal(t, http.StatusOK, res.StatusCode, body)

	// URL-encoded form: the handler still sees the other fields.
	res, body = c.csrfPostForm("/set", url.Values{"k": {"f"}, "v": {"form"}, session.CSRFField: {tok}})
	require.Equal(t, http.StatusOK, res.StatusCode, body)

	// Multipart form with a file: the handler still reads it.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField(session.CSRFField, tok))
	require.NoError(t, mw.WriteField("note", "n"))
	fw, err := mw.CreateFormFile("file", "f.txt")
	require.NoError(t, err)
	_, _ = fw.Write([]byte("contents"))
	require.NoError(t, mw.Close())
	res, body = c.do("POST", "/upload", &buf, append([]string{"Content-Type", mw.FormDataContentType()}, csrfSameOrigin...)...)
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	assert.Equal(t, "n:contents", body)

	// A wrong header is not rescued by a right form field.
	res, _ = c.do("POST", "/set", strings.NewReader(url.Values{"k": {"x"}, session.CSRFField: {tok}}.Encode()),
		"Content-Type", "application/x-www-form-urlencoded", session.CSRFHeader, "nope")
	assert.Equal(t, http.StatusForbidden, res.StatusCode)

	_, v := c.get("/get?k=h")
	assert.Equal(t, "header", v)
	_, v = c.get("/get?k=f")
	assert.Equal(t, "form", v)
	_, v = c.get("/get?k=x")
	assert.Empty(t, v)
}

func TestCSRFTokenDiffersPerResponseAndAllVerify(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	seen := map[string]bool{}
	var toks []string
	for range 3 {
		toks = append(toks, c.csrfGetToken())
	}
	_, two := c.get("/tokens")
	toks = append(toks, strings.Split(two, "\n")...)
	require.Len(t, toks, 5)
	for _, tok := range toks {
		assert.False(t, seen[tok], "token repeated: not masked per response")
		seen[tok] = true
	}
	// Shuffle the order: every token stays valid, none is single-use.
	for _, i := range []int{4, 0, 2, 3, 1, 0} {
		res, _ := c.csrfPost("/any", toks[i])
		assert.Equal(t, http.StatusOK, res.StatusCode, "token %d", i)
	}
	// Tokens are bound to their session.
	other := e.client()
	otherTok := other.csrfGetToken()
	res, _ := c.csrfPost("/any", otherTok)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = other.csrfPost("/any", toks[0])
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
}

func TestCSRFTokenRotatesOnLoginAndRenew(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	tok := c.csrfGetToken()

	res, _ := c.csrfPost("/login?u=alice", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.csrfPost("/any", tok)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "pre-login token must die with the old ID")

	tok2 := c.csrfGetToken()
	res, _ = c.csrfPost("/any", tok2)
	assert.Equal(t, http.StatusOK, res.StatusCode)

	res, _ = c.csrfPost("/renew", tok2)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.csrfPost("/any", tok2)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "token must die with Renew")

	tok3 := c.csrfGetToken()
	res, _ = c.csrfPost("/any", tok3)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, []string{"mismatch", "mismatch"}, e.csrfFailures())
}

func TestCSRFFailureEventCarriesNoToken(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	tok := c.csrfGetToken()
	other := e.client()
	otherTok := other.csrfGetToken()
	_, _ = c.csrfPost("/login?u=bob", tok)
	tok = c.csrfGetToken()
	sid := c.token()
	require.NotEmpty(t, sid)

	res, body := c.csrfPost("/any", otherTok)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.NotContains(t, body, otherTok)
	res, _ = c.csrfPost("/any", tok[:40]+"!"+tok[41:])
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do("POST", "/any", nil, csrfSameOrigin...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	var got []session.Event
	for _, ev := range e.events.all() {
		if ev.Kind == session.EventCSRFFailure {
			got = append(got, ev)
		}
	}
	require.Len(t, got, 3)
	assert.Equal(t, []string{"mismatch", "malformed", "missing"}, []string{got[0].Reason, got[1].Reason, got[2].Reason})
	for _, ev := range got {
		assert.Equal(t, "bob", ev.UserID)
		assert.NotEmpty(t, ev.Session, "the session's hashed handle, for correlation")
		assert.NotEmpty(t, ev.IP)
		fields := fmt.Sprintf("%+v", ev)
		for _, secret := range []string{tok, otherTok, tok[:40], sid} {
			assert.NotContains(t, fields, secret)
		}
	}
	logs := suiteLog.String()
	assert.Contains(t, logs, session.EventCSRFFailure)
	for _, secret := range []string{tok, otherTok, tok[:40]} {
		assert.NotContains(t, logs, secret, "a CSRF token reached the log")
	}
}

func TestCSRFRejectsMalformedTokens(t *testing.T) {
	e := newCSRFEnv(t, session.Config{})
	c := e.client()
	tok := c.csrfGetToken()
	// Flip the last character's low bits: same bytes under a lax decoder,
	// not a canonical encoding.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", tok[85])
	nonCanonical := tok[:85] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])
	std := strings.NewReplacer("-", "+", "_", "/").Replace(tok)
	if std == tok {
		std = tok[:10] + "+" + tok[11:]
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	cases := map[string]string{
		"short":             tok[:85],
		"long":              tok + "A",
		"padded":            tok[:84] + "==",
		"std alphabet":      std,
		"non-canonical":     nonCanonical,
		"newline inside":    tok[:40] + "\n" + tok[41:],
		"newline appended":  tok[:85] + "\n",
		"unmasked secret":   base64.RawURLEncoding.EncodeToString(raw[32:]),
		"multibyte":         strings.Repeat("é", 43),
		"invalid utf8":      strings.Repeat("\xff", 86),
		"double length":     tok + tok,
		"NUL":               strings.Repeat("\x00", 86),
		"spaces":            strings.Repeat(" ", 86),
		"all A, right size": strings.Repeat("A", 86),
	}
	for name, bad := range cases {
		// In a form field, so any byte reaches the middleware.
		res, _ := c.csrfPostForm("/any", url.Values{session.CSRFField: {bad}})
		assert.Equal(t, http.StatusForbidden, res.StatusCode, name)
	}
	reasons := e.csrfFailures()
	assert.Len(t, reasons, len(cases))
	n := 0
	for _, r := range reasons {
		if r == "mismatch" {
			n++
		}
	}
	// Only a well-formed 86-character token can be a mismatch.
	assert.Equal(t, 1, n, "%v", reasons)
	res, _ := c.csrfPostForm("/any", url.Values{session.CSRFField: {tok}})
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

func TestCSRFOutsideHandlerFailsClosed(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	var tok atomic.Value
	h := m.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok.Store(session.CSRFToken(r))
		fmt.Fprint(w, "ran")
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "ran")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "", tok.Load(), "no token without a session")
}

func TestCSRFTokenAfterHeadersSentOnNewSession(t *testing.T) {
	for _, loadFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("loaded before the body: %v", loadFirst), func(t *testing.T) {
			m, err := session.New(session.Config{Logger: testLogger()})
			require.NoError(t, err)
			t.Cleanup(func() { _ = m.Close() })
			var tok atomic.Value
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if loadFirst {
					_ = session.FromContext(r.Context()).IsNew()
				}
				fmt.Fprint(w, "body first")
				tok.Store(session.CSRFToken(r))
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			assert.Equal(t, "", tok.Load(), "a token the browser's cookie cannot back is useless")
			assert.Empty(t, rec.Result().Cookies())
		})
	}
}

func TestCSRFStoreFailureIsAnErrorNotACSRFFailure(t *testing.T) {
	fs := &csrfFlakyStore{Store: session.NewMemoryStore()}
	t.Cleanup(func() { _ = fs.Store.(*session.MemoryStore).Close() })
	e := newCSRFEnv(t, session.Config{Store: fs})
	c := e.client()
	tok := c.csrfGetToken()
	// A stored session, so the check needs the store (an anonymous
	// visitor's token is stateless and needs none).
	res, _ := c.csrfPost("/set?k=a&v=1", tok)
	require.Equal(t, http.StatusOK, res.StatusCode)
	fs.fail.Store(true)
	res, body := c.csrfPost("/any", tok)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.NotContains(t, body, tok)
	assert.Empty(t, e.csrfFailures())
	fs.fail.Store(false)
	res, _ = c.csrfPost("/any", tok)
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

// csrfFlakyStore fails Load while fail is set.
type csrfFlakyStore struct {
	session.Store
	fail atomic.Bool
}

func (s *csrfFlakyStore) Load(ctx context.Context, key string) (*session.Record, error) {
	if s.fail.Load() {
		return nil, fmt.Errorf("%w: connection refused", session.ErrStore)
	}
	return s.Store.Load(ctx, key)
}

// csrfRefUnmask is an independent statement of what a valid token is:
// exactly 86 characters of the base64url alphabet, canonically encoding 64
// bytes (pad, secret XOR pad). It returns the secret.
func csrfRefUnmask(tok string) ([]byte, bool) {
	if len(tok) != 86 {
		return nil, false
	}
	for _, c := range []byte(tok) {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", rune(c)) {
			return nil, false
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != 64 {
		return nil, false
	}
	out := make([]byte, 32)
	subtle.XORBytes(out, b[:32], b[32:])
	return out, true
}

// FuzzCSRFUnmask sends arbitrary tokens through Handler and CSRF and checks
// that the middleware never panics, accepts exactly the tokens that unmask
// (by an independent reference) to the session's secret, and never puts the
// sent token in an event.
func FuzzCSRFUnmask(f *testing.F) {
	var lastEvent atomic.Value
	m, err := session.New(session.Config{
		Logger:  slog.New(slog.DiscardHandler),
		OnEvent: func(_ context.Context, e session.Event) { lastEvent.Store(e) },
	})
	require.NoError(f, err)
	f.Cleanup(func() { _ = m.Close() })
	h := m.Handler(m.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.CSRFToken(r))
	})))

	// A session with a secret, and a valid token for it.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	cookies := rec.Result().Cookies()
	require.Len(f, cookies, 1)
	cookie := cookies[0].Name + "=" + cookies[0].Value
	valid := rec.Body.String()
	secret, ok := csrfRefUnmask(valid)
	require.True(f, ok, "CSRFToken output must be a valid token")

	f.Add(valid)
	f.Add(valid[:85])
	f.Add(valid + "=")
	f.Add(valid[:43])
	f.Add("")

	f.Fuzz(func(t *testing.T, tok string) {
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("Cookie", cookie)
		req.Header.Set(session.CSRFHeader, tok)
		rec := httptest.NewRecorder()
		lastEvent.Store(session.Event{})
		h.ServeHTTP(rec, req)

		got, ok := csrfRefUnmask(tok)
		want := ok && bytes.Equal(got, secret)
		if want != (rec.Code == http.StatusOK) {
			t.Fatalf("token %q: status %d, reference says valid=%v", tok, rec.Code, want)
		}
		if !want && rec.Code != http.StatusForbidden {
			t.Fatalf("token %q: status %d, want 403", tok, rec.Code)
		}
		if !want {
			ev := lastEvent.Load().(session.Event)
			if ev.Kind != session.EventCSRFFailure {
				t.Fatalf("token %q: no CSRF failure event (got %q)", tok, ev.Kind)
			}
			// Short inputs occur by chance in fixed fields ("mismatch").
			if len(tok) >= 20 && strings.Contains(fmt.Sprintf("%+v", ev), tok) {
				t.Fatalf("event %+v holds the sent token", ev)
			}
		}
		if rec.Code == http.StatusForbidden && rec.Body.String() != "Forbidden\n" {
			t.Fatalf("body %q is not generic", rec.Body.String())
		}
	})
}

// ExampleManager_CSRF protects a form with a synchronizer token. In a real
// template the token goes into a hidden field:
//
//	<input type="hidden" name="csrf_token" value="{{.CSRFToken}}">
//
// and scripts send it in the X-CSRF-Token header.
func ExampleManager_CSRF() {
	m, err := session.New(session.Config{
		Cookie: session.CookieConfig{AllowInsecure: true}, // plain-HTTP test server only
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /transfer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.CSRFToken(r)) // the form page
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "sent %s", r.PostFormValue("amount"))
	})
	srv := httptest.NewServer(m.Handler(m.CSRF(mux)))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(srv.URL + "/transfer")
	if err != nil {
		panic(err)
	}
	token, _ := io.ReadAll(res.Body)
	res.Body.Close()

	for _, form := range []url.Values{
		{"amount": {"10"}},
		{"amount": {"10"}, session.CSRFField: {string(token)}},
	} {
		res, err := browser.PostForm(srv.URL+"/transfer", form)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Printf("%d %s", res.StatusCode, body)
	}
	// Output:
	// 403 Forbidden
	// 200 sent 10
}
