package sealing

import (
	"bytes"
	"errors"
	"testing"
)

var errInvalid = errors.New("invalid")

func key(c byte) []byte { return bytes.Repeat([]byte{c}, KeyLen) }

func TestRingRotates(t *testing.T) {
	old, err := NewRing("t", [][]byte{key(1)}, errInvalid)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := NewRing("t", [][]byte{key(2), nil, key(1)}, errInvalid)
	if err != nil {
		t.Fatal(err)
	}
	ad := AD("purpose", "ctx")
	env := old.Seal(nil, []byte("hello"), ad)
	if len(env) != SealedLen(5) {
		t.Fatalf("envelope is %d bytes, want %d", len(env), SealedLen(5))
	}
	plain, primary, err := ring.Open(nil, env, ad)
	if err != nil || string(plain) != "hello" || primary {
		t.Fatalf("Open under an older key: %q %v %v", plain, primary, err)
	}
	plain, primary, err = ring.Open(nil, ring.Seal(nil, []byte("hi"), ad), ad)
	if err != nil || string(plain) != "hi" || !primary {
		t.Fatalf("Open under the first key: %q %v %v", plain, primary, err)
	}
	if _, _, err := ring.Open(nil, env, AD("purpose", "other")); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("Open under other additional data: %v", err)
	}
	if _, _, err := old.Open(nil, ring.Seal(nil, nil, ad), ad); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("Open under an unknown key: %v", err)
	}
}

func TestNewRingRefusesBadKeys(t *testing.T) {
	for name, keys := range map[string][][]byte{
		"none": nil, "short": {key(1)[:16]}, "first empty": {nil, key(1)}, "repeated": {key(1), key(1)},
	} {
		if _, err := NewRing("t", keys, errInvalid); !errors.Is(err, errInvalid) {
			t.Errorf("%s: err = %v, want it to wrap the invalid error", name, err)
		}
	}
}

// FuzzOpen feeds untrusted envelopes to Open: never a panic, and nothing
// opens that was not sealed by the ring.
func FuzzOpen(f *testing.F) {
	ring, err := NewRing("fuzz", [][]byte{key(3)}, errInvalid)
	if err != nil {
		f.Fatal(err)
	}
	ad := AD("fuzz", "ctx")
	f.Add(ring.Seal(nil, []byte("value"), ad))
	f.Add([]byte{Version, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{Version}, Overhead))
	f.Fuzz(func(t *testing.T, env []byte) {
		plain, _, err := ring.Open(nil, env, ad)
		if err == nil && string(plain) != "value" {
			t.Fatalf("a forged envelope opened: %q", plain)
		}
	})
}
