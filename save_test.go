package session_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Session.Save lets a streaming handler learn whether a change made after
// the headers went out was kept: the store's error comes back (wrapping
// ErrStore), and a successful Save is visible to the next request.
func TestSaveWhileStreamingReportsStoreError(t *testing.T) {
	store := newFlakyStore()
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()

		assert.NoError(t, s.Set("late", "kept"))
		store.failUpdate.Store(true)
		err := s.Save(r.Context())
		fmt.Fprintf(w, "store:%v ", errors.Is(err, session.ErrStore))
		assert.NotContains(t, fmt.Sprint(err), "AAAA", "no token in the error")
		store.failUpdate.Store(false)
		fmt.Fprintf(w, "retry:%v ", s.Save(r.Context()))
		// After the headers, a change that needs a cookie is refused.
		fmt.Fprintf(w, "login:%v", errors.Is(s.Login(r.Context(), "bob"), session.ErrHeadersSent))
	})
	app.HandleFunc("POST /destroy-then-stream", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.GetString("a") // load
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		// Another tab logs out meanwhile.
		assert.NoError(t, store.Delete(r.Context(), s.Handle()))
		assert.NoError(t, s.Set("late", "x"))
		err := s.Save(r.Context())
		fmt.Fprintf(w, "gone:%v sent:%v", errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrHeadersSent))
	})
	e := newEnv(t, session.Config{Store: store}, app)
	c := e.client()
	res, _ := c.post("/login?u=alice")
	require.Equal(t, 200, res.StatusCode)

	_, body := c.get("/stream")
	assert.Equal(t, "store:true retry:<nil> login:true", body)
	_, got := c.get("/get?k=late")
	assert.Equal(t, "kept", got)
	var sawSave bool
	for _, ev := range storeErrorEvents(e) {
		sawSave = sawSave || ev.Reason == "save"
	}
	assert.True(t, sawSave, "the failed Save is an event too")

	_, body = c.post("/destroy-then-stream")
	assert.Equal(t, "gone:true sent:true", body)
}

// Before the headers go out, Save creates a new session at once; its
// cookie still goes out with the headers.
func TestSaveBeforeHeadersCreatesTheSession(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		assert.NoError(t, s.Set("a", "1"))
		assert.NoError(t, s.Save(r.Context()))
		assert.False(t, s.IsNew(), "stored by Save")
		fmt.Fprint(w, s.GetString("a"))
	})
	e := newEnv(t, session.Config{}, app)
	res, body := e.client().get("/")
	assert.Equal(t, "1", body)
	assert.NotNil(t, sessionCookie(res))
}
