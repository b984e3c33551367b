package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testMetaNeverGoesBack: an Update writes only the metadata fields its Delta
// carries, so the throttled touch (LastSeen, Expires) never reverts a
// per-session setting (Persist, Timeouts) and a setting never reverts the
// touch.
func testMetaNeverGoesBack(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	rec := userRecord("", time.Minute, time.Second, map[string][]byte{"a": []byte("1")})
	require.NoError(t, s.Create(c, k, rec))

	on := true
	require.NoError(t, s.Update(c, k, &session.Delta{
		Persist: &on, Timeouts: &session.Timeouts{Idle: 2 * time.Minute, Absolute: 30 * time.Minute, Linger: 3 * time.Second},
	}))
	seen, exp := ms(time.Second), ms(2*time.Minute)
	require.NoError(t, s.Update(c, k, &session.Delta{LastSeen: seen, Expires: exp}))
	got, err := s.Load(c, k)
	require.NoError(t, err)
	assert.True(t, got.Persist, "a touch reverted Persist")
	assert.Equal(t, 2*time.Minute, got.IdleTimeout, "a touch reverted IdleTimeout")
	assert.Equal(t, 30*time.Minute, got.AbsoluteTimeout, "a touch reverted AbsoluteTimeout")
	assert.Equal(t, 3*time.Second, got.Linger, "a touch reverted Linger")
	assert.True(t, seen.Equal(got.LastSeen), "LastSeen %v, want %v", got.LastSeen, seen)
	assert.True(t, exp.Equal(got.Expires), "Expires %v, want %v", got.Expires, exp)

	off := false
	require.NoError(t, s.Update(c, k, &session.Delta{Persist: &off}))
	got, err = s.Load(c, k)
	require.NoError(t, err)
	assert.False(t, got.Persist)
	assert.True(t, seen.Equal(got.LastSeen), "a setting reverted LastSeen: %v, want %v", got.LastSeen, seen)
	assert.True(t, exp.Equal(got.Expires), "a setting reverted Expires: %v, want %v", got.Expires, exp)
	assert.Equal(t, 2*time.Minute, got.IdleTimeout, "Persist alone reverted IdleTimeout")
	assert.True(t, rec.CreatedAt.Equal(got.CreatedAt), "CreatedAt changed")

	require.NoError(t, s.Update(c, k, &session.Delta{Set: map[string][]byte{"b": []byte("2")}}))
	got, err = s.Load(c, k)
	require.NoError(t, err)
	assert.True(t, seen.Equal(got.LastSeen), "a value write changed LastSeen")
	assert.True(t, exp.Equal(got.Expires), "a value write changed Expires")
	assert.Equal(t, 2*time.Minute, got.IdleTimeout, "a value write changed IdleTimeout")
}

// testMetaConcurrent races a settings change against touches of the same
// session: the setting and one of the touches both survive.
func testMetaConcurrent(t *testing.T, s session.Store) {
	c := ctx(t)
	for round := range 20 {
		k := Key()
		require.NoError(t, s.Create(c, k, userRecord("", time.Minute, time.Second, nil)))
		const touches = 4
		seen := make([]time.Time, touches)
		for i := range seen {
			seen[i] = ms(time.Duration(i+1) * time.Second)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, touches+1)
		on := true
		wg.Add(touches + 1)
		go func() {
			defer wg.Done()
			<-start
			errs <- s.Update(c, k, &session.Delta{Persist: &on, Timeouts: &session.Timeouts{Idle: time.Minute, Absolute: 10 * time.Minute, Linger: 2 * time.Second}})
		}()
		for i := range touches {
			go func() {
				defer wg.Done()
				<-start
				errs <- s.Update(c, k, &session.Delta{LastSeen: seen[i], Expires: seen[i].Add(time.Minute)})
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "round %d", round)
		}
		got, err := s.Load(c, k)
		require.NoError(t, err)
		require.True(t, got.Persist, "round %d: a concurrent touch reverted Persist", round)
		require.Equal(t, time.Minute, got.IdleTimeout, "round %d: a concurrent touch reverted IdleTimeout", round)
		require.Equal(t, 10*time.Minute, got.AbsoluteTimeout, "round %d: a concurrent touch reverted AbsoluteTimeout", round)
		require.Equal(t, 2*time.Second, got.Linger, "round %d: a concurrent touch reverted Linger", round)
		i := -1
		for j := range seen {
			if seen[j].Equal(got.LastSeen) {
				i = j
			}
		}
		require.GreaterOrEqual(t, i, 0, "round %d: a concurrent setting reverted the touch (LastSeen %v)", round, got.LastSeen)
		require.True(t, seen[i].Add(time.Minute).Equal(got.Expires), "round %d: Expires %v is not from the touch that set LastSeen %v", round, got.Expires, got.LastSeen)
	}
}
