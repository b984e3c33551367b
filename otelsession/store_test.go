package otelsession_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/otelsession"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The four shapes of store, built on a memory store by hiding methods.
type (
	plainStore struct{ session.Store }
	indexOnly  struct {
		plainStore
		session.UserIndex
	}
	rotatorOnly struct {
		plainStore
		session.Rotator
	}
)

func shapes(ms *session.MemoryStore) map[string]session.Store {
	return map[string]session.Store{
		"plain":         plainStore{ms},
		"index":         indexOnly{plainStore{ms}, ms},
		"rotator":       rotatorOnly{plainStore{ms}, ms},
		"index+rotator": ms,
	}
}

// TestWrapKeepsOptionalInterfaces: the wrapped store is a UserIndex and a
// Rotator exactly when the inner store is, and New accepts
// MaxSessionsPerUser exactly when it did without the wrapper.
func TestWrapKeepsOptionalInterfaces(t *testing.T) {
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	in, _ := newInstruments(t)
	for name, st := range shapes(ms) {
		t.Run(name, func(t *testing.T) {
			w := otelsession.WrapStore(st, in)
			_, innerIx := st.(session.UserIndex)
			_, innerRot := st.(session.Rotator)
			_, ix := w.(session.UserIndex)
			_, rot := w.(session.Rotator)
			assert.Equal(t, innerIx, ix, "UserIndex")
			assert.Equal(t, innerRot, rot, "Rotator")

			_, errInner := session.New(session.Config{Store: st, MaxSessionsPerUser: 3})
			_, errWrapped := session.New(session.Config{Store: w, MaxSessionsPerUser: 3})
			assert.Equal(t, errInner == nil, errWrapped == nil, "New with MaxSessionsPerUser: %v vs %v", errInner, errWrapped)
			if name == "index+rotator" {
				assert.NoError(t, errWrapped)
			} else {
				assert.ErrorIs(t, errWrapped, session.ErrInvalidConfig)
			}
		})
	}
	assert.Equal(t, session.Store(ms), otelsession.WrapStore(ms, nil), "nil instruments: the store itself")
}

// TestWrappedMemoryStoreConformance runs the public conformance suite on
// a wrapped memory store.
func TestWrappedMemoryStoreConformance(t *testing.T) {
	in, _ := newInstruments(t)
	storetest.Run(t, func(t *testing.T) session.Store {
		ms := session.NewMemoryStore()
		t.Cleanup(func() { _ = ms.Close() })
		return otelsession.WrapStore(ms, in)
	})
}

// TestTombstonePassesThrough: Load's Tombstone error comes back unchanged
// (errors.As still finds it, with its reason) and counts as not_found;
// Rotate's cap refusal is "refused", a cancelled context "canceled".
func TestTombstonePassesThrough(t *testing.T) {
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	in, reader := newInstruments(t)
	w := otelsession.WrapStore(ms, in)
	ctx := context.Background()

	key := storetest.Key()
	rec := storetest.Record(time.Minute, map[string][]byte{"a": []byte("1")})
	rec.Linger = time.Minute
	require.NoError(t, w.Create(ctx, key, rec))
	require.NoError(t, w.Delete(ctx, key))
	_, err := w.Load(ctx, key)
	_, innerErr := ms.Load(ctx, key)
	assert.Equal(t, innerErr, err, "the error is the store's, unwrapped")
	var tomb *session.Tombstone
	require.ErrorAs(t, err, &tomb)
	assert.Equal(t, session.EndDestroyed, tomb.Reason)
	assert.ErrorIs(t, err, session.ErrNotFound)

	// The per-user cap refusing is an answer, not a failure.
	rot := w.(session.Rotator)
	meta := session.Meta{UserID: "u", CreatedAt: time.Now(), LastSeen: time.Now(), Expires: time.Now().Add(time.Minute), Linger: time.Minute}
	_, err = rot.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: meta, MaxSessions: 1})
	require.NoError(t, err)
	_, err = rot.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: meta, MaxSessions: 1, RefuseNew: true})
	require.ErrorIs(t, err, session.ErrTooManySessions)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = w.Load(cancelled, storetest.Key())
	require.ErrorIs(t, err, context.Canceled)

	assert.Equal(t, map[string]uint64{
		"create/ok": 1, "delete/ok": 1, "load/not_found": 1,
		"rotate/ok": 1, "rotate/refused": 1, "load/canceled": 1,
	}, storeCounts(t, collect(t, reader)))
}

// TestLiveSessions: the gauge reports the callback's value at each
// collection, a failing callback fails only that observation, and Close
// stops it.
func TestLiveSessions(t *testing.T) {
	var n int64 = 3
	var fail error
	in, reader := newInstruments(t, otelsession.WithLiveSessions(func(context.Context) (int64, error) { return n, fail }))
	in.OnEvent(context.Background(), session.Event{Kind: session.EventLogin})

	live := find(t, collect(t, reader), "session.live")
	assert.Equal(t, "{session}", live.Unit)
	gauge, ok := live.Data.(metricdata.Gauge[int64])
	require.True(t, ok)
	require.Len(t, gauge.DataPoints, 1)
	assert.Equal(t, int64(3), gauge.DataPoints[0].Value)
	assert.Zero(t, gauge.DataPoints[0].Attributes.Len(), "the gauge has no attributes")

	fail = errors.New("count unavailable")
	var rm metricdata.ResourceMetrics
	err := reader.Collect(context.Background(), &rm)
	require.ErrorIs(t, err, fail, "the callback's error is reported")
	ms := scopeMetrics(t, rm)
	assert.Equal(t, int64(1), eventCounts(t, ms)[session.EventLogin], "other instruments still collected")
	for _, m := range ms {
		assert.NotEqual(t, "session.live", m.Name, "no observation when the count failed")
	}

	fail = nil
	require.NoError(t, in.Close())
	require.NoError(t, in.Close(), "Close twice")
	for _, m := range collect(t, reader) {
		assert.NotEqual(t, "session.live", m.Name, "no observation after Close")
	}
}

// TestNew rejects a nil provider.
func TestNew(t *testing.T) {
	_, err := otelsession.New(nil)
	assert.Error(t, err)
}
