package memcachedstore

import (
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleRecord() *session.Record {
	now := time.Unix(1_800_000_000, 123_456_789)
	return &session.Record{
		Meta: session.Meta{
			UserID: "user-1", Generation: 7, CreatedAt: now.Add(-time.Hour), LastSeen: now, AuthenticatedAt: now.Add(-time.Minute),
			UserAgent: "agent", IP: "192.0.2.1", IdleTimeout: 5 * time.Minute, AbsoluteTimeout: time.Hour,
			Persist: true, Linger: 30 * time.Second, Expires: now.Add(5 * time.Minute), Family: "family-1",
		},
		Values: map[string][]byte{"a": []byte(`"x"`), "bin": {0, 255}, "empty": {}},
	}
}

func sampleTomb() *tomb {
	now := time.Unix(1_800_000_000, 5)
	t := &tomb{Until: now.Add(time.Minute)}
	t.Reason, t.At, t.Next, t.Family = session.EndRotated, now, "next-key", "family-1"
	t.Meta = session.Meta{CreatedAt: now.Add(-time.Hour), LastSeen: now, IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour}
	return t
}

func TestCodecRoundTrip(t *testing.T) {
	in := sampleRecord()
	d, err := decode(encodeRecord(nil, in))
	require.NoError(t, err)
	require.NotNil(t, d.rec)
	assert.Equal(t, in.Values, d.rec.Values)
	assert.Equal(t, in.UserID, d.rec.UserID)
	assert.Equal(t, in.Generation, d.rec.Generation)
	assert.True(t, in.CreatedAt.Equal(d.rec.CreatedAt) && in.LastSeen.Equal(d.rec.LastSeen) &&
		in.AuthenticatedAt.Equal(d.rec.AuthenticatedAt) && in.Expires.Equal(d.rec.Expires), "times keep nanoseconds")
	assert.Equal(t, in.Linger, d.rec.Linger)
	assert.True(t, d.rec.Persist)
	assert.Equal(t, in.Family, d.rec.Family)

	zero, err := decode(encodeRecord(nil, &session.Record{}))
	require.NoError(t, err)
	assert.True(t, zero.rec.CreatedAt.IsZero() && zero.rec.Expires.IsZero(), "zero times stay zero")

	tb := sampleTomb()
	d, err = decode(encodeTomb(nil, tb))
	require.NoError(t, err)
	require.NotNil(t, d.tomb)
	assert.Equal(t, tb.Reason, d.tomb.Reason)
	assert.Equal(t, tb.Next, d.tomb.Next)
	assert.Equal(t, tb.Family, d.tomb.Family)
	assert.True(t, tb.At.Equal(d.tomb.At) && tb.Until.Equal(d.tomb.Until))
	assert.Equal(t, tb.Meta.IdleTimeout, d.tomb.Meta.IdleTimeout)

	a := sampleAnchor()
	d, err = decode(encodeAnchor(nil, a))
	require.NoError(t, err)
	require.NotNil(t, d.anchor)
	assert.Equal(t, a.Live, d.anchor.Live)
	assert.Equal(t, a.Ended, d.anchor.Ended)
	assert.True(t, a.Until.Equal(d.anchor.Until))
}

func sampleAnchor() *anchor {
	return &anchor{Live: "live-key", Ended: true, Until: time.Unix(1_800_000_000, 7)}
}

// TestCodecVersion1: records and tombstones written before families
// (version 1: no family field) still decode, with no family, which means
// "the record's own key": what they were. An anchor cannot be version 1.
func TestCodecVersion1(t *testing.T) {
	r := sampleRecord()
	r.Family = ""
	v3 := encodeRecord(nil, r)
	require.Equal(t, byte(0), v3[3], "an empty family is one length byte after the header")
	require.Equal(t, byte(0), v3[len(v3)-1], "no methods is one length byte at the end")
	v1 := append([]byte{magic, version1, kindRecord}, v3[4:len(v3)-1]...)
	d, err := decode(v1)
	require.NoError(t, err)
	require.NotNil(t, d.rec)
	assert.Empty(t, d.rec.Family)
	assert.Equal(t, r.Values, d.rec.Values)
	assert.Equal(t, r.UserID, d.rec.UserID)

	tb := sampleTomb()
	tb.Family = ""
	v2 := encodeTomb(nil, tb)
	d, err = decode(append([]byte{magic, version1, kindTomb}, v2[4:]...))
	require.NoError(t, err)
	require.NotNil(t, d.tomb)
	assert.Equal(t, tb.Next, d.tomb.Next)
	assert.Empty(t, d.tomb.Family)

	a := encodeAnchor(nil, sampleAnchor())
	a[1] = version1
	_, err = decode(a)
	require.ErrorIs(t, err, errCorrupt)
}

// TestDecodeCorrupt: every truncation of a valid item, and other damage, is
// an error, not a panic and not a half-read record.
func TestDecodeCorrupt(t *testing.T) {
	user := encodeUser(nil, &userItem{Gen: 7, Keys: []string{"k1", "k2"}})
	for _, b := range [][]byte{encodeRecord(nil, sampleRecord()), encodeTomb(nil, sampleTomb()), user, encodeAnchor(nil, sampleAnchor())} {
		for n := range len(b) {
			_, err := decode(b[:n])
			require.ErrorIs(t, err, errCorrupt, "truncated at %d of %d", n, len(b))
		}
		_, err := decode(append(append([]byte(nil), b...), 0))
		require.ErrorIs(t, err, errCorrupt, "trailing byte")
		bad := append([]byte(nil), b...)
		bad[1] = 9
		_, err = decode(bad)
		require.ErrorIs(t, err, errCorrupt, "unknown version")
	}
	_, err := decode([]byte("some other application's value"))
	require.ErrorIs(t, err, errCorrupt)
}

// FuzzDecode: no input panics the decoder, and whatever it accepts encodes
// back to an equal item.
func FuzzDecode(f *testing.F) {
	f.Add(encodeRecord(nil, sampleRecord()))
	f.Add(encodeRecord(nil, &session.Record{}))
	f.Add(encodeTomb(nil, sampleTomb()))
	f.Add(encodeAnchor(nil, sampleAnchor()))
	f.Add(encodeUser(nil, &userItem{Gen: 99, RevokedAt: time.Unix(1_800_000_000, 0), Keys: []string{"a", "bb"}}))
	f.Add([]byte{magic, version1, kindRecord, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decode(b)
		if err != nil {
			return
		}
		var again item
		if d.rec != nil {
			again, err = decode(encodeRecord(nil, d.rec))
			require.NoError(t, err)
			require.NotNil(t, again.rec)
			require.Equal(t, d.rec.Values, again.rec.Values)
			require.Equal(t, d.rec.UserID, again.rec.UserID)
			require.Equal(t, d.rec.Family, again.rec.Family)
			require.True(t, d.rec.Expires.Equal(again.rec.Expires))
			return
		}
		if d.anchor != nil {
			again, err = decode(encodeAnchor(nil, d.anchor))
			require.NoError(t, err)
			require.Equal(t, *d.anchor, *again.anchor)
			return
		}
		if d.user != nil {
			again, err = decode(encodeUser(nil, d.user))
			require.NoError(t, err)
			require.Equal(t, d.user.Gen, again.user.Gen)
			require.Equal(t, d.user.Keys, again.user.Keys)
			require.True(t, d.user.RevokedAt.Equal(again.user.RevokedAt))
			return
		}
		require.NotNil(t, d.tomb)
		again, err = decode(encodeTomb(nil, d.tomb))
		require.NoError(t, err)
		require.Equal(t, d.tomb.Reason, again.tomb.Reason)
		require.Equal(t, d.tomb.Next, again.tomb.Next)
		require.Equal(t, d.tomb.Family, again.tomb.Family)
		require.True(t, d.tomb.Until.Equal(again.tomb.Until))
	})
}
