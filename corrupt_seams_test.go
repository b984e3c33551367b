package session_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
)

// TestCorruptHeaderSessionIsRejected: a header session's record (a mobile
// app's, or package tokens' refresh family) that the store cannot decode
// is treated as a cookie session's is (issue 26): rejected with reason
// "corrupt", deleted, and the client told its token is not found, so it
// logs in again. Not a store failure on every refresh until the record's
// TTL: a 5xx loop for that client, an ERROR line each time.
func TestCorruptHeaderSessionIsRejected(t *testing.T) {
	servers := map[string]func(t *testing.T) redis.UniversalClient{
		"Server":  func(t *testing.T) redis.UniversalClient { return redistest.StartServer(t).Client(t) },
		"Cluster": func(t *testing.T) redis.UniversalClient { return redistest.StartCluster(t).Client(t) },
	}
	for name, newClient := range servers {
		t.Run(name, func(t *testing.T) {
			c := newClient(t)
			ctx := t.Context()
			e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix("corrupt:"))}, testApp())
			iss, err := e.m.Issue(ctx, nil, "mallory", session.Lifetimes{})
			require.NoError(t, err)
			hash := "corrupt:{" + iss.Handle + "}"
			require.EqualValues(t, 1, c.Exists(ctx, hash).Val(), "the test names the record's key")
			require.NoError(t, c.HSet(ctx, hash, "created", "yesterday").Err())

			for i := range 3 {
				_, err := e.m.Rotate(ctx, nil, iss.Token, 0)
				require.ErrorIs(t, err, session.ErrNotFound, "rotation %d after the corruption", i)
			}
			assert.EqualValues(t, 0, c.Exists(ctx, hash).Val(), "the corrupt record is deleted")
			var corrupt []session.Event
			for _, ev := range e.events.all() {
				if ev.Reason == "corrupt" {
					corrupt = append(corrupt, ev)
				}
				assert.NotEqual(t, session.EventStoreError, ev.Kind, "%+v", ev)
			}
			assert.Len(t, corrupt, 1)
		})
	}
}

// TestCorruptRecordDoesNotBreakDevicesList: one record of a user that no
// longer decodes must not take the user's devices page down (a store
// failure on every Manager.Sessions until that record's TTL, while its
// browser may never come back to have it rejected): the other devices are
// listed, and can be revoked one by one.
func TestCorruptRecordDoesNotBreakDevicesList(t *testing.T) {
	c := redistest.StartServer(t).Client(t)
	ctx := t.Context()
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix("corrupt:"))}, testApp())
	broken, ok := e.client(), e.client()
	for _, cl := range []*client{broken, ok} {
		res, _ := cl.post("/login?u=mallory")
		require.Equal(t, 200, res.StatusCode)
	}
	require.NoError(t, c.HSet(ctx, "corrupt:{"+storeKeyOf(broken.token())+"}", "created", "yesterday").Err())

	infos, err := e.m.Sessions(ctx, "mallory")
	require.NoError(t, err, "the devices list survives one corrupt record")
	require.Len(t, infos, 1)
	assert.Equal(t, storeKeyOf(ok.token()), infos[0].Handle)
}
