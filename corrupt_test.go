package session_test

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A record Redis holds but the store cannot decode is rejected with reason
// "corrupt": deleted, the cookie expired, one event, never a 5xx; the next
// write starts a fresh anonymous session.
func TestCorruptRedisRecordIsRejected(t *testing.T) {
	c := redistest.StartServer(t).Client(t)
	ctx := t.Context()
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix("corrupt:"))}, testApp())
	cl := e.client()
	res, _ := cl.post("/login?u=mallory")
	require.Equal(t, 200, res.StatusCode)
	hash := "corrupt:{" + storeKeyOf(cl.token()) + "}"
	require.EqualValues(t, 1, c.Exists(ctx, hash).Val(), "the test names the record's key")
	require.NoError(t, c.HSet(ctx, hash, "created", "yesterday").Err())

	for i := 0; i < 3; i++ {
		res, body := cl.get("/whoami")
		require.Equal(t, 200, res.StatusCode, "request %d after the corruption", i)
		assert.Empty(t, body)
	}
	assert.EqualValues(t, 0, c.Exists(ctx, hash).Val(), "the corrupt record is deleted")
	var corrupt []session.Event
	for _, ev := range e.events.all() {
		if ev.Reason == "corrupt" {
			corrupt = append(corrupt, ev)
		}
		assert.NotEqual(t, session.EventStoreError, ev.Kind)
	}
	require.Len(t, corrupt, 1)
	assert.Equal(t, session.EventRejected, corrupt[0].Kind)

	res, _ = cl.post("/set?k=a&v=1")
	require.Equal(t, 200, res.StatusCode)
	_, body := cl.get("/get?k=a")
	assert.Equal(t, "1", body, "a fresh anonymous session")
}
