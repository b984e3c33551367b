package drivertest

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOddNamesAndValues: value names and values are opaque bytes (quotes,
// NUL, invalid UTF-8, empty, large), kept exactly through every write path:
// Create, Update (set, delete, clear) and Rotate (moved, deleted, set); and
// an evicted session's device is reported exactly.
func TestOddNamesAndValues(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		ctx := context.Background()
		big := bytes.Repeat([]byte{0, 0xff, '\'', '"', '\\'}, 200<<10/5)
		values := map[string][]byte{
			"quote'\"\\":  []byte("it's \"quoted\" \\ here"),
			"nul\x00name": {0, 1, 2, 0},
			"\xff\xfe":    {0xff, 0xfe, 0xfd},
			"ünïcødé 🍪":   []byte("ünïcødé 🍪"),
			"empty":       {},
			"big":         big,
			"[\"json\"]":  []byte(`["not", "json"]`),
			"base64==":    []byte("=="),
		}
		k := storetest.Key()
		r := storetest.Record(time.Minute, values)
		r.UserID = "odd\xff'\""
		r.UserAgent = "agent \"quoted\" 'ü' \\ \x01"
		require.NoError(t, st.Create(ctx, k, r))
		got, err := st.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, values, got.Values, "Create keeps names and values exactly")
		assert.Equal(t, r.UserAgent, got.Meta.UserAgent)

		require.NoError(t, st.Update(ctx, k, &session.Delta{
			Set:    map[string][]byte{"\xff\xfe": []byte("new"), "added\x00": {0}},
			Delete: []string{"quote'\"\\", "nul\x00name"},
		}))
		want := map[string][]byte{"\xff\xfe": []byte("new"), "added\x00": {0}, "ünïcødé 🍪": values["ünïcødé 🍪"],
			"empty": {}, "big": big, "[\"json\"]": values["[\"json\"]"], "base64==": values["base64=="]}
		got, err = st.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, want, got.Values, "Update sets and deletes exactly the names given")

		k2 := storetest.Key()
		m := r.Meta
		m.LastSeen = m.LastSeen.Add(time.Second)
		_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: m, Delta: session.Delta{
			Set: map[string][]byte{"rotated'": []byte("\x00")}, Delete: []string{"big", "ünïcødé 🍪"},
		}})
		require.NoError(t, err)
		delete(want, "big")
		delete(want, "ünïcødé 🍪")
		want["rotated'"] = []byte("\x00")
		got, err = st.Load(ctx, k2)
		require.NoError(t, err)
		assert.Equal(t, want, got.Values, "Rotate moves, deletes and sets exactly")

		require.NoError(t, st.Update(ctx, k2, &session.Delta{Clear: true, Set: map[string][]byte{"only": nil}}))
		got, err = st.Load(ctx, k2)
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{"only": {}}, got.Values, "Clear drops every value")

		// The cap evicts the odd user's session and reports its device.
		evicted, err := st.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: m, MaxSessions: 1})
		require.NoError(t, err)
		require.Len(t, evicted, 1)
		assert.Equal(t, k2, evicted[0].Key)
		assert.Equal(t, r.UserID, evicted[0].Meta.UserID)
		assert.Equal(t, r.UserAgent, evicted[0].Meta.UserAgent)
		assert.Equal(t, r.IP, evicted[0].Meta.IP)
		assert.Equal(t, m.LastSeen.UnixNano(), evicted[0].Meta.LastSeen.UnixNano())
		assert.Equal(t, r.Meta.Expires.UnixNano(), evicted[0].Meta.Expires.UnixNano())
	})
}
