package session_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/storetest"
)

// famMeta is the metadata of a record of user in family, created at
// created, live for ttl, leaving a tombstone for linger.
func famMeta(user, family string, created time.Time, ttl, linger time.Duration) session.Meta {
	now := time.Now().Truncate(time.Millisecond)
	return session.Meta{
		UserID: user, CreatedAt: created, LastSeen: now, AuthenticatedAt: now,
		Expires: now.Add(ttl), Linger: linger, Family: family,
	}
}

// famRecord is a live record of user in family.
func famRecord(user, family string, ttl, linger time.Duration) *session.Record {
	now := time.Now().Truncate(time.Millisecond)
	return &session.Record{Meta: famMeta(user, family, now, ttl, linger), Values: map[string][]byte{"a": []byte("1")}}
}

// renew rotates old to a new key in family (same user) and returns the new
// key.
func renew(t *testing.T, s *session.RedisStore, old, user, family string, created time.Time, linger time.Duration) string {
	t.Helper()
	k := storetest.Key()
	_, err := s.Rotate(t.Context(), &session.Rotation{OldKey: old, NewKey: k, Meta: famMeta(user, family, created, time.Hour, linger)})
	require.NoError(t, err)
	return k
}

// requireFamily requires family's live record to be key, of family.
func requireFamily(t *testing.T, s *session.RedisStore, family, key string, msg string) *session.Record {
	t.Helper()
	k, r, err := s.Family(t.Context(), family)
	require.NoError(t, err, msg)
	require.Equal(t, key, k, msg)
	f := r.Family
	if f == "" {
		f = k
	}
	require.Equal(t, family, f, msg)
	return r
}

// requireNoFamily requires family to have no live record, and the error
// not to be a Tombstone (a family has none of its own).
func requireNoFamily(t *testing.T, s *session.RedisStore, family string, msg string) {
	t.Helper()
	_, _, err := s.Family(t.Context(), family)
	require.ErrorIs(t, err, session.ErrNotFound, msg)
	var tomb *session.Tombstone
	require.False(t, errors.As(err, &tomb), "%s: a family answers ErrNotFound, not a key's tombstone: %v", msg, err)
}

// requireRotatedTo requires key to answer as rotated to next in family.
func requireRotatedTo(t *testing.T, s session.Store, key, next, family string) {
	t.Helper()
	_, err := s.Load(t.Context(), key)
	var tomb *session.Tombstone
	require.True(t, errors.As(err, &tomb), "want a tombstone, got %v", err)
	require.Equal(t, session.EndRotated, tomb.Reason)
	require.Equal(t, next, tomb.Next)
	require.Equal(t, family, tomb.Family)
}

func isCluster(c redis.UniversalClient) bool { _, ok := c.(*redis.ClusterClient); return ok }

