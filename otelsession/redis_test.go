package otelsession_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/otelsession"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomPrefix gives each store its own key space on a shared server.
func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + base64.RawURLEncoding.EncodeToString(b[:]) + ":"
}

// TestWrappedRedisStore runs the conformance suite on a wrapped Redis
// store against a real redis-server (skipped when it is not installed,
// failed instead under SESSION_TEST_REQUIRE_REAL=1): the wrapper keeps
// the Redis store's UserIndex, Rotator and tombstones.
func TestWrappedRedisStore(t *testing.T) {
	srv := redistest.StartServer(t)
	in, reader := newInstruments(t)
	storetest.Run(t, func(t *testing.T) session.Store {
		st := otelsession.WrapStore(session.NewRedisStore(srv.Client(t), session.WithKeyPrefix(randomPrefix())), in)
		_, ix := st.(session.UserIndex)
		_, rot := st.(session.Rotator)
		require.True(t, ix && rot, "the wrapped Redis store is a UserIndex and a Rotator")
		return st
	})
	counts := storeCounts(t, collect(t, reader))
	for _, op := range []string{"load/ok", "load/not_found", "create/ok", "update/ok", "delete/ok", "rotate/ok", "revoke_user/ok", "user_sessions/ok"} {
		assert.Positive(t, counts[op], "%s in %v", op, counts)
	}
}

// TestRedisDownIsAnErrorOutcome: with the server killed, a request with a
// session cookie gets a 5xx, and the metrics show a failed load and a
// store_error event naming the step, not a not_found.
func TestRedisDownIsAnErrorOutcome(t *testing.T) {
	srv := redistest.StartServer(t)
	in, reader := newInstruments(t)
	m := newManager(t, session.NewRedisStore(srv.Client(t), session.WithKeyPrefix(randomPrefix())), in, nil)
	hs := httptest.NewServer(m.Handler(testApp()))
	t.Cleanup(hs.Close)
	browser := newClient(t, hs)
	browser.do("POST", "/login", "", http.StatusOK)
	browser.do("GET", "/", "", http.StatusOK)

	srv.Kill()
	browser.do("GET", "/", "", http.StatusInternalServerError)

	metrics := collect(t, reader)
	counts := storeCounts(t, metrics)
	assert.Equal(t, uint64(1), counts["load/error"], "%v", counts)
	assert.Equal(t, uint64(1), counts["load/ok"], "%v", counts)
	assert.Zero(t, counts["load/not_found"], "an outage is not a missing session")
	assert.Equal(t, int64(1), eventCounts(t, metrics)[session.EventStoreError+"/load"])
}
