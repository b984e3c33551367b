package authmethod

import (
	"testing"
	"time"
)

func TestAddKeepsTheMostRecentAndRefusesBadNames(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	enc := ""
	var err error
	for i, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		if enc, err = Add(enc, []string{n}, t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	ms := Decode(enc)
	if len(ms) != maxMethods {
		t.Fatalf("%d methods kept, want %d: %q", len(ms), maxMethods, enc)
	}
	if _, ok := ms["a"]; ok {
		t.Fatal("the oldest method was not the one dropped")
	}
	if !ms["i"].Equal(t0.Add(8 * time.Second)) {
		t.Fatalf("i at %v", ms["i"])
	}
	for _, bad := range []string{"", "Password", "pass word", "a,b", "x=1", "0123456789012345678901234"} {
		if _, err := Add(enc, []string{bad}, t0); err == nil {
			t.Errorf("Add accepted %q", bad)
		}
	}
}

// A damaged encoding can only lose methods, never grant one.
func FuzzDecode(f *testing.F) {
	f.Add("password=1700000000000,totp=1700000001000")
	f.Add("password=,=5,x=-1,y=abc,,")
	f.Fuzz(func(t *testing.T, enc string) {
		for n, at := range Decode(enc) {
			if !Valid(n) || at.UnixMilli() <= 0 {
				t.Fatalf("decoded %q at %v from %q", n, at, enc)
			}
		}
	})
}
