package drivertest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManager drives a real Manager on each backend: login, values,
// devices, one device revoked, log-out-everywhere, logout.
func TestManager(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		a := newApp(t, st, nil, session.Config{MaxSessionsPerUser: 3})
		ctx := context.Background()
		user := "alice-" + b.name
		laptop, phone := a.client(t, "laptop"), a.client(t, "phone")
		for _, c := range []*client{laptop, phone} {
			code, body := c.post("/login?u=" + user)
			require.Equal(t, 200, code, body)
		}
		code, _ := laptop.post("/set?k=cart&v=3+books")
		require.Equal(t, 200, code)
		_, body := laptop.get("/get?k=cart")
		assert.Equal(t, "3 books", body)
		_, body = phone.get("/whoami")
		assert.Equal(t, user, body)

		devices, err := a.m.Sessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, devices, 2)
		var phoneHandle string
		for _, d := range devices {
			if d.UserAgent == "phone" {
				phoneHandle = d.Handle
			}
		}
		require.NotEmpty(t, phoneHandle, "devices list the User-Agent: %+v", devices)
		require.NoError(t, a.m.Revoke(ctx, user, phoneHandle))
		_, body = phone.get("/whoami")
		assert.Empty(t, body, "a revoked device is logged out")
		_, body = laptop.get("/whoami")
		assert.Equal(t, user, body, "revoking one device keeps the others")

		// The cap: a fourth login evicts the least recently seen.
		var more []*client
		for i := range 3 {
			c := a.client(t, fmt.Sprint("tablet-", i))
			code, _ := c.post("/login?u=" + user)
			require.Equal(t, 200, code)
			more = append(more, c)
		}
		devices, err = a.m.Sessions(ctx, user)
		require.NoError(t, err)
		assert.Len(t, devices, 3, "MaxSessionsPerUser holds")
		_, body = laptop.get("/whoami")
		assert.Empty(t, body, "the least recently seen session was evicted")

		require.NoError(t, a.m.RevokeUser(ctx, user))
		for _, c := range more {
			_, body := c.get("/whoami")
			assert.Empty(t, body, "log out everywhere")
		}
		devices, err = a.m.Sessions(ctx, user)
		require.NoError(t, err)
		assert.Empty(t, devices)

		c := a.client(t, "again")
		code, _ = c.post("/login?u=" + user)
		require.Equal(t, 200, code, "a login after RevokeUser works")
		code, _ = c.post("/logout")
		require.Equal(t, 200, code)
		_, body = c.get("/whoami")
		assert.Empty(t, body)
	})
}

// hookStore runs a hook before each Rotate reaches the store: it lands
// another request between the renewal's load and its store operation.
type hookStore struct {
	*sqlstore.Store
	beforeRotate func()
}

func (h *hookStore) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	if f := h.beforeRotate; f != nil {
		f()
	}
	return h.Store.Rotate(ctx, rot)
}

// TestRenewalRaces: a log-out-everywhere or a logout that lands during a
// renewal wins: deterministically with a hook, then racing for many rounds.
func TestRenewalRaces(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		hs := &hookStore{Store: st}
		a := newApp(t, hs, nil, session.Config{})
		ctx := context.Background()

		t.Run("RevokeUserDuringRenew", func(t *testing.T) {
			user := "race-" + b.name
			c := a.client(t, "ua")
			code, _ := c.post("/login?u=" + user)
			require.Equal(t, 200, code)
			hs.beforeRotate = func() { require.NoError(t, a.m.RevokeUser(ctx, user)) }
			c.post("/renew")
			hs.beforeRotate = nil
			_, body := c.get("/whoami")
			assert.Empty(t, body, "the renewal resurrected a revoked session")
			devices, err := a.m.Sessions(ctx, user)
			require.NoError(t, err)
			assert.Empty(t, devices)
		})

		t.Run("LogoutDuringRenew", func(t *testing.T) {
			user := "race2-" + b.name
			c, other := a.client(t, "ua"), a.client(t, "tab")
			code, _ := c.post("/login?u=" + user)
			require.Equal(t, 200, code)
			c.copyTo(other)
			hs.beforeRotate = func() {
				hs.beforeRotate = nil
				code, _ := other.post("/logout")
				require.Equal(t, 200, code)
			}
			c.post("/renew")
			_, body := c.get("/whoami")
			assert.Empty(t, body, "the renewal outlived the logout")
			devices, err := a.m.Sessions(ctx, user)
			require.NoError(t, err)
			assert.Empty(t, devices)
		})

		t.Run("ConcurrentRounds", func(t *testing.T) {
			for round := range 20 {
				user := fmt.Sprintf("rounds-%s-%d", b.name, round)
				c := a.client(t, "ua")
				code, _ := c.post("/login?u=" + user)
				require.Equal(t, 200, code)
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); c.post("/renew") }()
				go func() { defer wg.Done(); assert.NoError(t, a.m.RevokeUser(ctx, user)) }()
				wg.Wait()
				_, body := c.get("/whoami")
				require.Empty(t, body, "round %d: a renewal racing RevokeUser survived it", round)
				devices, err := a.m.Sessions(ctx, user)
				require.NoError(t, err)
				require.Empty(t, devices, "round %d", round)
			}
		})
	})
}
