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
		AbsoluteTimeout: time.Hour, Linger: time.Minute, Persist: true, Methods: "password=1700000000000"},
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

// appendForm appends r in the given record form.
func appendForm(r *storekit.Record, form int) []byte {
	switch form {
	case RecordV1:
		return AppendRecordV1(nil, r)
	case RecordV2:
		return AppendRecordV2(nil, r)
	}
	return AppendRecord(nil, r)
}

func TestRecordRoundTrip(t *testing.T) {
	r := fuzzRecord()
	r.Family, r.Expires = "family", r.LastSeen.Add(time.Hour)
	for _, form := range []int{RecordV1, RecordV2, RecordV3} {
		b := appendForm(r, form)
		d := NewDecoder(b)
		got := d.Record(form)
		if err := d.End(); err != nil {
			t.Fatal(err)
		}
		want := *r
		if form < RecordV2 {
			want.Family = ""
		}
		if form < RecordV3 {
			want.Methods = ""
		}
		if !testkit.SameRecord(&want, got) || !got.Expires.Equal(r.Expires) {
			t.Fatalf("round trip (form %d): %+v", form, got)
		}
		for i := range b {
			d := NewDecoder(b[:i])
			d.Record(form)
			if d.End() == nil {
				t.Fatalf("a record truncated to %d of %d bytes decodes", i, len(b))
			}
		}
	}
}

// TestCookieV1StillDecodes: a cookie plaintext written before Meta.Methods
// (version 1: no methods after the values) decodes, with no methods.
func TestCookieV1StillDecodes(t *testing.T) {
	r := fuzzRecord()
	r.Methods = ""
	b := AppendCookie(nil, fuzzToken, r)
	v1 := append([]byte{cookieV1}, b[1:len(b)-1]...) // version 1, without the empty methods string
	token, got, ok := DecodeCookie(v1)
	if !ok || token != fuzzToken || !testkit.SameRecord(r, got) {
		t.Fatalf("version 1: ok=%v token=%q record=%+v", ok, token, got)
	}
	if _, _, ok := DecodeCookie(append([]byte{3}, b[1:]...)); ok {
		t.Fatal("an unknown cookie version decodes")
	}
}

// FuzzDecodeRecord feeds arbitrary bodies to Decoder.Record: no panic, and
// whatever decodes re-encodes to the same bytes' meaning.
func FuzzDecodeRecord(f *testing.F) {
	r := fuzzRecord()
	r.Family = "family"
	f.Add(AppendRecord(nil, r), uint8(RecordV3))
	f.Add(AppendRecordV2(nil, r), uint8(RecordV2))
	f.Add(AppendRecordV1(nil, r), uint8(RecordV1))
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint8(RecordV2))
	f.Fuzz(func(t *testing.T, b []byte, f uint8) {
		form := int(f%3) + 1
		d := NewDecoder(b)
		got := d.Record(form)
		if d.End() != nil {
			return
		}
		d2 := NewDecoder(appendForm(got, form))
		got2 := d2.Record(form)
		if d2.End() != nil || !testkit.SameRecord(got, got2) || got.Family != got2.Family || !got.Expires.Equal(got2.Expires) {
			t.Fatal("decoded record does not round-trip")
		}
	})
}
