package session_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// legacyStore is a stand-in for the store of the system being replaced
// (scs on Redis): take reads and deletes a record in one step, as GETDEL
// does, so a legacy session is handed out at most once.
type legacyStore struct {
	mu   sync.Mutex
	recs map[string]legacyRecord
}

type legacyRecord struct {
	user   string
	values map[string]any
}

func (l *legacyStore) take(id string) (legacyRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.recs[id]
	delete(l.recs, id)
	return r, ok
}

func (l *legacyStore) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

// legacyCookie is the legacy system's cookie as it set it.
var legacyCookie = http.Cookie{Name: "legacy", Path: "/"}

// importer is the Importer of legacyStore; between (optional) runs after
// the record was taken, to land another request there.
func (l *legacyStore) importer(calls *atomic.Int32, between func(found bool)) session.Importer {
	return func(_ context.Context, r *http.Request) (session.Imported, error) {
		calls.Add(1)
		c, err := r.Cookie(legacyCookie.Name)
		if err != nil {
			return session.Imported{}, nil
		}
		rec, ok := l.take(c.Value)
		if between != nil {
			between(ok)
		}
		legacy := legacyCookie
		if !ok {
			return session.Imported{Legacy: &legacy}, nil
		}
		return session.Imported{Legacy: &legacy, UserID: rec.user, Values: rec.values}, nil
	}
}

// importEnv is a server whose handler reports the user and the "theme"
// value of the request's session.
func importEnv(t *testing.T, cfg session.Config) *env {
	return newEnv(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		io.WriteString(w, s.UserID()+"|"+s.GetString("theme"))
	}))
}

// get sends GET / with the given cookies (name=value pairs) and returns the
// response, its body, our session cookie and the legacy cookie it set.
func importGet(t *testing.T, e *env, cookies ...string) (res *http.Response, body string, ours, legacy *http.Cookie) {
	t.Helper()
	req, err := http.NewRequest("GET", e.srv.URL+"/", nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(cookies); i += 2 {
		req.AddCookie(&http.Cookie{Name: cookies[i], Value: cookies[i+1]})
	}
	res, err = e.srv.Client().Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ours = sessionCookie(res)
	if ours != nil && ours.Value != "" {
		suiteTokens.Store(ours.Value, true)
	}
	for _, c := range res.Cookies() {
		if c.Name == legacyCookie.Name {
			legacy = c
		}
	}
	return res, string(b), ours, legacy
}

// importStores runs f with the memory store and with the sealed-cookie
// store.
func importStores(t *testing.T, f func(t *testing.T, cfg session.Config)) {
	t.Run("memory", func(t *testing.T) { f(t, session.Config{}) })
	t.Run("cookie", func(t *testing.T) {
		cs, err := session.NewCookieStore(bytes.Repeat([]byte{7}, 32))
		require.NoError(t, err)
		f(t, session.Config{Store: cs})
	})
}

const legacyID = "scs-like-token-0123456789abcdefghijklmnopqrstu"

// A request carrying only the legacy cookie ends logged in as the legacy
// user, with the legacy values, under a new ID of ours; the legacy record is
// gone and its cookie expired; the next request is served from our cookie
// alone, without calling the importer again.
func TestImportAdoptsLegacySession(t *testing.T) {
	importStores(t, func(t *testing.T, cfg session.Config) {
		legacy := &legacyStore{recs: map[string]legacyRecord{legacyID: {user: "alice", values: map[string]any{"theme": "dark"}}}}
		var calls atomic.Int32
		cfg.Import = legacy.importer(&calls, nil)
		e := importEnv(t, cfg)

		res, body, ours, old := importGet(t, e, "legacy", legacyID)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "alice|dark", body)
		require.NotNil(t, ours, "the first request must end with our cookie")
		assert.NotEqual(t, legacyID, ours.Value, "the legacy ID is never reused")
		assert.NotContains(t, ours.Value, legacyID)
		require.NotNil(t, old, "the legacy cookie must be expired")
		assert.Equal(t, -1, old.MaxAge)
		assert.Equal(t, "/", old.Path)
		assert.Zero(t, legacy.len(), "the legacy record must be consumed")
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		assert.Contains(t, e.events.kinds(), session.EventImported)
		assert.Contains(t, e.events.kinds(), session.EventLogin)
		assert.NotContains(t, suiteLog.String(), legacyID, "the legacy token must not be logged")

		// Our cookie alone (and the legacy one, if the browser kept it):
		// the same session, and the importer is not asked again.
		_, body, _, _ = importGet(t, e, "sid", ours.Value, "__Host-Http-sid", ours.Value, "legacy", legacyID)
		assert.Equal(t, "alice|dark", body)
		assert.Equal(t, int32(1), calls.Load(), "the importer runs only for a request without a session of ours")

		if cfg.Store == nil {
			infos, err := e.m.Sessions(context.Background(), "alice")
			require.NoError(t, err)
			assert.Len(t, infos, 1, "the import is a Login: the user's index has it")
		}
	})
}

