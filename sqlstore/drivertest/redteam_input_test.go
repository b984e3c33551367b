package drivertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redManyNames: more names than one multi-row statement takes (200),
// through Create, Update (set and delete) and Rotate.
func redManyNames(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	values := map[string][]byte{}
	for i := range 450 {
		values[fmt.Sprintf("n%03d'\"", i)] = []byte(fmt.Sprint(i))
	}
	k := storetest.Key()
	r := redRecord("many", values)
	require.NoError(t, st.Create(ctx, k, r))
	got, err := loadValues(ctx, st, k)
	require.NoError(t, err)
	require.Equal(t, values, got)
	d := &session.Delta{Set: map[string][]byte{}}
	for i := range 450 {
		name := fmt.Sprintf("n%03d'\"", i)
		switch i % 3 {
		case 0:
			d.Delete = append(d.Delete, name)
			delete(values, name)
		case 1:
			d.Set[name] = []byte("u")
			values[name] = []byte("u")
		}
	}
	for i := range 250 {
		d.Set[fmt.Sprintf("m%d", i)] = nil
		values[fmt.Sprintf("m%d", i)] = []byte{}
	}
	require.NoError(t, st.Update(ctx, k, d))
	got, err = loadValues(ctx, st, k)
	require.NoError(t, err)
	require.Equal(t, values, got)
	k2 := storetest.Key()
	_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r), Delta: *d})
	require.NoError(t, err)
	got, err = loadValues(ctx, st, k2)
	require.NoError(t, err)
	require.Equal(t, values, got)
}

// redOversizedDevice: device fields beyond what a column holds (a 70 KB
// user agent, a 300-byte IP) or not UTF-8 are kept exactly or refused
// with an error, never truncated or mangled.
func redOversizedDevice(t *testing.T, b backend, st *sqlstore.Store) {
	ctx := context.Background()
	cases := []struct{ name, ua, ip string }{
		{"long agent", strings.Repeat("a", 70000), "1.2.3.4"},
		{"long IP", "ua", strings.Repeat("1", 300)},
		{"invalid UTF-8 agent", "ua\xff\xfe", "1.2.3.4"},
		{"NUL agent", "ua\x00ua", "1.2.3.4"},
	}
	for _, c := range cases {
		r := redRecord("oversized", set("a", "1"))
		r.UserAgent, r.IP = c.ua, c.ip
		k := storetest.Key()
		err := st.Create(ctx, k, r)
		if err != nil {
			t.Logf("%s: Create refused: %v", c.name, err)
			assert.ErrorIs(t, err, session.ErrStore, c.name)
			_, lerr := st.Load(ctx, k)
			assert.ErrorIs(t, lerr, session.ErrNotFound, "%s: a refused Create wrote", c.name)
		} else {
			got, err := st.Load(ctx, k)
			require.NoError(t, err, c.name)
			assert.True(t, got.UserAgent == c.ua && got.IP == c.ip, "%s: stored as agent of %d bytes, IP of %d bytes: mangled",
				c.name, len(got.UserAgent), len(got.IP))
		}
		k2 := storetest.Key()
		_, err = st.Rotate(ctx, &session.Rotation{NewKey: k2, Meta: r.Meta, MaxSessions: 10})
		if err != nil {
			t.Logf("%s: Rotate refused: %v", c.name, err)
			assert.ErrorIs(t, err, session.ErrStore, c.name)
			continue
		}
		got, err := st.Load(ctx, k2)
		require.NoError(t, err, c.name)
		assert.True(t, got.UserAgent == c.ua && got.IP == c.ip, "%s: renewed as agent of %d bytes, IP of %d bytes: mangled",
			c.name, len(got.UserAgent), len(got.IP))
	}
}

