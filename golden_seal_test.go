package session

import (
	"context"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/sealing"
	"github.com/sessionkit/session/internal/testkit"
	"github.com/sessionkit/session/internal/valueseal"
	"github.com/sessionkit/session/internal/wire"
)

// The golden tests pin the formats users already hold: a cookie sealed by
// an earlier release, and values sealed at rest by SealValues, must still
// open after any refactor of the sealing or the record codec. The fixtures
// in testdata/golden were written by the code of release v1 formats (run
// with -update-golden only when a format version deliberately changes).

var updateGolden = flag.Bool("update-golden", false, "rewrite the golden fixtures in testdata/golden")

// goldenKey is the fixed sealing key of the fixtures (never a real key).
var goldenKey = []byte("golden-key-0123456789abcdefghijk")

// goldenOldKey is an older key of the ring: fixtures sealed under it must
// still open, and report that they were not sealed under the first key.
var goldenOldKey = []byte("golden-old-key-0123456789abcdefg")

const goldenToken = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

func goldenRecord() *Record {
	at := time.Unix(1_800_000_000, 123_456_789)
	return &Record{
		Meta: Meta{
			UserID: "user-42", Generation: 9, CreatedAt: at.Add(-time.Hour), LastSeen: at,
			AuthenticatedAt: at.Add(-time.Minute), UserAgent: "golden-agent/1.0", IP: "192.0.2.7",
			IdleTimeout: 20 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Linger: time.Minute, Persist: true,
		},
		Values: map[string][]byte{"cart": []byte(`{"n":3}`)},
	}
}

// golden reads (or, with -update-golden and a make, writes) a fixture.
func golden(t *testing.T, name string, make func() []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden && make != nil { // nil: a fixture of a retired format, never rewritten
		if err := os.WriteFile(path, make(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden fixture: %v", err)
	}
	return b
}

// goldenRecordV2 is goldenRecord with authentication methods (Meta.Methods,
// which cookie record version 2 added).
func goldenRecordV2() *Record {
	r := goldenRecord()
	r.Methods = "passkey=1800000000123,password=1799999940123"
	return r
}

func TestGoldenCookieRecordBytes(t *testing.T) {
	want := golden(t, "cookie_record_v2.hex", func() []byte {
		return []byte(hex.EncodeToString(wire.AppendCookie(nil, goldenToken, goldenRecordV2())) + "\n")
	})
	got := hex.EncodeToString(wire.AppendCookie(nil, goldenToken, goldenRecordV2()))
	if got != strings.TrimSpace(string(want)) {
		t.Fatalf("the cookie record encoding changed:\n got %s\nwant %s", got, want)
	}
	// Version 1, written before Meta.Methods, still decodes (no methods).
	v1, err := hex.DecodeString(strings.TrimSpace(string(golden(t, "cookie_record_v1.hex", nil))))
	if err != nil {
		t.Fatal(err)
	}
	token, r, ok := wire.DecodeCookie(v1)
	if !ok || token != goldenToken || !testkit.SameRecord(r, goldenRecord()) {
		t.Fatalf("a version 1 cookie record decodes as ok=%v %q %+v", ok, token, r)
	}
}

func TestGoldenCookieOpens(t *testing.T) {
	for _, tc := range []struct {
		file    string
		sealKey []byte
		primary bool
		record  func() *Record
	}{
		{"cookie_v1.txt", goldenKey, true, goldenRecord},
		{"cookie_v1_oldkey.txt", goldenOldKey, false, goldenRecord},
		{"cookie_v2.txt", goldenKey, true, goldenRecordV2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			seal := func() []byte {
				c, err := NewCookieStore(tc.sealKey)
				if err != nil {
					t.Fatal(err)
				}
				return []byte(c.sealCookie("sid", goldenToken, tc.record()) + "\n")
			}
			if strings.HasPrefix(tc.file, "cookie_v1") {
				seal = nil // record version 1 is no longer written
			}
			value := strings.TrimSpace(string(golden(t, tc.file, seal)))
			c, err := NewCookieStore(goldenKey, goldenOldKey)
			if err != nil {
				t.Fatal(err)
			}
			token, r, primary, err := c.openCookie("sid", value)
			if err != nil {
				t.Fatalf("a cookie sealed by an earlier release no longer opens: %v", err)
			}
			if token != goldenToken || !testkit.SameRecord(r, tc.record()) || primary != tc.primary {
				t.Fatalf("opened %q %+v primary=%v, want %q %+v primary=%v", token, r, primary, goldenToken, tc.record(), tc.primary)
			}
			if _, _, _, err := c.openCookie("other", value); err == nil {
				t.Fatal("the golden cookie opens under another cookie name")
			}
		})
	}
}

func TestGoldenSealedValuesOpen(t *testing.T) {
	const key = "golden-store-key"
	line := strings.TrimSpace(string(golden(t, "sealed_value_v1.hex", func() []byte {
		ring, err := sealing.NewRing("golden", [][]byte{goldenKey}, ErrInvalidConfig)
		if err != nil {
			t.Fatal(err)
		}
		return []byte(hex.EncodeToString(valueseal.Seal(ring, key, "cart", []byte(`{"n":3}`))) + "\n")
	})))
	env, err := hex.DecodeString(line)
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemoryStore()
	defer mem.Close()
	st, err := SealValues(mem, goldenKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := goldenRecord()
	r.Values = map[string][]byte{"cart": env}
	r.Expires = time.Now().Add(time.Hour)
	if err := mem.Create(ctx, key, r); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Values["cart"]) != `{"n":3}` {
		t.Fatalf("a value sealed at rest by an earlier release reads %q", got.Values["cart"])
	}
}
