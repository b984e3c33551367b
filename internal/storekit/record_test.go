package storekit

import (
	"maps"
	"testing"
)

// AfterSet yields what a session would hold after a Set: what a sealed
// cookie must fit before the Set is accepted.
func TestAfterSet(t *testing.T) {
	rec := &Record{Values: map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3"), "k": []byte("old")}}
	for _, tc := range []struct {
		name string
		rec  *Record
		d    *Delta
		want map[string]string
	}{
		{"no record", nil, nil, map[string]string{"k": "new"}},
		{"record only", rec, nil, map[string]string{"a": "1", "b": "2", "c": "3", "k": "new"}},
		{"pending set and delete", rec, &Delta{Set: map[string][]byte{"b": []byte("20"), "k": []byte("pending")}, Delete: []string{"c"}},
			map[string]string{"a": "1", "b": "20", "k": "new"}},
		{"after a clear", rec, &Delta{Clear: true, Set: map[string][]byte{"x": []byte("9")}}, map[string]string{"x": "9", "k": "new"}},
	} {
		got := map[string]string{}
		n := 0
		for k, v := range AfterSet(tc.rec, tc.d, "k", []byte("new")) {
			got[k] = string(v)
			n++
		}
		if n != len(got) || !maps.Equal(got, tc.want) {
			t.Errorf("%s: AfterSet yields %v (%d pairs), want %v", tc.name, got, n, tc.want)
		}
	}
}
