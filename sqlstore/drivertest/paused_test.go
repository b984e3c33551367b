package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPausedServer: a database that hangs (SIGSTOP: connections accepted,
// nothing answered) fails every store call within WithTimeout with an
// error wrapping ErrStore and context.DeadlineExceeded, whatever the
// caller's context; the Manager answers such a request with a 5xx, never a
// 2xx or a logout; once the server resumes, the same store and the same
// browser session work again.
func TestPausedServer(t *testing.T) {
	forSome(t, servers, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		const bound = 300 * time.Millisecond
		st := newStore(t, db, b.d, sqlstore.WithTimeout(bound))
		a := newApp(t, st, nil, session.Config{})
		browser := a.client(t, "paused-test")
		code, _ := browser.post("/login?u=paused-user")
		require.Equal(t, http.StatusOK, code)
		code, _ = browser.post("/set?k=a&v=1")
		require.Equal(t, http.StatusOK, code)

		ctx := context.Background()
		k := storetest.Key()
		r := redRecord("paused-user", set("b", "2"))
		require.NoError(t, st.Create(ctx, k, r))

		srv.pause(t)
		now := time.Now()
		calls := map[string]func() error{
			"Load":   func() error { _, err := st.Load(ctx, k); return err },
			"Create": func() error { return st.Create(ctx, storetest.Key(), redRecord("paused-user", nil)) },
			"Update": func() error {
				return st.Update(ctx, k, &session.Delta{LastSeen: now, Expires: now.Add(time.Minute), Set: set("c", "3")})
			},
			"Rotate": func() error {
				_, err := st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: storetest.Key(), Meta: renewMeta(r)})
				return err
			},
			"UserSessions": func() error { _, err := st.UserSessions(ctx, "paused-user"); return err },
			"RevokeUser":   func() error { return st.RevokeUser(ctx, "someone-else") },
			"Count":        func() error { _, err := st.Count(ctx); return err },
			"Delete":       func() error { return st.Delete(ctx, storetest.Key()) },
		}
		for name, call := range calls {
			done := make(chan error, 1)
			go func() { done <- call() }()
			select {
			case err := <-done:
				require.Error(t, err, "%s on a paused server", name)
				assert.ErrorIs(t, err, session.ErrStore, name)
				assert.True(t, errors.Is(err, context.DeadlineExceeded), "%s: %v, want it to wrap context.DeadlineExceeded", name, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("%s on a paused server: no answer after 30 s with WithTimeout(%v)", name, bound)
			}
		}

		done := make(chan int, 1)
		go func() { code, _ := browser.get("/get?k=a"); done <- code }()
		select {
		case code := <-done:
			assert.GreaterOrEqual(t, code, 500, "a request while the database hangs")
		case <-time.After(30 * time.Second):
			t.Fatal("a request while the database hangs: no answer after 30 s")
		}

		srv.resume()
		require.Eventually(t, func() bool {
			_, err := st.Load(ctx, storetest.Key())
			return errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrStore)
		}, 30*time.Second, 100*time.Millisecond, "the store after the server resumed")
		code, body := browser.get("/get?k=a")
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "1", body, "the browser's session survived the outage (no logout)")
	})
}
