package memcachedstore_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Manager.Ping follows memcached: an error wrapping ErrStore while it is
// down, nil once it is back, for both store kinds.
func TestPingFollowsServer(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	for name, st := range map[string]session.Store{"Store": newStore(t, srv), "Unindexed": newUnindexed(t, srv)} {
		t.Run(name, func(t *testing.T) {
			m, err := session.New(session.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			ctx := context.Background()
			require.NoError(t, m.Ping(ctx))
			srv.Kill()
			err = m.Ping(ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, session.ErrStore)
			srv.Restart()
			assert.NoError(t, m.Ping(ctx))
		})
	}
}
