package session_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// liveApp adds to testApp a /check route reporting Session.Check, and a
// /live stream that stays open until its session ends (Session.Watch).
func liveApp(t *testing.T, m func() *session.Manager) http.Handler {
	mux := lifecycleApp(m).(*http.ServeMux)
	mux.HandleFunc("GET /check", func(w http.ResponseWriter, r *http.Request) {
		err := session.FromContext(r.Context()).Check(r.Context())
		switch {
		case err == nil:
			fmt.Fprint(w, "live")
		case errors.Is(err, session.ErrNotFound):
			fmt.Fprint(w, "ended")
		case errors.Is(err, session.ErrStore):
			fmt.Fprint(w, "store error")
		default:
			fmt.Fprint(w, "other: "+err.Error())
		}
	})
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		ctx, cancel := s.Watch(r.Context(), time.Second)
		defer cancel()
		fmt.Fprintf(w, "open %s\n", s.UserID())
		assert.NoError(t, http.NewResponseController(w).Flush())
		<-ctx.Done()
		cause := context.Cause(ctx)
		fmt.Fprintf(w, "closed ended=%v storeerr=%v\n", errors.Is(cause, session.ErrNotFound), errors.Is(cause, session.ErrStore))
	})
	return mux
}

// TestWatchClosesALiveStreamOnRevoke: a stream opened by a logged-in
// browser ends within about one interval after the user is logged out
// everywhere from elsewhere, with a cause that says why; a failing store in
// between does not end it.
func TestWatchClosesALiveStreamOnRevoke(t *testing.T) {
	lifecycleStores(t, func(t *testing.T, sc storeCase) {
		h := &hookStore{Store: sc.newStore(t)}
		var e *env
		e = newEnv(t, session.Config{Store: h}, liveApp(t, func() *session.Manager { return e.m }))
		c := e.client()
		res, _ := c.post("/login?u=watcher")
		require.Equal(t, 200, res.StatusCode)

		req, err := http.NewRequest("GET", e.srv.URL+"/live", nil)
		require.NoError(t, err)
		res, err = c.http.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "open watcher\n", line)

		h.failLoad.Store(true) // an outage: the checks fail, the stream stays
		time.Sleep(1500 * time.Millisecond)
		h.failLoad.Store(false)

		revoked := time.Now()
		require.NoError(t, e.m.RevokeUser(context.Background(), "watcher"))
		line, err = br.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "closed ended=true storeerr=false\n", line)
		assert.Less(t, time.Since(revoked), 5*time.Second, "the stream outlived the revocation")
	})
}

// TestCheck: live while live (and the check moves the idle deadline when
// the touch is due), ended after a logout in another tab, a store failure
// is a store error, and an anonymous visitor has nothing to end.
func TestCheck(t *testing.T) {
	clk := newFakeClock()
	h := &hookStore{Store: session.NewMemoryStore()}
	t.Cleanup(func() { _ = h.Store.(*session.MemoryStore).Close() })
	var e *env
	app := liveApp(t, func() *session.Manager { return e.m }).(*http.ServeMux)
	app.HandleFunc("GET /check-outage", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.UserID() // loaded before the outage
		h.failLoad.Store(true)
		err := s.Check(r.Context())
		h.failLoad.Store(false)
		fmt.Fprintf(w, "store=%v ended=%v", errors.Is(err, session.ErrStore), errors.Is(err, session.ErrNotFound))
	})
	e = newEnv(t, session.Config{Store: h, Clock: clk.Now}, app)

	_, body := e.client().get("/check")
	assert.Equal(t, "live", body, "an anonymous visitor has no session to end")

	c := e.client()
	res, _ := c.post("/login?u=checker")
	require.Equal(t, 200, res.StatusCode)
	_, body = c.get("/check")
	assert.Equal(t, "live", body)

	// The touch: past the touch interval a check moves LastSeen.
	tok := c.token()
	key := storeKeyOf(tok)
	before, err := h.Load(context.Background(), key)
	require.NoError(t, err)
	clk.Advance(10 * time.Minute)
	_, body = c.get("/check")
	assert.Equal(t, "live", body)
	after, err := h.Load(context.Background(), key)
	require.NoError(t, err)
	assert.True(t, after.LastSeen.After(before.LastSeen), "the check did not keep the session alive")
	assert.True(t, after.Expires.After(before.Expires))

	_, body = c.get("/check-outage")
	assert.Equal(t, "store=true ended=false", body, "a store failure says nothing about the session")

	other := e.client()
	other.setToken(tok)
	res, _ = other.post("/logout")
	require.Equal(t, 200, res.StatusCode)
	_, body = c.get("/check")
	assert.Equal(t, "live", body, "a request after the logout is anonymous: nothing to end")
}

