package session_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

type cart struct {
	Items []string
	Total int64
	At    time.Time
}

// Values keep their Go types through the store: written in one request,
// read back in the next.
func TestValuesRoundTripWithTheirTypes(t *testing.T) {
	when := time.Date(2026, 11, 22, 6, 30, 0, 123456789, time.FixedZone("X", 3600))
	app := http.NewServeMux()
	app.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		require.NoError(t, s.Set("int", 42))
		require.NoError(t, s.Set("big", int64(1)<<60))
		require.NoError(t, s.Set("str", "héllo"))
		require.NoError(t, s.Set("bool", true))
		require.NoError(t, s.Set("time", when))
		require.NoError(t, s.Set("cart", cart{Items: []string{"a", "b"}, Total: 7, At: when}))
		require.NoError(t, s.Set("bytes", []byte{0, 1, 255}))
		require.NoError(t, s.Set("gone", "x"))
		s.Delete("gone")
	})
	app.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		assert.Equal(t, 42, s.GetInt("int"))
		big, ok := session.Get[int64](s, "big")
		assert.True(t, ok)
		assert.Equal(t, int64(1)<<60, big)
		assert.Equal(t, "héllo", s.GetString("str"))
		flag, _ := session.Get[bool](s, "bool")
		assert.True(t, flag)
		got, _ := session.Get[time.Time](s, "time")
		assert.True(t, when.Equal(got), "time keeps its instant")
		c, ok := session.Get[cart](s, "cart")
		assert.True(t, ok)
		assert.Equal(t, []string{"a", "b"}, c.Items)
		assert.True(t, when.Equal(c.At))
		b, _ := session.Get[[]byte](s, "bytes")
		assert.Equal(t, []byte{0, 1, 255}, b)
		_, ok = session.Get[string](s, "gone")
		assert.False(t, ok)
		_, ok = session.Get[int](s, "str")
		assert.False(t, ok, "a type mismatch reads as absent")
		assert.Zero(t, s.GetInt("missing"))
		assert.Equal(t, []string{"big", "bool", "bytes", "cart", "int", "str", "time"}, s.Keys())
		assert.Equal(t, "héllo", s.Pop("str"))
		assert.False(t, s.Has("str"))
		w.WriteHeader(204)
	})
	app.HandleFunc("GET /popped", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if !s.Has("str") && s.GetInt("int") == 42 {
			w.WriteHeader(204)
		}
	})
	app.HandleFunc("POST /clear", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Clear()
	})
	app.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		assert.Empty(t, s.Keys())
		assert.False(t, s.IsNew(), "Clear keeps the session")
	})
	e := newEnv(t, session.Config{}, app)
	c := e.client()
	res, _ := c.post("/write")
	require.Equal(t, 200, res.StatusCode)
	res, _ = c.get("/read")
	require.Equal(t, 204, res.StatusCode)
	res, _ = c.get("/popped")
	require.Equal(t, 204, res.StatusCode, "Pop's delete was saved")
	c.post("/clear")
	c.get("/keys")
}
