package session_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flakyStore is a memory store whose Update fails while failUpdate is set.
type flakyStore struct {
	session.Store
	failUpdate atomic.Bool
}

func newFlakyStore() *flakyStore { return &flakyStore{Store: session.NewMemoryStore()} }

func (f *flakyStore) Update(ctx context.Context, key string, d *session.Delta) error {
	if f.failUpdate.Load() {
		return fmt.Errorf("%w: %w", session.ErrStore, errBackend)
	}
	return f.Store.Update(ctx, key, d)
}

func storeErrorEvents(e *env) []session.Event {
	var out []session.Event
	for _, ev := range e.events.all() {
		if ev.Kind == session.EventStoreError {
			out = append(out, ev)
		}
	}
	return out
}

// A value set after the headers went out whose final save fails is not
// dropped silently: the failure is logged and emitted as
// session.store_error with Reason "final_commit". Before: finish ignored
// the error and no event fired.
func TestFinalCommitFailureIsAnEvent(t *testing.T) {
	store := newFlakyStore()
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		store.failUpdate.Store(true)
		assert.NoError(t, session.FromContext(r.Context()).Set("late", "lost"))
		fmt.Fprint(w, "streamed")
	})
	e := newEnv(t, session.Config{Store: store}, app)
	c := e.client()
	res, _ := c.post("/set?k=a&v=1")
	require.Equal(t, 200, res.StatusCode)

	res, body := c.get("/stream")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "streamed", body)
	require.Eventually(t, func() bool { return len(storeErrorEvents(e)) > 0 }, 5*time.Second, 10*time.Millisecond,
		"no session.store_error event: %v", e.events.kinds())
	ev := storeErrorEvents(e)[0]
	assert.Equal(t, "final_commit", ev.Reason)
	assert.Contains(t, suiteLog.String(), `"reason":"final_commit"`)
	store.failUpdate.Store(false)
	_, got := c.get("/get?k=late")
	assert.Empty(t, got, "the failed value was not stored")
}

// Every store failure is an event, not only a log line: a load failure
// emits session.store_error with Reason "load".
func TestStoreFailuresAreEvents(t *testing.T) {
	e := newEnv(t, session.Config{Store: failingStore{}}, testApp())
	c := e.client()
	c.setToken("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, body := c.get("/get?k=a")
	require.Equal(t, 500, res.StatusCode)
	assert.NotContains(t, body, "secret-detail")
	evs := storeErrorEvents(e)
	require.Len(t, evs, 1, "events: %v", e.events.kinds())
	assert.Equal(t, "load", evs[0].Reason)
	for _, ev := range e.events.all() {
		assert.False(t, strings.Contains(ev.Reason, "secret-detail"), "store detail in an event: %q", ev.Reason)
	}
}
