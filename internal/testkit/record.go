package testkit

import (
	"bytes"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// SameRecord reports whether a and b hold the same metadata and values,
// comparing times as instants (a decoded time has no monotonic reading and
// may have another location).
func SameRecord(a, b *storekit.Record) bool {
	am, bm := a.Meta, b.Meta
	if !am.CreatedAt.Equal(bm.CreatedAt) || !am.LastSeen.Equal(bm.LastSeen) || !am.AuthenticatedAt.Equal(bm.AuthenticatedAt) {
		return false
	}
	am.CreatedAt, am.LastSeen, am.AuthenticatedAt = time.Time{}, time.Time{}, time.Time{}
	bm.CreatedAt, bm.LastSeen, bm.AuthenticatedAt = time.Time{}, time.Time{}, time.Time{}
	if am != bm || len(a.Values) != len(b.Values) {
		return false
	}
	for k, v := range a.Values {
		w, ok := b.Values[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}