// TestRedisFamilyRoundTrip: the family goes through Create, Rotate, Load,
// UserSessions and Refresh, the rotated tombstone carries it, Family finds
// the live record of a cookie family (first key) and of a header family
// (Family != key from the first record), and the pointer lives as long as
// the family can.
func TestRedisFamilyRoundTrip(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		ctx := t.Context()
		prefix := randomPrefix()
		s := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
		user := "fam-" + storetest.Key()[:8]

		// A cookie session: its family is its first key ("" stored).
		k1 := storetest.Key()
		r1 := famRecord(user, "", time.Hour, time.Minute)
		require.NoError(t, s.Create(ctx, k1, r1))
		got, err := s.Load(ctx, k1)
		require.NoError(t, err)
		assert.Empty(t, got.Family)
		requireFamily(t, s, k1, k1, "a never-renewed session is its own family")
		n, err := c.Exists(ctx, prefix+"{"+k1+"}:f").Result()
		require.NoError(t, err)
		assert.Zero(t, n, "no pointer for a family that is its key")

		k2 := renew(t, s, k1, user, k1, r1.CreatedAt, time.Minute)
		got, err = s.Load(ctx, k2)
		require.NoError(t, err)
		assert.Equal(t, k1, got.Family)
		requireRotatedTo(t, s, k1, k2, k1)
		requireFamily(t, s, k1, k2, "after one renewal")
		requireNoFamily(t, s, k2, "the renewed key is not a family")
		list, err := s.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, k1, list[0].Meta.Family)

		// The pointer outlives the session: WithMaxSessionLifetime, or
		// CreatedAt + AbsoluteTimeout + Linger when that is later.
		pttl, err := c.PTTL(ctx, prefix+"{"+k1+"}:f").Result()
		require.NoError(t, err)
		assert.Greater(t, pttl, 29*24*time.Hour)

		// A header family: Family != key from the first record, with its
		// own absolute limit past WithMaxSessionLifetime.
		hf, h1 := storetest.Key(), storetest.Key()
		m := famMeta(user, hf, time.Now().Truncate(time.Millisecond), time.Hour, time.Minute)
		_, err = s.Rotate(ctx, &session.Rotation{NewKey: h1, Meta: m, Delta: session.Delta{
			Timeouts: &session.Timeouts{Idle: time.Hour, Absolute: 60 * 24 * time.Hour, Linger: time.Minute},
		}})
		require.NoError(t, err)
		r := requireFamily(t, s, hf, h1, "a header family's first record")
		assert.Equal(t, hf, r.Family)
		pttl, err = c.PTTL(ctx, prefix+"{"+hf+"}:f").Result()
		require.NoError(t, err)
		assert.Greater(t, pttl, 59*24*time.Hour, "the pointer lives as long as the session's own absolute limit")

		// Create with a family other than its key points the family.
		cf, ck := storetest.Key(), storetest.Key()
		require.NoError(t, s.Create(ctx, ck, famRecord("", cf, time.Hour, time.Minute)))
		requireFamily(t, s, cf, ck, "Create with a family")

		for _, f := range []string{"", storetest.Key(), "{}", "a b", "%", strings.Repeat("x", 300)} {
			requireNoFamily(t, s, f, "unknown family "+f)
			_, err := s.EndFamily(ctx, f)
			require.ErrorIs(t, err, session.ErrNotFound, "unknown family %q", f)
		}

		if isCluster(c) {
			return // Refresh is a single-server script
		}
		// Refresh keeps the family, repoints it and leaves it in the
		// tombstone.
		h2 := storetest.Key()
		meta, err := s.Refresh(ctx, h1, h2, time.Now())
		require.NoError(t, err)
		assert.Equal(t, hf, meta.Family)
		requireRotatedTo(t, s, h1, h2, hf)
		requireFamily(t, s, hf, h2, "after Refresh")
		// A record without a family gets its key as family, so the
		// identity survives the refresh.
		ok, ok2 := storetest.Key(), storetest.Key()
		rr := famRecord("", "", time.Hour, time.Minute)
		rr.IdleTimeout, rr.AbsoluteTimeout = time.Hour, 2*time.Hour
		require.NoError(t, s.Create(ctx, ok, rr))
		meta, err = s.Refresh(ctx, ok, ok2, time.Now())
		require.NoError(t, err)
		assert.Equal(t, ok, meta.Family)
		requireRotatedTo(t, s, ok, ok2, ok)
		requireFamily(t, s, ok, ok2, "after Refresh of a record without a family")
	})
}

