package outerhdr

import (
	"net/http"
	"strconv"
	"testing"
)

// An error response keeps every outer header, beyond the inline six too,
// with the value outer middleware gave it, and drops the handler's.
func TestResetKeepsOuterHeadersAsSet(t *testing.T) {
	h := http.Header{}
	for i := range 9 {
		h.Set("X-Outer-"+strconv.Itoa(i), "outer")
	}
	var s Set
	s.Record(h)
	s.Capture(h)
	h.Set("X-Outer-7", "changed by the handler")
	h.Set("X-Handler", "mine")
	h.Add("Set-Cookie", "a=b")
	h.Set("Content-Length", "10")
	s.Reset(h)
	for i := range 9 {
		if got := h.Get("X-Outer-" + strconv.Itoa(i)); got != "outer" {
			t.Errorf("X-Outer-%d = %q, want the outer value", i, got)
		}
	}
	for _, k := range []string{"X-Handler", "Set-Cookie", "Content-Length"} {
		if _, ok := h[k]; ok {
			t.Errorf("%s survived the reset", k)
		}
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Error("an error response must not be cached")
	}
}

// With no outer headers, recording and capturing allocate nothing.
func TestNoOuterHeadersAllocatesNothing(t *testing.T) {
	h := http.Header{}
	if n := testing.AllocsPerRun(100, func() {
		var s Set
		s.Record(h)
		s.Capture(h)
		_ = s.Has("X")
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
