package drivertest

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Manager.Ping follows the database: nil while it answers; with the server
// paused, an error wrapping ErrStore within the store's timeout; nil again
// once it resumes.
func TestPingFollowsDatabase(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d, sqlstore.WithTimeout(500*time.Millisecond))
		m, err := session.New(session.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		ctx := context.Background()
		require.NoError(t, m.Ping(ctx))
		if srv == nil || srv.path != "" {
			return // SQLite has no server to lose
		}
		srv.pause(t)
		err = m.Ping(ctx)
		require.Error(t, err)
		assert.ErrorIs(t, err, session.ErrStore)
		srv.resume()
		assert.NoError(t, m.Ping(ctx))
	})
}