// TestRedisFamilyChainEndedAtOnce: a session renewed 300 times is ended by
// one EndFamily, in as many round trips as a session never renewed.
func TestRedisFamilyChainEndedAtOnce(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		hook := &redistest.RoundTrips{}
		c.AddHook(hook)
		ctx := t.Context()
		s := session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))
		user := "chain-" + storetest.Key()[:8]

		endOne := func(family string) int64 {
			hook.Store(0)
			ir, err := s.EndFamily(ctx, family)
			require.NoError(t, err)
			require.NotNil(t, ir)
			return hook.Load()
		}
		k := storetest.Key()
		require.NoError(t, s.Create(ctx, k, famRecord(user, "", time.Hour, time.Minute)))
		short := endOne(k)

		first := storetest.Key()
		r := famRecord(user, "", time.Hour, time.Minute)
		require.NoError(t, s.Create(ctx, first, r))
		keys := []string{first}
		for range 300 {
			keys = append(keys, renew(t, s, keys[len(keys)-1], user, first, r.CreatedAt, time.Minute))
		}
		last := keys[len(keys)-1]
		requireFamily(t, s, first, last, "after 300 renewals")

		hook.Store(0)
		ir, err := s.EndFamily(ctx, first)
		require.NoError(t, err)
		assert.LessOrEqual(t, hook.Load(), short, "O(1): no walking the chain")
		assert.Equal(t, last, ir.Key)
		assert.Equal(t, user, ir.Meta.UserID)
		assert.Equal(t, first, ir.Meta.Family)

		_, err = s.Load(ctx, last)
		var tomb *session.Tombstone
		require.True(t, errors.As(err, &tomb), "%v", err)
		assert.Equal(t, session.EndDestroyed, tomb.Reason, "ended as Delete ends")
		for _, k := range keys {
			_, err := s.Load(ctx, k)
			require.ErrorIs(t, err, session.ErrNotFound)
		}
		requireNoFamily(t, s, first, "ended")
		list, err := s.UserSessions(ctx, user)
		require.NoError(t, err)
		assert.Empty(t, list, "the user's index no longer lists it")
		_, err = s.EndFamily(ctx, first)
		require.ErrorIs(t, err, session.ErrNotFound, "a second EndFamily finds nothing")

		// The family never gets a live record again: a renewal into it is
		// refused.
		_, err = s.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: famMeta(user, first, r.CreatedAt, time.Hour, time.Minute)})
		require.ErrorIs(t, err, session.ErrNotFound, "renewal into an ended family")
		requireNoFamily(t, s, first, "still ended")
	})
}

// TestRedisEndFamilyAfterTombstonesExpired: the live record is kept alive
// by touches while every retired key's tombstone has expired (short
// Linger); EndFamily still finds and ends it, since it never walks
// tombstones.
func TestRedisEndFamilyAfterTombstonesExpired(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		ctx := t.Context()
		s := session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))
		user := "linger-" + storetest.Key()[:8]
		const linger = 200 * time.Millisecond
		first := storetest.Key()
		r := famRecord(user, "", 2*time.Second, linger)
		require.NoError(t, s.Create(ctx, first, r))
		k := first
		retired := []string{}
		for range 3 {
			retired = append(retired, k)
			k = renew(t, s, k, user, first, r.CreatedAt, linger)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			// Touch: the live record slides on; the tombstones do not.
			now := time.Now().Truncate(time.Millisecond)
			require.NoError(t, s.Update(ctx, k, &session.Delta{LastSeen: now, Expires: now.Add(2 * time.Second)}))
			gone := 0
			for _, old := range retired {
				_, err := s.Load(ctx, old)
				var tomb *session.Tombstone
				if errors.Is(err, session.ErrNotFound) && !errors.As(err, &tomb) {
					gone++
				}
			}
			if gone == len(retired) {
				break
			}
			require.True(t, time.Now().Before(deadline), "tombstones outlived their linger")
			time.Sleep(50 * time.Millisecond)
		}
		requireFamily(t, s, first, k, "the family outlives its tombstones")
		ir, err := s.EndFamily(ctx, first)
		require.NoError(t, err)
		assert.Equal(t, k, ir.Key)
		_, err = s.Load(ctx, k)
		require.ErrorIs(t, err, session.ErrNotFound)
		requireNoFamily(t, s, first, "ended")
	})
}

// TestRedisFamilyUserChange: a renewal to another user starts a new family:
// the old one has no live record any more (ending it ends nothing), the new
// one does.
func TestRedisFamilyUserChange(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		ctx := t.Context()
		s := session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))
		anon := storetest.Key()
		r := famRecord("", "", time.Hour, time.Minute)
		require.NoError(t, s.Create(ctx, anon, r))
		anon2 := renew(t, s, anon, "", anon, r.CreatedAt, time.Minute) // anonymous renewal: same family
		requireFamily(t, s, anon, anon2, "anonymous renewal")

		alice := "alice-" + storetest.Key()[:8]
		k := storetest.Key()
		_, err := s.Rotate(ctx, &session.Rotation{OldKey: anon2, NewKey: k, Meta: famMeta(alice, k, r.CreatedAt, time.Hour, time.Minute)})
		require.NoError(t, err)
		requireRotatedTo(t, s, anon2, k, k)
		requireNoFamily(t, s, anon, "the anonymous family ended with the login")
		requireFamily(t, s, k, k, "the login started a family")
		_, err = s.EndFamily(ctx, anon)
		require.ErrorIs(t, err, session.ErrNotFound)
		got, err := s.Load(ctx, k)
		require.NoError(t, err, "ending the old family leaves the new one")
		assert.Equal(t, alice, got.UserID)

		// Family "" in a renewal means the new key.
		k2 := storetest.Key()
		_, err = s.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: famMeta("bob-"+storetest.Key()[:8], "", r.CreatedAt, time.Hour, time.Minute)})
		require.NoError(t, err)
		requireRotatedTo(t, s, k, k2, k2)
		requireFamily(t, s, k2, k2, "a renewal without a family starts one under its key")
		requireNoFamily(t, s, k, "alice's family ended with the change of user")
	})
}