// The legacy cookie replayed after the adoption finds nothing: the request
// is anonymous and the cookie is expired again.
func TestImportReplayedLegacyCookie(t *testing.T) {
	legacy := &legacyStore{recs: map[string]legacyRecord{legacyID: {user: "alice"}}}
	var calls atomic.Int32
	e := importEnv(t, session.Config{Import: legacy.importer(&calls, nil)})
	_, body, ours, _ := importGet(t, e, "legacy", legacyID)
	require.Equal(t, "alice|", body)
	require.NotNil(t, ours)

	_, body, ours2, old := importGet(t, e, "legacy", legacyID)
	assert.Equal(t, "|", body, "a legacy session is adopted at most once")
	assert.Nil(t, ours2)
	require.NotNil(t, old)
	assert.Equal(t, -1, old.MaxAge)
	infos, err := e.m.Sessions(context.Background(), "alice")
	require.NoError(t, err)
	assert.Len(t, infos, 1)
}

// Two requests carrying the same legacy cookie: the second lands between the
// first one's consuming of the legacy record and its Login (a hook makes the
// interleaving certain). At most one adopts it; the other is anonymous; the
// user ends with one live session, not two.
func TestImportConcurrentSameLegacyCookie(t *testing.T) {
	importStores(t, func(t *testing.T, cfg session.Config) {
		legacy := &legacyStore{recs: map[string]legacyRecord{legacyID: {user: "alice", values: map[string]any{"theme": "dark"}}}}
		var calls atomic.Int32
		firstTook := make(chan struct{})
		secondDone := make(chan struct{})
		var once sync.Once
		cfg.Import = legacy.importer(&calls, func(found bool) {
			if found {
				once.Do(func() {
					close(firstTook)
					<-secondDone // the second request runs to its end here
				})
			}
		})
		e := importEnv(t, cfg)

		type result struct {
			body string
			ours *http.Cookie
		}
		first := make(chan result, 1)
		go func() {
			_, body, ours, _ := importGet(t, e, "legacy", legacyID)
			first <- result{body, ours}
		}()
		<-firstTook
		_, body2, ours2, old2 := importGet(t, e, "legacy", legacyID)
		close(secondDone)
		r1 := <-first

		assert.Equal(t, "alice|dark", r1.body)
		require.NotNil(t, r1.ours)
		assert.Equal(t, "|", body2, "the second request must not adopt the consumed session")
		assert.Nil(t, ours2, "the second request gets no session")
		require.NotNil(t, old2)
		assert.Equal(t, -1, old2.MaxAge, "the second request expires the legacy cookie too")
		assert.Equal(t, int32(2), calls.Load())
		n := 0
		for _, ev := range e.events.all() {
			if ev.Kind == session.EventImported {
				n++
			}
		}
		assert.Equal(t, 1, n, "one adoption")
		if cfg.Store == nil {
			infos, err := e.m.Sessions(context.Background(), "alice")
			require.NoError(t, err)
			assert.Len(t, infos, 1, "never two live sessions from one legacy session")
		}
	})
}

// An importer error is "nothing imported": the request is served as a new
// anonymous session (never a 5xx), an EventImportFailed is emitted with the
// detail in the log only, and a legacy cookie reported with the error is
// expired so the next request does not fail the same way.
func TestImportImporterError(t *testing.T) {
	importStores(t, func(t *testing.T, cfg session.Config) {
		var logs lockedBuffer
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		errLegacy := errors.New("legacy record does not decode: secret-detail")
		cfg.Import = func(context.Context, *http.Request) (session.Imported, error) {
			c := legacyCookie
			return session.Imported{Legacy: &c, UserID: "mallory"}, errLegacy
		}
		e := importEnv(t, cfg)
		res, body, ours, old := importGet(t, e, "legacy", "whatever")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "|", body, "an error imports nothing, whatever else was returned")
		assert.Nil(t, ours)
		require.NotNil(t, old)
		assert.Equal(t, -1, old.MaxAge)
		var failed []session.Event
		for _, ev := range e.events.all() {
			if ev.Kind == session.EventImportFailed {
				failed = append(failed, ev)
			}
		}
		require.Len(t, failed, 1)
		assert.Equal(t, "importer_error", failed[0].Reason)
		assert.NotContains(t, failed[0].Reason, "secret-detail")
		assert.Contains(t, logs.String(), "secret-detail", "the detail goes to the log line")
		assert.Contains(t, logs.String(), `"level":"WARN"`)
	})
}

