package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/storetest"
)

// TestRedisDurabilityFailsClosed: with WithDurability, a logout, a
// revocation or a renewal that no replica acknowledges in time is an error
// (the response is the error handler's), and once the replica answers the
// same calls succeed. Without durability the same logout is acknowledged
// while the replica is frozen: the case a failover can undo.
func TestRedisDurabilityFailsClosed(t *testing.T) {
	primary := redistest.StartServer(t)
	replica := redistest.StartReplica(t, primary)
	ctx := context.Background()
	durable := session.NewRedisStore(primary.Client(t), session.WithKeyPrefix(randomPrefix()),
		session.WithDurability(1, 200*time.Millisecond))
	plain := session.NewRedisStore(primary.Client(t), session.WithKeyPrefix(randomPrefix()))

	key := storetest.Key()
	require.NoError(t, durable.Create(ctx, key, storetest.Record(time.Hour, nil)), "a create is not an ending write")
	plainKey := storetest.Key()
	require.NoError(t, plain.Create(ctx, plainKey, storetest.Record(time.Hour, nil)))

	replica.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			replica.Thaw()
		}
	}()
	err := durable.Delete(ctx, key)
	require.ErrorIs(t, err, session.ErrStore, "a logout no replica acknowledged must fail")
	require.ErrorContains(t, err, "0 of 1 replicas")
	require.ErrorIs(t, durable.RevokeUser(ctx, "alice"), session.ErrStore)
	_, err = durable.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: session.Meta{UserID: "bob", Expires: time.Now().Add(time.Hour)}})
	require.ErrorIs(t, err, session.ErrStore, "a renewal no replica acknowledged must fail")
	require.NoError(t, plain.Delete(ctx, plainKey), "without durability the primary's ack is enough")
	replica.Thaw()
	thawed = true

	require.NoError(t, durable.RevokeUser(ctx, "alice"))
	key2 := storetest.Key()
	require.NoError(t, durable.Create(ctx, key2, storetest.Record(time.Hour, nil)))
	require.NoError(t, durable.Delete(ctx, key2))
	_, err = durable.Load(ctx, key2)
	require.True(t, errors.Is(err, session.ErrNotFound))
}

// TestRedisDurabilityNeedsReplicas: durability asked for explicitly on a
// primary without replicas fails closed; the default durability of a
// Sentinel failover client is waived while its primary has no replica
// (covered by the Sentinel store case of the conformance tests).
func TestRedisDurabilityNeedsReplicas(t *testing.T) {
	s := session.NewRedisStore(redistest.StartServer(t).Client(t), session.WithKeyPrefix(randomPrefix()),
		session.WithDurability(1, 50*time.Millisecond))
	ctx := context.Background()
	key := storetest.Key()
	require.NoError(t, s.Create(ctx, key, storetest.Record(time.Hour, nil)))
	require.ErrorIs(t, s.Delete(ctx, key), session.ErrStore)
}