// TestRedisFamilyRevoked: a family whose record is revoked (RevokeUser, or
// RevokeAll's cutoff) has no live record, and EndFamily writes nothing.
func TestRedisFamilyRevoked(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		ctx := t.Context()
		prefix := randomPrefix()
		s := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
		user := "rev-" + storetest.Key()[:8]
		first := storetest.Key()
		r := famRecord(user, "", time.Hour, time.Minute)
		require.NoError(t, s.Create(ctx, first, r))
		k := renew(t, s, first, user, first, r.CreatedAt, time.Minute)
		require.NoError(t, c.Del(ctx, prefix+"user:{"+user+"}").Err()) // the index missed it
		require.NoError(t, s.RevokeUser(ctx, user))
		requireNoFamily(t, s, first, "revoked user")
		_, err := s.EndFamily(ctx, first)
		require.ErrorIs(t, err, session.ErrNotFound)
		_, err = s.Load(ctx, k)
		var tomb *session.Tombstone
		require.True(t, errors.As(err, &tomb), "%v", err)
		assert.Equal(t, session.EndRevoked, tomb.Reason, "EndFamily did not touch the revoked record")

		anon := storetest.Key()
		ar := famRecord("", "", time.Hour, time.Minute)
		ar.CreatedAt = ar.CreatedAt.Add(-time.Minute)
		require.NoError(t, s.Create(ctx, anon, ar))
		requireFamily(t, s, anon, anon, "before RevokeAll")
		require.NoError(t, s.RevokeAll(ctx, time.Now()))
		requireNoFamily(t, s, anon, "cut off by RevokeAll")
		_, err = s.EndFamily(ctx, anon)
		require.ErrorIs(t, err, session.ErrNotFound)
	})
}

// injectHook is a go-redis hook that runs inject once, just before the
// n-th command or pipeline (from 0) the client sends, so that another
// operation lands at an exact point between the steps of one under test.
// Commands sent by inject itself pass through uncounted.
type injectHook struct {
	mu     sync.Mutex
	n      int
	at     int
	busy   bool
	fired  bool
	inject func()
}

func (h *injectHook) arm(at int, inject func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n, h.at, h.busy, h.fired, h.inject = 0, at, false, false, inject
}

// step counts one call and runs inject if its turn has come.
func (h *injectHook) step() {
	h.mu.Lock()
	if h.busy || h.inject == nil {
		h.mu.Unlock()
		return
	}
	i := h.n
	h.n++
	if i != h.at {
		h.mu.Unlock()
		return
	}
	h.busy, h.fired = true, true
	f := h.inject
	h.mu.Unlock()
	f()
	h.mu.Lock()
	h.busy, h.inject = false, nil
	h.mu.Unlock()
}

func (h *injectHook) didFire() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fired
}

func (h *injectHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *injectHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.step()
		return next(ctx, cmd)
	}
}

func (h *injectHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.step()
		return next(ctx, cmds)
	}
}

