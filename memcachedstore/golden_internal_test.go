package memcachedstore

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden tests pin the item formats memcached already holds: items
// written by an earlier release must still decode after any refactor of the
// codec, and today's encoder must write them byte for byte (run with
// -update-golden only when a format version deliberately changes).

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden fixtures in testdata/golden")

func goldenFixture(t *testing.T, name string, enc []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		require.NoError(t, os.WriteFile(path, []byte(hex.EncodeToString(enc)+"\n"), 0o644))
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	return b
}

// goldenRecord has one value, so its encoding (map order) is deterministic.
func goldenRecord() *item {
	r := sampleRecord()
	r.Values = map[string][]byte{"cart": []byte(`{"n":3}`)}
	return &item{rec: r}
}

func TestGoldenItems(t *testing.T) {
	at := time.Unix(1_800_000_000, 42)
	cases := []struct {
		file string
		it   item
		enc  func(b []byte) []byte
	}{
		{"record_v3.hex", *goldenRecordV3(), func(b []byte) []byte { return encodeRecord(b, goldenRecordV3().rec) }},
		{"tomb_v2.hex", item{tomb: sampleTomb()}, func(b []byte) []byte { return encodeTomb(b, sampleTomb()) }},
		{"user_v1.hex", item{user: &userItem{Gen: 77, RevokedAt: at, Keys: []string{"k1", "k2"}}},
			func(b []byte) []byte {
				return encodeUser(b, &userItem{Gen: 77, RevokedAt: at, Keys: []string{"k1", "k2"}})
			}},
		{"anchor_v2.hex", item{anchor: &anchor{Live: "live-key", Ended: true, Until: at}},
			func(b []byte) []byte { return encodeAnchor(b, &anchor{Live: "live-key", Ended: true, Until: at}) }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			want := goldenFixture(t, tc.file, tc.enc(nil))
			assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(tc.enc(nil)), "the item encoding changed")
			got, err := decode(want)
			require.NoError(t, err, "an item written by an earlier release no longer decodes")
			assert.Equal(t, tc.it, got)
		})
	}
}

// goldenRecordV3 is goldenRecord with authentication methods.
func goldenRecordV3() *item {
	it := goldenRecord()
	it.rec.Methods = "passkey=1800000000123,password=1799999999000"
	return it
}

// TestGoldenRecordV2 pins the version-2 record (written before
// Meta.Methods): it still decodes, with no methods.
func TestGoldenRecordV2(t *testing.T) {
	r := goldenRecord().rec
	v3 := encodeRecord(nil, r)
	// Version 2 is version 3 without the methods (an empty string: one zero
	// length byte at the end).
	v2 := append([]byte{magic, version2, kindRecord}, v3[3:len(v3)-1]...)
	b := goldenFixture(t, "record_v2.hex", v2)
	got, err := decode(b)
	require.NoError(t, err)
	assert.Equal(t, item{rec: r}, got)
	_, err = decode(append([]byte{magic, version3, kindTomb}, b[3:]...))
	assert.ErrorIs(t, err, errCorrupt, "version 3 is a record's only")
}

// TestGoldenRecordV1 pins the version-1 record (written before families):
// it still decodes, with no family.
func TestGoldenRecordV1(t *testing.T) {
	r := goldenRecord().rec
	r.Family = ""
	v3 := encodeRecord(nil, r)
	// Version 1 is version 3 without the family field (an empty string: one
	// zero length byte after the header) and without the methods (one zero
	// length byte at the end).
	v1 := append([]byte{magic, version1, kindRecord}, v3[4:len(v3)-1]...)
	b := goldenFixture(t, "record_v1.hex", v1)
	got, err := decode(b)
	require.NoError(t, err)
	assert.Equal(t, item{rec: r}, got)
}
