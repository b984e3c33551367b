package session_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

func sealed(t testing.TB, inner session.Store, keys ...[]byte) session.Store {
	s, err := session.SealValues(inner, keys...)
	require.NoError(t, err)
	return s
}

func TestSealValuesConformanceMemory(t *testing.T) {
	key := newKey(t)
	storetest.Run(t, func(t *testing.T) session.Store {
		m := session.NewMemoryStore(session.WithSweepInterval(100 * time.Millisecond))
		t.Cleanup(func() { _ = m.Close() })
		return sealed(t, m, key)
	})
}

func TestSealValuesConformanceRedis(t *testing.T) {
	key := newKey(t)
	run := func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		storetest.Run(t, func(t *testing.T) session.Store {
			return sealed(t, session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix())), key)
		})
	}
	t.Run("Miniredis", func(t *testing.T) { run(t, miniredisClient) })
	t.Run("Server", func(t *testing.T) { run(t, sharedServer(t)) })
}

// bareStore hides the optional interfaces of the store it wraps.
type bareStore struct{ session.Store }

func TestSealValuesForwardsExactlyTheOptionalInterfaces(t *testing.T) {
	mem := session.NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	for _, tc := range []struct {
		inner            session.Store
		indexed, rotates bool
	}{
		{mem, true, true},
		{bareStore{mem}, false, false},
		{struct {
			session.Store
			session.UserIndex
		}{mem, mem}, true, false},
		{struct {
			session.Store
			session.Rotator
		}{mem, mem}, false, true},
	} {
		s := sealed(t, tc.inner, newKey(t))
		_, indexed := s.(session.UserIndex)
		_, rotates := s.(session.Rotator)
		assert.Equal(t, tc.indexed, indexed, "%T", tc.inner)
		assert.Equal(t, tc.rotates, rotates, "%T", tc.inner)
	}
	for _, keys := range [][][]byte{nil, {make([]byte, 31)}, {make([]byte, 32), make([]byte, 32)}} {
		_, err := session.SealValues(mem, keys...)
		assert.ErrorIs(t, err, session.ErrInvalidConfig)
	}
}

// A sealed value opens only in its own session (and the sessions it was
// renewed into), under its own name.
func TestSealValuesBinding(t *testing.T) {
	ctx := context.Background()
	mem := session.NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	key := newKey(t)
	s := sealed(t, mem, key)

	a, b := storetest.Key(), storetest.Key()
	require.NoError(t, s.Create(ctx, a, storetest.Record(time.Hour, map[string][]byte{"token": []byte(`"oauth"`)})))
	raw, err := mem.Load(ctx, a)
	require.NoError(t, err)
	require.NotContains(t, string(raw.Values["token"]), "oauth", "stored in the clear")

	got, err := s.Load(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, `"oauth"`, string(got.Values["token"]))

	// Copied into another session: absent, and a warning is logged.
	var logged lockedBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	require.NoError(t, mem.Create(ctx, b, raw.Clone()))
	got, err = s.Load(ctx, b)
	require.NoError(t, err)
	assert.NotContains(t, got.Values, "token", "a value copied into another session opened")
	assert.Contains(t, logged.String(), "level=WARN")
	assert.Contains(t, logged.String(), "value=token")
	assert.NotContains(t, logged.String(), "oauth", "the value reached the log")

	// Renamed: absent.
	require.NoError(t, mem.Update(ctx, a, &session.Delta{Set: map[string][]byte{"other": raw.Values["token"]}}))
	got, err = s.Load(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, `"oauth"`, string(got.Values["token"]))
	assert.NotContains(t, got.Values, "other", "a renamed value opened")

	// Tampered: absent.
	bad := bytes.Clone(raw.Values["token"])
	bad[len(bad)-1] ^= 1
	require.NoError(t, mem.Update(ctx, a, &session.Delta{Set: map[string][]byte{"token": bad}}))
	got, err = s.Load(ctx, a)
	require.NoError(t, err)
	assert.NotContains(t, got.Values, "token")

	// Renewed twice: the values carried over still open, and a copy of the
	// whole renewed record (renewal entries included) opens nothing.
	require.NoError(t, s.Update(ctx, a, &session.Delta{Set: map[string][]byte{"token": []byte(`"v2"`)}}))
	c, d, e := storetest.Key(), storetest.Key(), storetest.Key()
	rot := s.(session.Rotator)
	_, err = rot.Rotate(ctx, &session.Rotation{OldKey: a, NewKey: c, Meta: raw.Meta})
	require.NoError(t, err)
	_, err = rot.Rotate(ctx, &session.Rotation{OldKey: c, NewKey: d, Meta: raw.Meta,
		Delta: session.Delta{Set: map[string][]byte{"new": []byte("1")}}})
	require.NoError(t, err)
	got, err = s.Load(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"token": []byte(`"v2"`), "new": []byte("1")}, got.Values)

	rawD, err := mem.Load(ctx, d)
	require.NoError(t, err)
	require.NoError(t, mem.Create(ctx, e, rawD))
	got, err = s.Load(ctx, e)
	require.NoError(t, err)
	assert.Empty(t, got.Values, "a copied renewed record opened")
}

func TestSealValuesKeyRotation(t *testing.T) {
	ctx := context.Background()
	mem := session.NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close() })
	k1, k2 := newKey(t), newKey(t)
	a := storetest.Key()
	require.NoError(t, sealed(t, mem, k1).Create(ctx, a, storetest.Record(time.Hour, map[string][]byte{"old": []byte("1")})))

	both := sealed(t, mem, k2, k1)
	got, err := both.Load(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, "1", string(got.Values["old"]), "the old key no longer opens")
	require.NoError(t, both.Update(ctx, a, &session.Delta{Set: map[string][]byte{"new": []byte("2")}}))

	got, err = sealed(t, mem, k2).Load(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"new": []byte("2")}, got.Values, "the new key seals; the dropped key's values read as absent")
}

// secretApp stores a recognisable secret, logs in (a renewal) and reads it.
func secretApp(secret string) *http.ServeMux {
	app := testApp().(*http.ServeMux)
	app.HandleFunc("POST /secret", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set("oauth", secret); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := s.Login(r.Context(), "user-1"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = s.Set("after", secret+"-after")
	})
	app.HandleFunc("POST /more", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Set("more", secret+"-more")
	})
	return app
}

// The dump test: after a session stored values through the Manager (create,
// login, update), nothing in Redis contains them in the clear, and the
// application still reads them.
func TestSealValuesRedisDumpShowsNoPlaintext(t *testing.T) {
	run := func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		cl, prefix := newClient(t), randomPrefix()
		secret := "ya29.secret-oauth-" + storetest.Key()
		st := sealed(t, session.NewRedisStore(cl, session.WithKeyPrefix(prefix)), newKey(t))
		e := newEnv(t, session.Config{Store: st}, secretApp(secret))
		c := e.client()
		res, _ := c.post("/secret")
		require.Equal(t, http.StatusOK, res.StatusCode)
		c.post("/more")
		_, body := c.get("/get?k=oauth")
		require.Equal(t, secret, body)
		_, body = c.get("/get?k=more")
		require.Equal(t, secret+"-more", body)

		dump := fmt.Sprint(dumpRedis(t, cl, prefix))
		assert.Contains(t, dump, "user-1", "the dump reads the store (user IDs are not sealed)")
		assert.NotContains(t, dump, "secret-oauth", "a session value is in the clear in Redis")
	}
	t.Run("Miniredis", func(t *testing.T) { run(t, miniredisClient) })
	t.Run("Server", func(t *testing.T) { run(t, sharedServer(t)) })
}