// TestRedisEndFamilyRacingRotate lands EndFamily before each command of a
// renewal of the family (and, the other way round, the renewal before each
// command of EndFamily): on a single server both are one script; on a
// Cluster each is several steps. In every interleaving no record of the
// family is left live: either the renewal failed, or EndFamily ended its
// new record.
func TestRedisEndFamilyRacingRotate(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		hook := &injectHook{}
		c.AddHook(hook)
		ctx := t.Context()
		s := session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))
		user := "race-" + storetest.Key()[:8]

		for _, endInsideRotate := range []bool{true, false} {
			for at, firedAny := 0, true; firedAny; at++ {
				firedAny = false
				// A family renewed once, so it has a pointer; and a header
				// family's very first record (no old key).
				for _, header := range []bool{false, true} {
					first := storetest.Key()
					r := famRecord(user, "", time.Hour, time.Minute)
					old := ""
					if !header {
						require.NoError(t, s.Create(ctx, first, r))
						old = renew(t, s, first, user, first, r.CreatedAt, time.Minute)
					}
					newKey := storetest.Key()
					var rotErr, endErr error
					var ended *session.IndexedRecord
					rotate := func() {
						_, rotErr = s.Rotate(ctx, &session.Rotation{OldKey: old, NewKey: newKey,
							Meta: famMeta(user, first, r.CreatedAt, time.Hour, time.Minute)})
					}
					end := func() { ended, endErr = s.EndFamily(ctx, first) }
					if endInsideRotate {
						hook.arm(at, end)
						rotate()
					} else {
						hook.arm(at, rotate)
						end()
					}
					fired := hook.didFire()
					firedAny = firedAny || fired
					hook.arm(-1, nil)
					if !fired { // past the last step: the other one runs after
						if endInsideRotate {
							end()
						} else {
							rotate()
						}
					}
					where := "EndFamily before step " + strconv.Itoa(at) + " of Rotate"
					if !endInsideRotate {
						where = "Rotate before step " + strconv.Itoa(at) + " of EndFamily"
					}
					if header {
						where += " (header family)"
					}
					if rotErr != nil {
						require.ErrorIs(t, rotErr, session.ErrNotFound, where)
					}
					if endErr != nil {
						require.ErrorIs(t, endErr, session.ErrNotFound, where)
						require.True(t, header, "%s: the family had a live record throughout, EndFamily must end it: %v", where, endErr)
					}
					if header && rotErr == nil && endErr != nil {
						// EndFamily ran before the family's first record
						// existed: it found nothing, and the family
						// started after it, reachable as such.
						requireFamily(t, s, first, newKey, where)
						require.NoError(t, s.Delete(ctx, newKey))
						continue
					}
					if endErr != nil {
						require.Error(t, rotErr, "%s: EndFamily found nothing, so the renewal must have failed", where)
					}
					if rotErr == nil {
						require.NoError(t, endErr, where)
						require.Equal(t, newKey, ended.Key, "%s: the renewal won, so EndFamily must end its record", where)
					}
					requireNoFamily(t, s, first, where)
					for _, k := range []string{first, old, newKey} {
						if k == "" {
							continue
						}
						_, err := s.Load(ctx, k)
						require.ErrorIs(t, err, session.ErrNotFound, "%s: %s", where, k)
					}
				}
				if !firedAny {
					t.Logf("EndFamily inside Rotate: %v; %d interleavings", endInsideRotate, at)
				}
			}
		}
	})
}

// TestRedisEndFamilyDurabilityFailsClosed: EndFamily is a write that ends
// a session, so with WithDurability it fails (ErrStore) while the replica
// is frozen, and the family is ended for good once it answers.
func TestRedisEndFamilyDurabilityFailsClosed(t *testing.T) {
	primary := redistest.StartServer(t)
	replica := redistest.StartReplica(t, primary)
	ctx := t.Context()
	s := session.NewRedisStore(primary.Client(t), session.WithKeyPrefix(randomPrefix()),
		session.WithDurability(1, 200*time.Millisecond))
	user := "durable-" + storetest.Key()[:8]
	first := storetest.Key()
	r := famRecord(user, "", time.Hour, time.Minute)
	require.NoError(t, s.Create(ctx, first, r))
	k := renew(t, s, first, user, first, r.CreatedAt, time.Minute)

	replica.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			replica.Thaw()
		}
	}()
	_, err := s.EndFamily(ctx, first)
	require.ErrorIs(t, err, session.ErrStore, "an EndFamily no replica acknowledged must fail")
	require.ErrorContains(t, err, "0 of 1 replicas")
	replica.Thaw()
	thawed = true

	requireNoFamily(t, s, first, "ended on the primary")
	_, err = s.Load(ctx, k)
	require.ErrorIs(t, err, session.ErrNotFound)
	// Once the replica answers, an EndFamily is acknowledged.
	first2 := storetest.Key()
	require.NoError(t, s.Create(ctx, first2, famRecord(user, "", time.Hour, time.Minute)))
	_, err = s.EndFamily(ctx, first2)
	require.NoError(t, err)
}

