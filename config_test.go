package session_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRejectsUnsafeOrContradictorySettings(t *testing.T) {
	for name, cfg := range map[string]session.Config{
		"SameSite=None without Secure": {Cookie: session.CookieConfig{SameSite: http.SameSiteNoneMode, AllowInsecure: true}},
		"__Host- with Domain":          {Cookie: session.CookieConfig{Domain: "example.com"}},
		"__Host- with a Path":          {Cookie: session.CookieConfig{Path: "/app"}},
		"__Host- without Secure":       {Cookie: session.CookieConfig{Name: "__Host-x", AllowInsecure: true}},
		"__Secure- without Secure":     {Cookie: session.CookieConfig{Name: "__Secure-x", AllowInsecure: true}},
		"HttpOnly off":                 {Cookie: session.CookieConfig{DisableHTTPOnly: true}},
		"Partitioned without Secure":   {Cookie: session.CookieConfig{Partitioned: true, AllowInsecure: true}},
		"Partitioned with Lax":         {Cookie: session.CookieConfig{Partitioned: true}},
		"Partitioned with Strict":      {Cookie: session.CookieConfig{Partitioned: true, SameSite: http.SameSiteStrictMode}},
		"__Http- without Secure":       {Cookie: session.CookieConfig{Name: "__Http-x", AllowInsecure: true}},
		"__Host-Http- without Secure":  {Cookie: session.CookieConfig{Name: "__Host-Http-x", AllowInsecure: true}},
		"bad cookie name":              {Cookie: session.CookieConfig{Name: "a b"}},
		"oversized cookie name":        {Cookie: session.CookieConfig{Name: strings.Repeat("n", 300)}},
		"negative idle":                {IdleTimeout: -time.Minute},
		"negative absolute":            {AbsoluteTimeout: -time.Minute},
		"absolute shorter than idle":   {IdleTimeout: time.Hour, AbsoluteTimeout: time.Minute},
		"touch not shorter than idle":  {IdleTimeout: time.Minute, TouchInterval: time.Minute},
		"negative cap":                 {MaxSessionsPerUser: -1},
	} {
		m, err := session.New(cfg)
		assert.ErrorIs(t, err, session.ErrInvalidConfig, name)
		assert.Nil(t, m, name)
	}
}

func TestZeroConfigIsSafeDefaults(t *testing.T) {
	m, err := session.New(session.Config{})
	require.NoError(t, err)
	defer m.Close()
	_, ok := m.Store().(*session.MemoryStore)
	assert.True(t, ok, "nil Store means the in-memory store")

	// Local development over plain HTTP must be asked for, and renames the
	// cookie.
	e := newEnv(t, session.Config{Cookie: session.CookieConfig{AllowInsecure: true}}, testApp())
	res, _ := e.client().post("/set?k=a&v=1")
	ck := sessionCookie(res)
	require.NotNil(t, ck)
	assert.Equal(t, "sid", ck.Name)
	assert.False(t, ck.Secure)
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
}
