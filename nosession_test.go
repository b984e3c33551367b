package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// A handler mounted outside Handler (gin without ContextWithFallback, a
// test calling it directly) gets a detached Session: clear errors, zero
// getters, no panic.
func TestFromContextOutsideHandlerReturnsNoSessionErrors(t *testing.T) {
	ctx := context.Background()
	s := session.FromContext(ctx)
	require.NotNil(t, s)

	require.ErrorIs(t, s.Err(), session.ErrNoSession)
	assert.Contains(t, s.Err().Error(), "wrap the handler with Manager.Handler")
	assert.Contains(t, s.Err().Error(), "ginsession")

	errs := map[string]error{
		"Set":            s.Set("k", "v"),
		"Login":          s.Login(ctx, "alice"),
		"Login empty":    s.Login(ctx, ""),
		"Renew":          s.Renew(ctx),
		"Reauthenticate": s.Reauthenticate(ctx),
		"Destroy":        s.Destroy(ctx),
		"RevokeOthers":   s.RevokeOthers(ctx),
		"Check":          s.Check(ctx),
		"Save":           s.Save(ctx),
		"SetPersist":     s.SetPersist(true),
		"SetTimeouts":    s.SetTimeouts(time.Minute, time.Hour),
	}
	for name, err := range errs {
		assert.ErrorIs(t, err, session.ErrNoSession, name)
	}

	s.Delete("k")
	s.Clear()
	assert.Empty(t, s.GetString("k"))
	assert.Zero(t, s.GetInt("k"))
	_, ok := session.Get[bool](s, "k")
	assert.False(t, ok)
	assert.False(t, s.Has("k"))
	assert.Empty(t, s.Keys())
	assert.Empty(t, s.Pop("k"))
	_, ok = session.Get[string](s, "k")
	assert.False(t, ok)
	_, ok = session.PopAs[int](s, "k")
	assert.False(t, ok)
	assert.Empty(t, s.UserID())
	assert.Empty(t, s.Handle())
	assert.True(t, s.AuthenticatedAt().IsZero())

	wctx, cancel := s.Watch(ctx, time.Hour)
	defer cancel()
	select {
	case <-wctx.Done():
		assert.ErrorIs(t, context.Cause(wctx), session.ErrNoSession)
	default:
		t.Fatal("Watch on a detached session is not done at once")
	}
}

// Each call outside Handler gets its own detached Session: nothing one
// caller does reaches another.
func TestFromContextOutsideHandlerIsNotShared(t *testing.T) {
	a := session.FromContext(context.Background())
	b := session.FromContext(context.Background())
	assert.NotSame(t, a, b)
}

// Under Handler, FromContext is the request's session and has no error.
func TestFromContextUnderHandlerHasNoNoSessionError(t *testing.T) {
	m, err := session.New(session.Config{})
	require.NoError(t, err)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		assert.NoError(t, s.Err())
		assert.NoError(t, s.Set("k", "v"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "https://example.com/", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.NotEmpty(t, rec.Header().Values("Set-Cookie"))
}

// A handler mounted outside the middleware answers with the error instead
// of killing the request with a nil-pointer panic.
func TestHandlerOutsideMiddlewareGetsNoSessionError(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), "alice"); err != nil {
			if errors.Is(err, session.ErrNoSession) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	require.NotPanics(t, func() { h.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil)) })
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.True(t, strings.Contains(rec.Body.String(), "Manager.Handler"), rec.Body.String())
}
