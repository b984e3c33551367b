package memcachedstore

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestItemKeyAnyPrefix: whatever the prefix and the key, the Memcached key
// is legal (no space or control byte) and at most 250 bytes.
func TestItemKeyAnyPrefix(t *testing.T) {
	prefixes := []string{"", "session:", "app one:", "\x00\r\n", "é:", strings.Repeat("p", 207), strings.Repeat("p", 208), strings.Repeat("long prefix ", 100)}
	keys := []string{"", "k", strings.Repeat("k", 300), "with space", "\x00\x01", "é"}
	seen := map[string]string{}
	for _, p := range prefixes {
		s := newBase(nil, []Option{WithKeyPrefix(p)})
		for _, k := range keys {
			mk := s.itemKey(k)
			assert.LessOrEqual(t, len(mk), maxKeyLen, "prefix %q key %q", p, k)
			assert.True(t, legal(mk), "prefix %q key %q: %q", p, k, mk)
			id := p + "\xff" + k
			if prev, dup := seen[mk]; dup {
				t.Errorf("%q and %q map to the same item key", prev, id)
			}
			seen[mk] = id
		}
	}
	// A short, legal prefix is kept as it is, so keys stay recognisable.
	assert.True(t, strings.HasPrefix(newBase(nil, nil).itemKey("k"), DefaultPrefix))
	assert.True(t, strings.HasPrefix(newBase(nil, []Option{WithKeyPrefix(strings.Repeat("p", 207))}).itemKey("k"), strings.Repeat("p", 207)))
}

// TestExpiration: Memcached reads an expiration over 30 days as an absolute
// Unix time, so longer deadlines must be sent as one; shorter ones are
// relative and never round down.
func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		d    time.Duration
		want int32
	}{
		{time.Millisecond, 2},
		{time.Second, 2},
		{1500 * time.Millisecond, 3},
		{10 * time.Minute, 601},
		{29 * 24 * time.Hour, 29*24*3600 + 1},
		{30*24*time.Hour - 2*time.Second, 30*24*3600 - 1},
		{31 * 24 * time.Hour, int32(now.Add(31*24*time.Hour).Unix()) + 2},
		{365 * 24 * time.Hour, int32(now.Add(365*24*time.Hour).Unix()) + 2},
	}
	for _, c := range cases {
		got, ok := expiration(now.Add(c.d), now)
		require.True(t, ok, "%v", c.d)
		assert.Equal(t, c.want, got, "%v", c.d)
		if got > maxRelative {
			assert.Greater(t, int64(got), now.Unix(), "an absolute expiration must be in the future")
		}
	}
	_, ok := expiration(now, now)
	assert.False(t, ok, "a deadline now has passed")
	_, ok = expiration(now.Add(-time.Second), now)
	assert.False(t, ok)
	got, ok := expiration(now.Add(100*365*24*time.Hour), now)
	require.True(t, ok)
	assert.Equal(t, int32(1<<31-1), got, "past 2038 the field saturates")
}

// TestWithPrefixIsWithKeyPrefix: the deprecated name keeps working.
func TestWithPrefixIsWithKeyPrefix(t *testing.T) {
	old := newBase(nil, []Option{WithPrefix("old:")})
	assert.Equal(t, newBase(nil, []Option{WithKeyPrefix("old:")}).itemKey("k"), old.itemKey("k"))
}
