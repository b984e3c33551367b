package session_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of the CSRF middleware's bound on the body it reads (issue 11, item
// 8): an anonymous POST must not make it parse megabytes to find no token.

// countingBody counts the body bytes read through it.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// bodyEnv is newCSRFEnv with the request body counted outside Handler, and a
// route that reports how much had been read when it was entered.
type bodyEnv struct {
	*env
	read    atomic.Int64 // bytes read from the current request's body
	atEntry atomic.Int64 // read when the handler was entered
}

func newCSRFBodyEnv(t *testing.T, cfg session.Config) *bodyEnv {
	t.Helper()
	be := &bodyEnv{}
	mux := http.NewServeMux()
	mux.Handle("/", csrfApp())
	// /echo reports what the middleware had read, then reads the form as a
	// handler would: every field, and the file if there is one.
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		be.atEntry.Store(be.read.Load())
		if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		size := -1
		if f, _, err := r.FormFile("file"); err == nil {
			b, _ := io.ReadAll(f)
			_ = f.Close()
			size = len(b)
		}
		fmt.Fprintf(w, "last=%s file=%d", r.PostFormValue("last"), size)
	})
	ev := &eventLog{}
	cfg.Logger, cfg.OnEvent = testLogger(), ev.add
	m, err := session.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	stack := m.Handler(m.CSRF(mux))
	// Count outside Handler, as the server hands the body over.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &be.read}
		stack.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	be.env = &env{t: t, m: m, srv: srv, events: ev}
	return be
}

// post sends body with content type ct (and extra headers), resetting the
// counters first.
func (be *bodyEnv) post(c *client, path, ct string, body []byte, hdr ...string) (*http.Response, string) {
	be.t.Helper()
	be.read.Store(0)
	be.atEntry.Store(-1)
	return c.do("POST", path, bytes.NewReader(body), append([]string{"Content-Type", ct, "Sec-Fetch-Site", "same-origin"}, hdr...)...)
}

// postStalled is post for a body far over the cap: it sends the first
// stallAt bytes and then waits for the response before sending more, as a
// client that stops when the server answers. (A client that keeps writing
// into a connection the server has closed gets a reset instead of the
// answer.) If no response comes within a few seconds (a middleware that
// wants the whole body), it sends the rest.
func (be *bodyEnv) postStalled(c *client, path, ct string, body []byte, stallAt int, hdr ...string) (*http.Response, string) {
	be.t.Helper()
	be.read.Store(0)
	be.atEntry.Store(-1)
	pr, pw := io.Pipe()
	answered := make(chan struct{})
	go func() {
		if _, err := pw.Write(body[:stallAt]); err != nil {
			return
		}
		select {
		case <-answered:
			pw.CloseWithError(errors.New("client stopped sending"))
		case <-time.After(3 * time.Second):
			_, _ = pw.Write(body[stallAt:])
			_ = pw.Close()
		}
	}()
	defer close(answered)
	return c.do("POST", path, pr, append([]string{"Content-Type", ct, "Sec-Fetch-Site", "same-origin"}, hdr...)...)
}

// multipartBody builds a multipart form: the fields in order, then a file
// of fileSize bytes (none if fileSize < 0), then the fields in after.
func multipartBody(t *testing.T, before [][2]string, fileSize int, after [][2]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range before {
		require.NoError(t, mw.WriteField(f[0], f[1]))
	}
	if fileSize >= 0 {
		fw, err := mw.CreateFormFile("file", "f.bin")
		require.NoError(t, err)
		_, _ = fw.Write(bytes.Repeat([]byte("x"), fileSize))
	}
	for _, f := range after {
		require.NoError(t, mw.WriteField(f[0], f[1]))
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

const formCT = "application/x-www-form-urlencoded"

func TestCSRFTokenlessBodyIsNotReadPastTheCap(t *testing.T) {
	be := newCSRFBodyEnv(t, session.Config{})
	const limit = 64 << 10 // the documented default
	big := 1 << 20
	mpCT, mp := multipartBody(t, nil, big, [][2]string{{"last", "l"}})
	form := []byte("junk=" + strings.Repeat("a", big) + "&last=l")

	anon := be.client()
	_ = anon.csrfGetToken() // a visitor with a nonce cookie, no token sent
	user := be.client()
	res, _ := user.csrfPost("/login?u=u", user.csrfGetToken())
	require.Equal(t, http.StatusOK, res.StatusCode)
	for _, c := range []*client{anon, be.client(), user} {
		for _, tc := range []struct {
			name, ct string
			body     []byte
		}{{"multipart", mpCT, mp}, {"urlencoded", formCT, form}} {
			res, body := be.postStalled(c, "/echo", tc.ct, tc.body, 2*limit)
			assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, "%s: %s", tc.name, body)
			assert.Equal(t, "Request Entity Too Large\n", body)
			assert.LessOrEqual(t, be.read.Load(), int64(limit+1), "%s: the middleware read past its cap", tc.name)
			assert.Equal(t, int64(-1), be.atEntry.Load(), "the handler ran")
			assert.Empty(t, res.Header.Values("Set-Cookie"))
		}
	}
	for _, r := range be.csrfFailures() {
		assert.Equal(t, "too_large", r)
	}
	assert.Len(t, be.csrfFailures(), 6)

	// A small body without the field is a plain 403, read to its end.
	small := []byte("a=b&last=l")
	res, _ = be.post(anon, "/echo", formCT, small)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, int64(len(small)), be.read.Load())
	// Neither content type carries a form: nothing is read at all.
	res, _ = be.postStalled(anon, "/echo", "application/json", form, 64<<10)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Zero(t, be.read.Load())
}

