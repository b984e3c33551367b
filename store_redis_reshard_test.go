package session_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
)

// TestRedisClusterResharding runs logins, reads, writes, logouts and "log
// out everywhere" against a real three-master Cluster while the slots of
// the sessions and user indexes just written move between masters
// (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE): the client
// follows MOVED and ASK, the scripts keep their keys in one slot, and
// afterwards no acknowledged write is lost, no acknowledged logout or
// revocation is undone and every acknowledged login is alive. The 5xx
// answered meanwhile (a command retried past go-redis's redirect limit
// while a slot is half moved) are reported.
func TestRedisClusterResharding(t *testing.T) {
	if testing.Short() {
		t.Skip("resharding test: skipped with -short")
	}
	cluster := redistest.StartCluster(t)
	cc := cluster.Client(t)
	prefix := randomPrefix()
	m, err := session.New(session.Config{Store: session.NewRedisStore(cc, session.WithKeyPrefix(prefix)), Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	h := m.Handler(failoverApp(func() *session.Manager { return m }))

	l := &failoverLedger{ended: map[string]string{}, alive: map[string]string{}, written: map[string]map[string]string{}}
	fresh := make(chan string, 64) // keys of sessions and indexes just written
	onLogin := func(token, user string) {
		for _, k := range []string{prefix + "{" + hashToken(token) + "}", prefix + "user:{" + user + "}"} {
			select {
			case fresh <- k:
			default:
			}
		}
	}
	stop := make(chan struct{})
	wg := runLoad(h, l, new(atomic.Int64), stop, 4, onLogin)

	ctx := context.Background()
	var moves atomic.Int64
	var moveErr error
	var mwg sync.WaitGroup
	mwg.Add(1)
	go func() {
		defer mwg.Done()
		for deadline := time.Now().Add(8 * time.Second); time.Now().Before(deadline); {
			var key string
			select {
			case key = <-fresh:
			case <-time.After(time.Second):
				continue
			}
			slot, err := cc.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				moveErr = err
				return
			}
			owner, err := cluster.Owner(ctx, int(slot))
			if err != nil {
				moveErr = err
				return
			}
			if err := cluster.MoveSlot(ctx, int(slot), (owner+1)%len(cluster.Addrs)); err != nil {
				moveErr = err
				return
			}
			moves.Add(1)
		}
	}()
	mwg.Wait()
	close(stop)
	wg.Wait()
	require.NoError(t, moveErr)

	resurrected, lostLogins, lostWrites, writes := verifyLedger(t, h, l)
	t.Logf("resharding: %d slot moves under load; %d requests ok, %d 5xx, %d conflicts; %d acknowledged endings, %d resurrected; %d acknowledged logins, %d lost; %d acknowledged writes, %d lost",
		moves.Load(), l.ok.Load(), l.failed.Load(), l.conflict.Load(), len(l.ended), len(resurrected), len(l.alive), len(lostLogins), len(writes), len(lostWrites))
	require.Positive(t, moves.Load(), "no slot was moved")
	require.NotEmpty(t, l.ended)
	require.Empty(t, resurrected, "a logout or revocation acknowledged during resharding is undone")
	require.Empty(t, lostLogins, "an acknowledged login was lost during resharding")
	require.Empty(t, lostWrites, "an acknowledged write was lost during resharding")
}
