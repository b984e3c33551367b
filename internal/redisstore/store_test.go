package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/internal/storekit"
)

// TestPing: Ping answers on a single server and on every master of a
// Cluster, and a server that went away is an error wrapping ErrStore.
func TestPing(t *testing.T) {
	ctx := context.Background()
	t.Run("single", func(t *testing.T) {
		srv := redistest.StartServer(t)
		st := New(srv.Client(t))
		if err := st.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		srv.Kill()
		err := st.Ping(ctx)
		if !errors.Is(err, storekit.ErrStore) {
			t.Fatalf("Ping of a killed server: %v, want ErrStore", err)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.StartCluster(t)
		st := New(cl.Client(t))
		if err := st.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		cl.Servers[1].Kill()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := st.Ping(ctx); !errors.Is(err, storekit.ErrStore) {
			t.Fatalf("Ping with a master down: %v, want ErrStore", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		st := New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := st.Ping(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Ping with a cancelled context: %v", err)
		}
	})
}

// TestCorruptWrapsBoth: a record the store cannot decode is an error
// wrapping both ErrStore and ErrCorrupt (issue 26 tells it from an outage by
// ErrCorrupt), on Load as on UserSessions.
func TestCorruptWrapsBoth(t *testing.T) {
	ctx := context.Background()
	c := redistest.StartServer(t).Client(t)
	st := New(c)
	if err := c.HSet(ctx, st.sessionKey("k"), fieldExpires, "soon", fieldUser, "").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := st.Load(ctx, "k")
	if !errors.Is(err, storekit.ErrStore) || !errors.Is(err, storekit.ErrCorrupt) {
		t.Fatalf("Load of a corrupt hash: %v, want ErrStore and ErrCorrupt", err)
	}
	if errors.Is(err, storekit.ErrNotFound) {
		t.Fatalf("Load of a corrupt hash: %v is ErrNotFound", err)
	}
	err = corrupt("op", "thing")
	if !errors.Is(err, storekit.ErrStore) || !errors.Is(err, storekit.ErrCorrupt) {
		t.Fatalf("corrupt: %v", err)
	}
	if got, want := err.Error(), "session: redis store: op: "+storekit.ErrStore.Error()+": "+storekit.ErrCorrupt.Error()+": corrupt thing"; got != want {
		t.Errorf("corrupt: %q, want %q", got, want)
	}
}

// TestLockOwnersDiffer: two renewals' lock owners never collide (the owner
// is crypto/rand.Text, not a token of the root package).
func TestLockOwnersDiffer(t *testing.T) {
	ctx := context.Background()
	c := redistest.StartServer(t).Client(t)
	st := New(c, WithCluster(true))
	unlock, err := st.lockUser(ctx, "test", "u{1}")
	if err != nil {
		t.Fatal(err)
	}
	key := st.prefix + "lock:{" + encodeUserID("u{1}") + "}"
	owner, err := c.Get(ctx, key).Result()
	if err != nil || len(owner) < 26 {
		t.Fatalf("lock owner %q, %v", owner, err)
	}
	unlock()
	if n, _ := c.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("unlock left the lock")
	}
	unlock2, err := st.lockUser(ctx, "test", "u{1}")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock2()
	if owner2, _ := c.Get(ctx, key).Result(); owner2 == owner {
		t.Fatal("two locks with the same owner")
	}
}