// TestRedisFamilyPreviousFormat: records and tombstones written before
// families (no "fam" field, "r at next") still load, the record as its own
// family.
func TestRedisFamilyPreviousFormat(t *testing.T) {
	c := miniredisClient(t)
	ctx := t.Context()
	prefix := randomPrefix()
	s := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
	k, next := storetest.Key(), storetest.Key()
	require.NoError(t, s.Create(ctx, k, famRecord("", "", time.Hour, time.Minute)))
	require.NoError(t, c.HDel(ctx, prefix+"{"+k+"}", "fam").Err())
	requireFamily(t, s, k, k, "a record without a family field")
	require.NoError(t, c.Set(ctx, prefix+"{"+next+"}:t", "r 1700000000000 "+k, time.Minute).Err())
	_, err := s.Load(ctx, next)
	var tomb *session.Tombstone
	require.True(t, errors.As(err, &tomb), "%v", err)
	assert.Equal(t, k, tomb.Next)
	assert.Empty(t, tomb.Family)

	// A pointer that does not decode hides the family (fail closed).
	f := storetest.Key()
	require.NoError(t, c.Set(ctx, prefix+"{"+f+"}:f", "garbage", time.Minute).Err())
	_, _, err = s.Family(ctx, f)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// TestRedisEndUnknownFamilyWritesNothing: ending families the store never
// saw (forged refresh tokens) leaves no key behind, on a Cluster too, where
// EndFamily otherwise marks a family ended before looking for its record.
func TestRedisEndUnknownFamilyWritesNothing(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		c := newClient(t)
		ctx := t.Context()
		prefix := randomPrefix()
		s := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
		k := storetest.Key()
		require.NoError(t, s.Create(ctx, k, famRecord("", "", time.Hour, time.Minute)))
		before := dumpRedis(t, c, prefix)
		for range 20 {
			_, err := s.EndFamily(ctx, storetest.Key())
			require.ErrorIs(t, err, session.ErrNotFound)
		}
		_, err := s.EndFamily(ctx, "odd {family}")
		require.ErrorIs(t, err, session.ErrNotFound)
		assert.Equal(t, before, dumpRedis(t, c, prefix), "EndFamily of unknown families wrote keys")
	})
}

// Promise: "Losing an item ends sessions, never keeps one alive ... nor
// hide a reuse" on a Redis Cluster. rotateSharded writes the renewed
// record and the family pointer in different slots (different masters),
// neither through the durable path: a failover of the pointer's master
// can lose the pointer write while the record's master keeps the new
// record. The renewed record is then live but out of its family's reach:
// the owner presenting the retired token gets ErrReused, yet the thief's
// token keeps rotating. The DEL of the pointer below stands for that lost
// write (the state a replica promoted before it received it holds).
func TestRedteam23ClusterLostPointerHidesReuse(t *testing.T) {
	c := sharedCluster(t)(t)
	ctx := t.Context()
	prefix := randomPrefix()
	st := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	r := httptest.NewRequest("POST", "/token", nil)

	owner := issued(t)(m.Issue(ctx, r, "victim", session.Lifetimes{Idle: time.Hour, Absolute: 24 * time.Hour}))
	thief := issued(t)(m.Rotate(ctx, r, owner.Token, 0)) // the stolen token, used first

	// The promoted replica never saw the pointer write of that renewal.
	lose := func() {
		fam := rtHeaderFamily(owner.Token)
		ptr := prefix + "{" + fam + "}:f"
		require.NoError(t, c.Del(ctx, ptr).Err())
	}
	lose()

	_, err = m.Rotate(ctx, r, owner.Token, 0)
	require.ErrorIs(t, err, session.ErrReused, "the owner's retired token is reported as reuse")
	_, err = m.Rotate(ctx, r, thief.Token, 0)
	assert.ErrorIs(t, err, session.ErrNotFound, "reuse was reported, yet the thief's session is still live")
}
