package session_test

import (
	"bufio"
	"context"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxClient mirrors the library's bound on client strings.
const maxClient = 256

func assertClientString(t *testing.T, what, v string) {
	t.Helper()
	assert.LessOrEqual(t, len(v), maxClient, "%s: %d bytes", what, len(v))
	assert.True(t, utf8.ValidString(v), "%s is not valid UTF-8: %q", what, v)
}

// A hostile User-Agent, Origin or method reaches records, events and log
// lines only valid and bounded (one named bound for client
// strings). Before: a 512 KB User-Agent with a bogus cookie was copied whole
// into the event and its log line, and records were cut inside a character.
func TestClientStringsAreBoundedEverywhere(t *testing.T) {
	var logs lockedBuffer
	e := newEnv(t, session.Config{
		Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
		Binding: session.BindLog,
	}, testApp())

	// 1. A bogus cookie and a 512 KB User-Agent with invalid bytes.
	huge := "\xff\xfe" + strings.Repeat("A", 512<<10)
	c := e.client()
	c.ua = huge
	c.setToken("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	res, _ := c.get("/get?k=a")
	require.Equal(t, 200, res.StatusCode)

	// 2. A login whose User-Agent would be cut inside a character.
	split := "a" + strings.Repeat("é", 300) + "\xff"
	u := e.client()
	u.ua = split
	res, _ = u.post("/login?u=alice")
	require.Equal(t, 200, res.StatusCode)
	infos, err := e.m.Sessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assertClientString(t, "record User-Agent", infos[0].UserAgent)
	assert.True(t, strings.HasPrefix(split, infos[0].UserAgent), "cut, not rewritten")
	assertClientString(t, "record IP", infos[0].IP)
	// The binding check compares like with like: same device, no event.
	u.get("/whoami")

	// 3. A cross-origin POST with a long Origin.
	x := e.client()
	res, _ = x.do("POST", "/set?k=a&v=1", nil,
		"Sec-Fetch-Site", "cross-site",
		"Origin", "https://evil.example/"+strings.Repeat("é", 2000))
	require.Equal(t, 403, res.StatusCode)

	var sawRejected, sawCross bool
	for _, ev := range e.events.all() {
		assertClientString(t, ev.Kind+" UserAgent", ev.UserAgent)
		assertClientString(t, ev.Kind+" Reason", ev.Reason)
		assertClientString(t, ev.Kind+" IP", ev.IP)
		assert.NotEqual(t, session.EventBindingChanged, ev.Kind, "same device flagged as changed")
		switch ev.Kind {
		case session.EventRejected:
			sawRejected = true
		case session.EventCrossOrigin:
			sawCross = true
			assert.True(t, strings.HasPrefix(ev.Reason, "POST from https://evil.example/"), ev.Reason)
		}
	}
	assert.True(t, sawRejected && sawCross, "events: %v", e.events.kinds())

	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 4<<20)
	lines := 0
	for sc.Scan() {
		lines++
		assert.Less(t, len(sc.Bytes()), 2048, "log line of %d bytes", len(sc.Bytes()))
	}
	require.NoError(t, sc.Err())
	assert.Positive(t, lines)
}