// redHostileNames: value names and values of odd bytes and sizes, kept
// exactly through Create, Update and Rotate; on MySQL a 255-byte name is
// the limit and 256 is refused with a clear error and nothing written.
func redHostileNames(t *testing.T, b backend, st *sqlstore.Store) {
	ctx := context.Background()
	big := make([]byte, 4<<20)
	_, _ = rand.Read(big)
	n255 := strings.Repeat("\xff", 254) + "n"
	values := map[string][]byte{
		"":                {'e'},
		"a":               {},
		"A":               {'A'},
		"a ":              {'s'},
		"a\x00":           {0},
		"\x01ff":          []byte("escape-looking"),
		"\xff":            {0xff},
		"\x01":            {1},
		"é":               []byte("composed"),
		"e\u0301":         []byte("decomposed"),
		n255:              []byte("255"),
		`["x","eA=="]`:    []byte(`["json"]`),
		"eA==":            []byte("eA=="),
		"big":             big,
		"\\\"'%_*?\n\t\r": []byte("\\\"'"),
	}
	k := storetest.Key()
	r := redRecord("hostile", values)
	require.NoError(t, st.Create(ctx, k, r))
	got, err := loadValues(ctx, st, k)
	require.NoError(t, err)
	require.Len(t, got, len(values))
	for name, v := range values {
		assert.True(t, bytes.Equal(v, got[name]), "Create: name %q: got %d bytes, want %d", name, len(got[name]), len(v))
	}

	big2 := bytes.Repeat([]byte{0}, 4<<20)
	require.NoError(t, st.Update(ctx, k, &session.Delta{
		Set:    map[string][]byte{"big": big2, "a\x00": nil, "new\xfe": {}},
		Delete: []string{"A", "e\u0301", "\x01"},
	}))
	want := map[string][]byte{}
	for n, v := range values {
		want[n] = v
	}
	want["big"], want["a\x00"], want["new\xfe"] = big2, []byte{}, []byte{}
	delete(want, "A")
	delete(want, "e\u0301")
	delete(want, "\x01")
	got, err = loadValues(ctx, st, k)
	require.NoError(t, err)
	sameValues(t, want, got, "Update")

	k2 := storetest.Key()
	_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r), Delta: session.Delta{
		Set: map[string][]byte{"": []byte("renewed"), "big": big}, Delete: []string{n255, "a "},
	}})
	require.NoError(t, err)
	want[""], want["big"] = []byte("renewed"), big
	delete(want, n255)
	delete(want, "a ")
	got, err = loadValues(ctx, st, k2)
	require.NoError(t, err)
	sameValues(t, want, got, "Rotate")

	// 256 bytes: MySQL refuses it, whole, with a clear error; others keep it.
	n256 := n255 + "x"
	k3 := storetest.Key()
	errCreate := st.Create(ctx, k3, redRecord("", map[string][]byte{n256: {1}, "ok": {2}}))
	errUpdate := st.Update(ctx, k2, &session.Delta{Set: map[string][]byte{n256: {1}, "ok": {2}}})
	_, errRotate := st.Rotate(ctx, &session.Rotation{OldKey: k2, NewKey: storetest.Key(), Meta: renewMeta(r),
		Delta: session.Delta{Set: map[string][]byte{n256: {1}}}})
	if b.d != sqlstore.MySQL {
		require.NoError(t, errCreate)
		require.NoError(t, errUpdate)
		require.NoError(t, errRotate)
		got, err := loadValues(ctx, st, k3)
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{n256: {1}, "ok": {2}}, got)
		return
	}
	for name, err := range map[string]error{"Create": errCreate, "Update": errUpdate, "Rotate": errRotate} {
		require.Error(t, err, "%s of a 256-byte name", name)
		assert.Contains(t, err.Error(), "255", name)
		assert.NotErrorIs(t, err, session.ErrNotFound, name)
	}
	_, err = st.Load(ctx, k3)
	require.ErrorIs(t, err, session.ErrNotFound, "the refused Create wrote")
	got, err = loadValues(ctx, st, k2)
	require.NoError(t, err, "the refused Rotate ended the old key")
	_, ok := got["ok"]
	assert.False(t, ok, "the refused Update was half applied")
	// Deleting a name longer than any stored one is harmless.
	require.NoError(t, st.Update(ctx, k2, &session.Delta{Delete: []string{n256 + n256}}))
}

// redHostileDevice: user agents and IPs with quotes, backslashes, JSON and
// SQL-looking text come back exactly through Create, Rotate, UserSessions
// and the cap's eviction report.
func redHostileDevice(t *testing.T, b backend, st *sqlstore.Store) {
	ctx := context.Background()
	agents := []string{
		`Mozilla/5.0 "quoted" 'single' \ back\\slash`,
		`{"ua":"x","n":1,"a":[1,2]}`,
		`["eA==","eQ=="]`,
		`'); DROP TABLE session_records; --`,
		"tab\tnew\nline\r\x01\x7f",
		`\u0000 \x00 %s %d ?`,
		strings.Repeat(`"\`, 4000),
		"ünïcødé",
		"",
	}
	user := "device-" + b.name
	for i, ua := range agents {
		r := redRecord(user, set("i", fmt.Sprint(i)))
		r.UserAgent = ua
		r.IP = `::ffff:127.0.0.1"'\` + fmt.Sprint(i)
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, r), "agent %d", i)
		got, err := st.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, ua, got.UserAgent, "Create: agent %d", i)
		assert.Equal(t, r.IP, got.IP, "Create: agent %d", i)

		k2 := storetest.Key()
		m := renewMeta(r)
		m.UserAgent = ua + "'renewed\""
		evicted, err := st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: m, MaxSessions: 1})
		require.NoError(t, err, "agent %d", i)
		got, err = st.Load(ctx, k2)
		require.NoError(t, err)
		assert.Equal(t, m.UserAgent, got.UserAgent, "Rotate: agent %d", i)
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, live, 1, "agent %d", i)
		assert.Equal(t, m.UserAgent, live[0].Meta.UserAgent, "UserSessions: agent %d", i)
		if i > 0 {
			require.Len(t, evicted, 1, "agent %d", i)
			assert.Equal(t, agents[i-1]+"'renewed\"", evicted[0].Meta.UserAgent, "evicted: agent %d", i)
		}
	}
}

