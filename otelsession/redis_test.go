package otelsession_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/internal/storewrap"
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

// optionalInterfaces names the optional store interfaces v implements (the
// durable path of the Redis store, which package session reaches through
// Unwrap or directly, included).
func optionalInterfaces(v any) map[string]bool {
	_, ix := v.(session.UserIndex)
	_, fleet := v.(session.Fleet)
	_, rot := v.(session.Rotator)
	_, rf := v.(session.Refresher)
	_, ending := v.(storewrap.EndingCreator)
	return map[string]bool{"UserIndex": ix, "Fleet": fleet, "Rotator": rot, "Refresher": rf, "EndingCreator": ending}
}

// TestWrappedRedisStoreRefreshesInOneStep: the wrapped Redis store keeps
// every optional interface, Refresher included, so a header session still
// renews in one round trip (one refresh call, no load or rotate); a
// wrapped memory store gains none it lacks.
func TestWrappedRedisStoreRefreshesInOneStep(t *testing.T) {
	srv := redistest.StartServer(t)
	in, reader := newInstruments(t)
	redisStore := session.NewRedisStore(srv.Client(t), session.WithKeyPrefix(randomPrefix()))
	st := otelsession.WrapStore(redisStore, in)
	assert.Equal(t, optionalInterfaces(redisStore), optionalInterfaces(st), "the wrapper's interfaces")
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	assert.Equal(t, optionalInterfaces(ms), optionalInterfaces(otelsession.WrapStore(ms, in)), "a wrapped memory store")
	assert.False(t, optionalInterfaces(otelsession.WrapStore(ms, in))["Refresher"], "a wrapped memory store became a Refresher")

	rf, ok := st.(session.Refresher)
	require.True(t, ok, "the wrapped Redis store is a Refresher")
	ctx := t.Context()
	now := time.Now()
	rec := &session.Record{Meta: session.Meta{CreatedAt: now, LastSeen: now, Expires: now.Add(time.Hour),
		IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour}, Values: map[string][]byte{"k": []byte(`"v"`)}}
	require.NoError(t, st.Create(ctx, "old-key", rec))
	meta, err := rf.Refresh(ctx, "old-key", "new-key", now.Add(time.Minute))
	require.NoError(t, err)
	assert.WithinDuration(t, now.Add(time.Minute), meta.LastSeen, time.Millisecond, "LastSeen is the refresh's time (Redis keeps milliseconds)")
	got, err := redisStore.Load(ctx, "new-key")
	require.NoError(t, err)
	assert.Equal(t, `"v"`, string(got.Values["k"]))

	counts := storeCounts(t, collect(t, reader))
	assert.Equal(t, uint64(1), counts["refresh/ok"], "%v", counts)
	assert.Zero(t, counts["load/ok"]+counts["rotate/ok"], "a refresh took more than one step: %v", counts)
}