func TestCSRFHeaderTokenLeavesTheBodyToTheHandler(t *testing.T) {
	be := newCSRFBodyEnv(t, session.Config{})
	for _, loggedIn := range []bool{false, true} {
		c := be.client()
		if loggedIn {
			res, _ := c.csrfPost("/login?u=u", c.csrfGetToken())
			require.Equal(t, http.StatusOK, res.StatusCode)
		}
		tok := c.csrfGetToken()

		// An upload far over the cap, token in the header: the middleware
		// reads nothing and the handler gets the whole file.
		ct, body := multipartBody(t, [][2]string{{"note", "n"}}, 3<<20, [][2]string{{"last", "l"}})
		res, got := be.post(c, "/echo", ct, body, session.CSRFHeader, tok)
		require.Equal(t, http.StatusOK, res.StatusCode, got)
		assert.Equal(t, fmt.Sprintf("last=l file=%d", 3<<20), got)
		assert.Zero(t, be.atEntry.Load(), "the middleware read the body despite the header")

		// A URL-encoded form over the cap with the header token.
		form := []byte("junk=" + strings.Repeat("a", 200<<10) + "&last=l")
		res, got = be.post(c, "/echo", formCT, form, session.CSRFHeader, tok)
		require.Equal(t, http.StatusOK, res.StatusCode, got)
		assert.Equal(t, "last=l file=-1", got)
		assert.Zero(t, be.atEntry.Load())

		// A wrong header token is refused without reading the body.
		res, _ = be.postStalled(c, "/echo", ct, body, 64<<10, session.CSRFHeader, "nope")
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
		assert.Zero(t, be.read.Load())
	}
}

func TestCSRFFormTokenWithinTheCapPassesLargeBodies(t *testing.T) {
	be := newCSRFBodyEnv(t, session.Config{CSRFMaxFormBytes: 1024})
	c := be.client()
	tok := c.csrfGetToken()

	// The hidden field comes first, as in a form that puts it first: the
	// handler still reads the whole upload and the fields after it.
	ct, body := multipartBody(t, [][2]string{{session.CSRFField, tok}}, 300<<10, [][2]string{{"last", "l"}})
	res, got := be.post(c, "/echo", ct, body)
	require.Equal(t, http.StatusOK, res.StatusCode, got)
	assert.Equal(t, fmt.Sprintf("last=l file=%d", 300<<10), got)
	assert.LessOrEqual(t, be.atEntry.Load(), int64(1025), "the middleware read past its cap")

	form := []byte(url.Values{session.CSRFField: {tok}}.Encode() + "&junk=" + strings.Repeat("a", 4096) + "&last=l")
	res, got = be.post(c, "/echo", formCT, form)
	require.Equal(t, http.StatusOK, res.StatusCode, got)
	assert.Equal(t, "last=l file=-1", got)
	assert.LessOrEqual(t, be.atEntry.Load(), int64(1025))

	// Past the cap, the field is not looked for.
	ct, body = multipartBody(t, [][2]string{{"pad", strings.Repeat("p", 2048)}}, 10, [][2]string{{session.CSRFField, tok}})
	res, _ = be.post(c, "/echo", ct, body)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	form = []byte("junk=" + strings.Repeat("a", 2048) + "&" + url.Values{session.CSRFField: {tok}}.Encode())
	res, _ = be.post(c, "/echo", formCT, form)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	// A token cut by the cap does not pass either.
	form = []byte(strings.Repeat("a", 1000) + "=1&" + url.Values{session.CSRFField: {tok}}.Encode())
	res, _ = be.post(c, "/echo", formCT, form)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)

	// Within the cap, the whole form is looked at.
	form = []byte("a=1&" + url.Values{session.CSRFField: {tok}}.Encode() + "&last=l")
	res, got = be.post(c, "/echo", formCT, form)
	require.Equal(t, http.StatusOK, res.StatusCode, got)
	assert.Equal(t, "last=l file=-1", got)
}

func TestCSRFMaxFormBytesIsValidated(t *testing.T) {
	_, err := session.New(session.Config{CSRFMaxFormBytes: -1})
	assert.True(t, errors.Is(err, session.ErrInvalidConfig), "%v", err)
}

func TestCSRFFormBodyOutsideTLSHarnessRestoresBody(t *testing.T) {
	// httptest.NewRequest gives a body the middleware must hand on intact.
	m, err := session.New(session.Config{Logger: testLogger(), CSRFMaxFormBytes: 64})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	var tok, cookie string
	var got atomic.Value
	h := m.Handler(m.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, session.CSRFToken(r))
			return
		}
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	tok = rec.Body.String()
	ck := rec.Result().Cookies()
	require.Len(t, ck, 1)
	cookie = ck[0].Name + "=" + ck[0].Value

	body := url.Values{session.CSRFField: {tok}}.Encode() + "&rest=" + strings.Repeat("r", 500)
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", formCT)
	req.Header.Set("Cookie", cookie)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, "the token does not fit in 64 bytes")

	m2, err := session.New(session.Config{Logger: testLogger(), CSRFMaxFormBytes: 128})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m2.Close() })
	h = m2.Handler(m2.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprint(w, session.CSRFToken(r))
			return
		}
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	})))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	tok = rec.Body.String()
	ck = rec.Result().Cookies()
	require.Len(t, ck, 1)
	body = url.Values{session.CSRFField: {tok}}.Encode() + "&rest=" + strings.Repeat("r", 500)
	req = httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", formCT)
	req.Header.Set("Cookie", ck[0].Name+"="+ck[0].Value)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, body, got.Load(), "the handler reads the body byte for byte")
}
