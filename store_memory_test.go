package session_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

// memCount is the number of live records in st (MemoryStore.Count).
func memCount(t testing.TB, st *session.MemoryStore) int {
	t.Helper()
	n, err := st.Count(context.Background())
	require.NoError(t, err)
	return n
}

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s := session.NewMemoryStore(session.WithSweepInterval(100 * time.Millisecond))
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// TestMemoryStoreCapacity: anonymous visitors who store something cannot
// grow the memory store past its bound. Past 90% new anonymous sessions are
// refused (the error handler answers, and an EventCapacity fires); logins
// go on up to the bound; no logged-in session is evicted to make room.
func TestMemoryStoreCapacity(t *testing.T) {
	st := session.NewMemoryStore(session.WithMaxRecords(100))
	t.Cleanup(func() { _ = st.Close() })
	e := newEnv(t, session.Config{Store: st}, testApp())
	users := make([]*client, 5)
	for i := range users {
		users[i] = e.client()
		res, _ := users[i].post(fmt.Sprintf("/login?u=user%d", i))
		require.Equal(t, 200, res.StatusCode)
	}
	refused := 0
	for range 200 {
		res, _ := e.client().post("/set?k=cart&v=1")
		if res.StatusCode != 200 {
			refused++
			assert.Equal(t, 500, res.StatusCode)
		}
	}
	assert.Equal(t, 200-(90-5), refused, "anonymous records past 90%% of the bound")
	assert.Contains(t, e.events.kinds(), session.EventCapacity)
	assert.LessOrEqual(t, memCount(t, st), 100)
	for i := range 10 { // logins still fit, up to the bound
		res, _ := e.client().post(fmt.Sprintf("/login?u=late%d", i))
		assert.Equal(t, 200, res.StatusCode, "login %d", i)
	}
	res, _ := e.client().post("/login?u=onetoomany")
	assert.Equal(t, 409, res.StatusCode, "past the bound even a login is refused")
	for i, c := range users {
		_, body := c.get("/whoami")
		assert.Equal(t, fmt.Sprintf("user%d", i), body, "a logged-in session was evicted")
	}
}

// TestMemoryStoreCapacityUnderConcurrency: creates racing each other cannot
// all pass the bound together. Each round, many goroutines released at
// once race several times the bound's worth of anonymous creates into a
// fresh store; every round must end with exactly 90% of the bound stored:
// one record more is a leak of the reservation, one less a refusal that
// counted a place twice.
func TestMemoryStoreCapacityUnderConcurrency(t *testing.T) {
	const rounds, goroutines, perGoroutine = 200, 48, 4 // 192 creates for 90 places
	for round := range rounds {
		st := session.NewMemoryStore(session.WithMaxRecords(100), session.WithSweepInterval(0))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				<-start
				for range perGoroutine {
					_ = st.Create(t.Context(), storetest.Key(), storetest.Record(time.Minute, map[string][]byte{"a": []byte("1")}))
				}
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, 90, memCount(t, st), "round %d: anonymous records fill exactly 90%% of the bound", round)
		_ = st.Close()
	}
}