// redEvictedAgentUnicode: a login that evicts, for the cap, a session
// whose user agent holds characters outside Latin-1 (an emoji, CJK)
// succeeds and reports the agent exactly.
func redEvictedAgentUnicode(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	for i, ua := range []string{"Mozilla 🍪", "浏览器", "line\u2028sep"} {
		user := fmt.Sprintf("evict-ua-%d", i)
		r := redRecord(user, nil)
		r.UserAgent = ua
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		got, err := st.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, ua, got.UserAgent, "Create keeps the agent")
		evicted, err := st.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: renewMeta(r), MaxSessions: 1})
		if !assert.NoError(t, err, "agent %q: a login that evicts this session fails", ua) {
			continue
		}
		require.Len(t, evicted, 1)
		assert.Equal(t, ua, evicted[0].Meta.UserAgent)
	}
}

// redHostileUsers: user IDs that look like JSON, base64 (of another user),
// hex or SQL are distinct users: revoking one leaves the others.
func redHostileUsers(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	users := []string{"abc", "YWJj", "616263", `["abc"]`, `{"user":"abc"}`, `abc' OR '1'='1`, `abc\`, "abc\x00", "ABC", "abc "}
	keys := map[string]string{}
	for _, u := range users {
		k := storetest.Key()
		r := redRecord(u, set("u", u))
		_, err := st.Rotate(ctx, &session.Rotation{NewKey: k, Meta: r.Meta, MaxSessions: 1, Delta: session.Delta{Set: r.Values}})
		require.NoError(t, err, "user %q", u)
		keys[u] = k
	}
	for _, u := range users {
		live, err := st.UserSessions(ctx, u)
		require.NoError(t, err)
		require.Len(t, live, 1, "user %q sees other users' sessions", u)
		assert.Equal(t, keys[u], live[0].Key)
		assert.Equal(t, u, live[0].Meta.UserID)
	}
	require.NoError(t, st.RevokeUser(ctx, "abc"))
	for _, u := range users {
		got, err := st.Load(ctx, keys[u])
		if u == "abc" {
			require.ErrorIs(t, err, session.ErrNotFound)
			continue
		}
		require.NoError(t, err, "revoking %q ended %q", "abc", u)
		assert.Equal(t, u, got.UserID)
		assert.Equal(t, set("u", u), got.Values)
	}
}

// killAndCall runs call while the row of key is locked, kills the call's
// connection from the server side once it waits on the lock, and returns

// redNegativeLinger: a negative linger, in a record, a renewal or a
// timeouts change, is no linger: the session works, ends without a
// tombstone, and is never read back as a corrupt row.
func redNegativeLinger(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	r := redRecord("neg-linger", set("a", "1"))
	r.Linger = -time.Hour
	k := storetest.Key()
	require.NoError(t, st.Create(ctx, k, r))
	got, err := st.Load(ctx, k)
	require.NoError(t, err, "Create with a negative linger")
	assert.Zero(t, got.Linger)

	now := time.Now()
	require.NoError(t, st.Update(ctx, k, &session.Delta{LastSeen: now, Expires: now.Add(time.Minute),
		Timeouts: &session.Timeouts{Idle: time.Minute, Absolute: time.Hour, Linger: -time.Minute}, Set: set("b", "2")}))
	got, err = st.Load(ctx, k)
	require.NoError(t, err, "Update with a negative linger")
	assert.Equal(t, set("a", "1", "b", "2"), got.Values)

	m := renewMeta(r)
	next := storetest.Key()
	_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: next, Meta: m})
	require.NoError(t, err)
	_, err = st.Load(ctx, k)
	require.ErrorIs(t, err, session.ErrNotFound, "the renewed-away key")
	assert.NotErrorIs(t, err, session.ErrStore)
	got, err = st.Load(ctx, next)
	require.NoError(t, err, "renewal with a negative linger")
	assert.Equal(t, set("a", "1", "b", "2"), got.Values)

	require.NoError(t, st.Delete(ctx, next))
	_, err = st.Load(ctx, next)
	require.ErrorIs(t, err, session.ErrNotFound)
	assert.NotErrorIs(t, err, session.ErrStore)
}