// TestPopAs: a typed flash message is read once; a value of another type
// is left alone.
func TestPopAs(t *testing.T) {
	type flash struct{ Kind, Text string }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /save", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		require.NoError(t, s.Set("flash", flash{"ok", "Saved"}))
		require.NoError(t, s.Set("n", 3))
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		f, ok := session.PopAs[flash](s, "flash")
		_, wrong := session.PopAs[flash](s, "n")
		fmt.Fprintf(w, "%v %s %s %v %d", ok, f.Kind, f.Text, wrong, s.GetInt("n"))
	})
	e := newEnv(t, session.Config{}, mux)
	c := e.client()
	c.post("/save")
	_, body := c.get("/page")
	assert.Equal(t, "true ok Saved false 3", body)
	_, body = c.get("/page")
	assert.Equal(t, "false   false 3", body, "a flash is read once")
}

// TestWatchOnCookieStore: on a sealed cookie store with a revocation list,
// an open stream ends once the user is logged out everywhere (the check
// reads the list), and Check never reports a live cookie session as ended
// (the store keeps no record to load).
func TestWatchOnCookieStore(t *testing.T) {
	list := session.NewMemoryStore()
	t.Cleanup(func() { _ = list.Close() })
	cs := newCookieStore(t, newKey(t)).WithRevocations(list)
	var e *env
	e = newEnv(t, session.Config{Store: cs}, liveApp(t, func() *session.Manager { return e.m }))
	c := e.client()
	res, _ := c.post("/login?u=kim")
	require.Equal(t, 200, res.StatusCode)
	_, body := c.get("/check")
	require.Equal(t, "live", body)

	req, err := http.NewRequest("GET", e.srv.URL+"/live", nil)
	require.NoError(t, err)
	res, err = c.http.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "open kim\n", line)
	next := make(chan string, 1)
	go func() {
		l, _ := br.ReadString('\n')
		next <- l
	}()
	select {
	case l := <-next:
		t.Fatalf("the stream of a live cookie session ended: %q", l)
	case <-time.After(2500 * time.Millisecond): // two checks passed
	}
	require.NoError(t, e.m.RevokeUser(context.Background(), "kim"))
	select {
	case l := <-next:
		assert.Equal(t, "closed ended=true storeerr=false\n", l)
	case <-time.After(5 * time.Second):
		t.Fatal("the stream outlived log out everywhere")
	}
}

// TestWatchAfterASaveSawTheEnd (issue finding 10): a streaming handler's
// Save finds its session revoked before Watch's next check does; Watch must
// close the stream all the same. It used to see an anonymous session (the
// Save reset it) and keep the stream open for good.
func TestWatchAfterASaveSawTheEnd(t *testing.T) {
	revoked := make(chan struct{})
	var e *env
	mux := liveApp(t, func() *session.Manager { return e.m }).(*http.ServeMux)
	mux.HandleFunc("GET /live-save", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		ctx, cancel := s.Watch(r.Context(), time.Second)
		defer cancel()
		fmt.Fprintf(w, "open %s\n", s.UserID())
		assert.NoError(t, http.NewResponseController(w).Flush())
		<-revoked
		assert.NoError(t, s.Set("progress", 1))
		saveErr := s.Save(r.Context())
		select {
		case <-ctx.Done():
			fmt.Fprintf(w, "closed ended=%v save-not-found=%v\n", errors.Is(context.Cause(ctx), session.ErrNotFound), errors.Is(saveErr, session.ErrNotFound))
		case <-time.After(5 * time.Second):
			fmt.Fprint(w, "still open\n")
		}
	})
	e = newEnv(t, session.Config{}, mux)
	c := e.client()
	res, _ := c.post("/login?u=streamer")
	require.Equal(t, 200, res.StatusCode)
	req, err := http.NewRequest("GET", e.srv.URL+"/live-save", nil)
	require.NoError(t, err)
	res, err = c.http.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "open streamer\n", line)
	require.NoError(t, e.m.RevokeUser(context.Background(), "streamer"))
	close(revoked)
	line, err = br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "closed ended=true save-not-found=true\n", line, "the stream outlived a revocation its own Save saw")
}