// A panicking importer (a decoder crashing on a hostile cookie) is an
// importer error: no 500, no crash, the same request every time.
func TestImportImporterPanic(t *testing.T) {
	e := importEnv(t, session.Config{Import: func(context.Context, *http.Request) (session.Imported, error) {
		panic("gob: decoder crashed on a hostile cookie")
	}})
	for range 2 {
		res, body, _, _ := importGet(t, e, "legacy", "x")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "|", body)
	}
	var reasons []string
	for _, ev := range e.events.all() {
		if ev.Kind == session.EventImportFailed {
			reasons = append(reasons, ev.Reason)
		}
	}
	assert.Equal(t, []string{"importer_panic", "importer_panic"}, reasons)
}

// Hostile input: garbage legacy cookies find nothing and are expired; an
// importer result with values that cannot be stored keeps the login and
// drops the values (the same codec and size checks as Set); a bogus legacy
// cookie name is not echoed into a header.
func TestImportHostileInput(t *testing.T) {
	importStores(t, func(t *testing.T, cfg session.Config) {
		legacy := &legacyStore{recs: map[string]legacyRecord{legacyID: {user: "alice"}}}
		var calls atomic.Int32
		cfg.Import = legacy.importer(&calls, nil)
		e := importEnv(t, cfg)
		for _, v := range []string{"", "%00%ff", strings.Repeat("A", 3000), legacyID + "x", "../" + legacyID} {
			res, body, ours, old := importGet(t, e, "legacy", v)
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Equal(t, "|", body, "cookie %q", v)
			assert.Nil(t, ours)
			if old != nil {
				assert.Equal(t, -1, old.MaxAge)
			}
		}
		assert.Equal(t, 1, legacy.len(), "garbage touches no legacy record")

		// Values a Set would refuse are dropped and named; the user stays
		// logged in.
		e2 := importEnv(t, session.Config{Store: cfg.Store, Import: func(context.Context, *http.Request) (session.Imported, error) {
			c := http.Cookie{Name: "bad name;\r\nX-Injected: 1", Path: "/"}
			return session.Imported{Legacy: &c, UserID: "bob", Values: map[string]any{
				"theme": "light",
				"chan":  make(chan int),             // the codec cannot encode it
				"huge":  strings.Repeat("x", 8<<10), // past a sealed cookie's 4096 bytes
			}}, nil
		}})
		res, body, ours, _ := importGet(t, e2, "legacy", "x")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "bob|light", body)
		require.NotNil(t, ours)
		assert.Empty(t, res.Header.Values("X-Injected"))
		for _, sc := range res.Header.Values("Set-Cookie") {
			assert.NotContains(t, sc, "bad name")
		}
		var reason string
		for _, ev := range e2.events.all() {
			if ev.Kind == session.EventImported {
				reason = ev.Reason
			}
		}
		if cfg.Store == nil {
			assert.Equal(t, "dropped:chan", reason, "the memory store takes an 8 KiB value")
		} else {
			assert.Equal(t, "dropped:chan,huge", reason)
		}
	})
}

// A handler that writes its response before it touches the session cannot
// send a cookie any more: the importer is not called and the legacy session
// is left for the next request.
func TestImportNotAfterHeadersSent(t *testing.T) {
	legacy := &legacyStore{recs: map[string]legacyRecord{legacyID: {user: "alice"}}}
	var calls atomic.Int32
	e := newEnv(t, session.Config{Import: legacy.importer(&calls, nil)}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, session.FromContext(r.Context()).UserID())
	}))
	_, body, ours, _ := importGet(t, e, "legacy", legacyID)
	assert.Empty(t, body)
	assert.Nil(t, ours)
	assert.Zero(t, calls.Load())
	assert.Equal(t, 1, legacy.len())
}
