package slidingwindow

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000-1_700_000_000%60, 0) // the start of a fixed minute

// No shard grows past its share of maxTracked, whatever the flood of keys,
// and the shares add up to maxTracked.
func TestShardsStayWithinCapacity(t *testing.T) {
	for _, maxTracked := range []int{1, 2, 15, 17, 1 << 12} {
		tb := New(20, time.Minute, maxTracked)
		total := 0
		for i := range tb.shards {
			total += tb.shards[i].limit
		}
		if total != maxTracked {
			t.Fatalf("maxTracked %d: shard capacities add up to %d", maxTracked, total)
		}
		if want := min(maxTracked, 16); tb.Shards() != want {
			t.Fatalf("maxTracked %d: %d shards, want %d", maxTracked, tb.Shards(), want)
		}
		for i := range 50_000 {
			now := t0.Add(time.Duration(i) * time.Millisecond)
			tb.Add(Key{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}, now)
			tb.Allow(Key{Raw: fmt.Sprint("k", i)}, now)
		}
		for i := range tb.shards {
			if n, c := len(tb.shards[i].entries), tb.shards[i].limit; n > c {
				t.Fatalf("maxTracked %d: shard %d holds %d entries, capacity %d", maxTracked, i, n, c)
			}
			if len(tb.shards[i].index) != len(tb.shards[i].entries) {
				t.Fatalf("maxTracked %d: shard %d index and entries disagree", maxTracked, i)
			}
		}
		if tb.Len() != maxTracked {
			t.Fatalf("maxTracked %d: Len %d after the flood", maxTracked, tb.Len())
		}
	}
}

// An address key and a string key never collide, and Add and Allow share
// one count.
func TestKeysAndOperationsShareCounts(t *testing.T) {
	tb := New(3, time.Minute, 100)
	a := Key{Addr: netip.MustParseAddr("192.0.2.1")}
	r := Key{Raw: "192.0.2.1"}
	tb.Add(a, t0)
	tb.Add(a, t0)
	if ok, _ := tb.Allow(a, t0); !ok {
		t.Fatal("third event refused")
	}
	if !tb.Reached(a, t0) {
		t.Fatal("three events do not reach a limit of three")
	}
	if ok, wait := tb.Allow(a, t0); ok || wait != 80*time.Second {
		t.Fatalf("fourth event: ok %v, wait %v; want refused for 80s (3 weighted down to 2)", ok, wait)
	}
	if tb.Reached(r, t0) || tb.Wait(r, t0) != 0 {
		t.Fatal("a string key shares the count of the address it spells")
	}
}
