package session_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Anonymous traffic is DEBUG: 1,000 cookieless requests that set a value
// write nothing to a logger at the default INFO level, while OnEvent still
// sees every creation.
func TestEventLevelsAnonymousCreationIsQuiet(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil)) // INFO
	e := newEnv(t, session.Config{Logger: logger}, testApp())
	for i := 0; i < 1000; i++ {
		res, _ := e.client().post("/set?k=a&v=1")
		require.Equal(t, 200, res.StatusCode)
	}
	created := 0
	for _, ev := range e.events.all() {
		if ev.Kind == session.EventCreated {
			created++
		}
	}
	assert.Equal(t, 1000, created, "every creation reaches OnEvent")
	assert.Empty(t, logs.String(), "anonymous creation logged at the default level")
}

// Config.EventLevels raises or lowers one kind; the others keep their
// defaults (login INFO, rejected WARN).
func TestEventLevelsConfigurable(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e := newEnv(t, session.Config{Logger: logger, EventLevels: map[string]slog.Level{
		session.EventCreated: slog.LevelWarn,
		session.EventLogin:   slog.LevelDebug,
	}}, testApp())
	c := e.client()
	c.post("/set?k=a&v=1")
	c.post("/login?u=alice")
	c.setToken("garbage")
	c.get("/whoami")
	out := logs.String()
	assert.Contains(t, out, "level=WARN msg=session.created")
	assert.NotContains(t, out, "msg=session.login", "login lowered to DEBUG")
	assert.Contains(t, out, "level=WARN msg=session.rejected")
	assert.Contains(t, e.events.kinds(), session.EventLogin, "OnEvent sees a kind whatever its level")
}

// A misspelt kind is refused by New rather than silently ignored.
func TestEventLevelsUnknownKindRefused(t *testing.T) {
	_, err := session.New(session.Config{EventLevels: map[string]slog.Level{"session.craeted": slog.LevelDebug}})
	require.ErrorIs(t, err, session.ErrInvalidConfig)
	assert.True(t, strings.Contains(err.Error(), "session.craeted"), err.Error())
}
