package memblock

import (
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 123)
	meta := Meta{
		UserID: "alice", Generation: 300, CreatedAt: now, LastSeen: now.Add(time.Second),
		UserAgent: "Mozilla/5.0", IP: "192.0.2.1", IdleTimeout: 30 * time.Minute,
		AbsoluteTimeout: 8 * time.Hour, Persist: true, Linger: time.Hour,
		Expires: now.Add(time.Hour), // not encoded
	}
	big := strings.Repeat("v", 300) // a length needing a two-byte uvarint
	keys := []string{"cart", "n", "big"}
	vals := []Val{{S: `"x"`}, {B: []byte("17")}, {S: big}}
	const key = "KEY"
	block := Encode(key, &meta, keys, vals)
	if !strings.HasPrefix(block, key) {
		t.Fatalf("block does not start with its key: %q", block[:10])
	}

	var got Meta
	r, n := DecodeMeta(block, len(key), UnixNano(meta.Expires), &got)
	if got != meta {
		t.Fatalf("DecodeMeta = %+v, want %+v", got, meta)
	}
	if n != len(keys) {
		t.Fatalf("%d values, want %d", n, len(keys))
	}
	if r.Rest() != (1+4+1+3)+(1+1+1+2)+(1+3+2+300) {
		t.Fatalf("Rest = %d", r.Rest())
	}
	for i := range n {
		k, v := r.Next()
		if k != keys[i] || v != vals[i].S+string(vals[i].B) {
			t.Fatalf("value %d = %q: %q", i, k, v)
		}
	}
	if r.Rest() != 0 {
		t.Fatalf("%d bytes left", r.Rest())
	}
	if u, g := User(block, len(key)); u != meta.UserID || g != meta.Generation {
		t.Fatalf("User = %q, %d", u, g)
	}

	// The zero Meta, zero times included, survives too.
	var zero, back Meta
	_, n = DecodeMeta(Encode(key, &zero, nil, nil), len(key), UnixNano(time.Time{}), &back)
	if back != zero || n != 0 {
		t.Fatalf("zero Meta came back as %+v, %d values", back, n)
	}
}

func TestTombRoundTrip(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	meta := Meta{CreatedAt: at.Add(-time.Hour), LastSeen: at.Add(-time.Minute), IdleTimeout: time.Minute, AbsoluteTimeout: time.Hour}
	block := EncodeTomb("KEY", at, &meta, "")
	var got Meta
	if gotAt, next := DecodeTomb(block, 3, &got); !gotAt.Equal(at) || got != meta || next != "" {
		t.Fatalf("DecodeTomb = %v, %+v, %q", gotAt, got, next)
	}
	block = EncodeTomb("KEY", at, &Meta{}, "NEWKEY")
	got = Meta{}
	if _, next := DecodeTomb(block, 3, &got); got != (Meta{}) || next != "NEWKEY" {
		t.Fatalf("a renewal tombstone decoded %+v, %q", got, next)
	}
}
