package wire

import (
	"maps"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/storekit"
	"github.com/sessionkit/session/internal/testkit"
)

const fuzzToken = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

// fuzzRecord is a record with every field set, for seeds.
func fuzzRecord() *storekit.Record {
	now := time.Unix(1_700_000_000, 123456789)
	return &storekit.Record{Meta: storekit.Meta{UserID: "alice", Generation: 3, CreatedAt: now, LastSeen: now.Add(time.Minute),
		AuthenticatedAt: now, UserAgent: "Mozilla/5.0", IP: "203.0.113.7", IdleTimeout: time.Minute,
		AbsoluteTimeout: time.Hour, Linger: time.Minute, Persist: true},
		Values: map[string][]byte{"cart": []byte(`{"n":1}`), "": nil, "flash": []byte(`"hi"`)}}
}

func TestCookieRoundTrip(t *testing.T) {
	for _, r := range []*storekit.Record{fuzzRecord(), {}} {
		b := AppendCookie(nil, fuzzToken, r)
		if n := CookieLen(len(fuzzToken), &r.Meta, maps.All(r.Values)); n != len(b) {
			t.Fatalf("CookieLen %d, encoding %d", n, len(b))
		}
		token, got, ok := DecodeCookie(b)
		if !ok || token != fuzzToken || !testkit.SameRecord(r, got) {
			t.Fatalf("round trip: ok=%v token=%q record=%+v", ok, token, got)
		}
		for i := range b {
			if _, _, ok := DecodeCookie(b[:i]); ok {
				t.Fatalf("a record truncated to %d of %d bytes decodes", i, len(b))
			}
		}
		if _, _, ok := DecodeCookie(append(b, 0)); ok {
			t.Fatal("a record with a trailing byte decodes")
		}
	}
}

// FuzzDecodeCookieRecord reaches the record decoder directly (the AEAD
// keeps the opener's fuzzing from getting there): no panic, and whatever
// decodes re-encodes to a record that decodes the same.
func FuzzDecodeCookieRecord(f *testing.F) {
	f.Add(AppendCookie(nil, fuzzToken, fuzzRecord()))
	f.Add(AppendCookie(nil, fuzzToken, &storekit.Record{}))
	f.Add([]byte{CookieVersion, 43})
	f.Add([]byte{CookieVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		token, r, ok := DecodeCookie(b)
		if !ok {
			return
		}
		token2, r2, ok := DecodeCookie(AppendCookie(nil, token, r))
		if !ok || token2 != token || !testkit.SameRecord(r, r2) {
			t.Fatal("decoded record does not round-trip")
		}
		if n := CookieLen(len(token), &r.Meta, maps.All(r.Values)); n != len(AppendCookie(nil, token, r)) {
			t.Fatalf("CookieLen %d, encoding %d", n, len(AppendCookie(nil, token, r)))
		}
	})
}

func TestRecordRoundTrip(t *testing.T) {
	r := fuzzRecord()
	r.Family, r.Expires = "family", r.LastSeen.Add(time.Hour)
	for _, withFamily := range []bool{true, false} {
		b := AppendRecordV1(nil, r)
		if withFamily {
			b = AppendRecord(nil, r)
		}
		d := NewDecoder(b)
		got := d.Record(withFamily)
		if err := d.End(); err != nil {
			t.Fatal(err)
		}
		want := *r
		if !withFamily {
			want.Family = ""
		}
		if !testkit.SameRecord(&want, got) || !got.Expires.Equal(r.Expires) {
			t.Fatalf("round trip (family %v): %+v", withFamily, got)
		}
		for i := range b {
			d := NewDecoder(b[:i])
			d.Record(withFamily)
			if d.End() == nil {
				t.Fatalf("a record truncated to %d of %d bytes decodes", i, len(b))
			}
		}
	}
}

// FuzzDecodeRecord feeds arbitrary bodies to Decoder.Record: no panic, and
// whatever decodes re-encodes to the same bytes' meaning.
func FuzzDecodeRecord(f *testing.F) {
	r := fuzzRecord()
	r.Family = "family"
	f.Add(AppendRecord(nil, r), true)
	f.Add(AppendRecordV1(nil, r), false)
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true)
	f.Fuzz(func(t *testing.T, b []byte, withFamily bool) {
		d := NewDecoder(b)
		got := d.Record(withFamily)
		if d.End() != nil {
			return
		}
		again := AppendRecordV1(nil, got)
		if withFamily {
			again = AppendRecord(nil, got)
		}
		d2 := NewDecoder(again)
		got2 := d2.Record(withFamily)
		if d2.End() != nil || !testkit.SameRecord(got, got2) || got.Family != got2.Family || !got.Expires.Equal(got2.Expires) {
			t.Fatal("decoded record does not round-trip")
		}
	})
}
