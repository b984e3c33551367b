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

// golden reads (or, with -update-golden, writes) a fixture.
func golden(t *testing.T, name string, make func() []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
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

func TestGoldenCookieRecordBytes(t *testing.T) {
	want := golden(t, "cookie_record_v1.hex", func() []byte {
		return []byte(hex.EncodeToString(wire.AppendCookie(nil, goldenToken, goldenRecord())) + "\n")
	})
	got := hex.EncodeToString(wire.AppendCookie(nil, goldenToken, goldenRecord()))
	if got != strings.TrimSpace(string(want)) {
		t.Fatalf("the cookie record encoding changed:\n got %s\nwant %s", got, want)
	}
}

func TestGoldenCookieOpens(t *testing.T) {
	for _, tc := range []struct {
		file    string
		sealKey []byte
		primary bool
	}{{"cookie_v1.txt", goldenKey, true}, {"cookie_v1_oldkey.txt", goldenOldKey, false}} {
		t.Run(tc.file, func(t *testing.T) {
			value := strings.TrimSpace(string(golden(t, tc.file, func() []byte {
				c, err := NewCookieStore(tc.sealKey)
				if err != nil {
					t.Fatal(err)
				}
				return []byte(c.sealCookie("sid", goldenToken, goldenRecord()) + "\n")
			})))
			c, err := NewCookieStore(goldenKey, goldenOldKey)
			if err != nil {
				t.Fatal(err)
			}
			token, r, primary, err := c.openCookie("sid", value)
			if err != nil {
				t.Fatalf("a cookie sealed by an earlier release no longer opens: %v", err)
			}
			if token != goldenToken || !testkit.SameRecord(r, goldenRecord()) || primary != tc.primary {
				t.Fatalf("opened %q %+v primary=%v, want %q %+v primary=%v", token, r, primary, goldenToken, goldenRecord(), tc.primary)
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
