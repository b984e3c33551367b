package memstore

import (
	"time"

	"github.com/sessionkit/session/internal/memblock"
	"github.com/sessionkit/session/internal/storekit"
)

// The memory store's entries hold their record in the block form of
// internal/memblock; this file turns Meta, values and tombstones into
// entries and back. A *Meta converts to a *memblock.Meta for free (their
// fields are the same).

// unixNano returns t in unix nanoseconds, the zero time as math.MinInt64.
func unixNano(t time.Time) int64 { return memblock.UnixNano(t) }

// fromUnixNano is the inverse of unixNano.
func fromUnixNano(n int64) time.Time { return memblock.FromUnixNano(n) }

// encodeEntry packs key, meta and values into an entry. keys and vals are
// parallel.
func encodeEntry(key string, meta *storekit.Meta, keys []string, vals []memblock.Val) memEntry {
	e := memEntry{expires: unixNano(meta.Expires), hasUser: meta.UserID != ""}
	if e.hasUser {
		e.bucket = epochBucket(meta.UserID)
	}
	e.blob = memblock.Encode(key, (*memblock.Meta)(meta), keys, vals)
	return e
}

// decodeMeta reads the metadata of e, stored under a key of length klen,
// and returns a reader positioned at the values and their count. The
// strings it sets share the entry's block.
func decodeMeta(e *memEntry, klen int, meta *storekit.Meta) (memblock.Reader, int) {
	return memblock.DecodeMeta(e.blob, klen, e.expires, (*memblock.Meta)(meta))
}

// entryUser returns the user ID and generation stored in e (key length
// klen).
func entryUser(e *memEntry, klen int) (string, uint64) { return memblock.User(e.blob, klen) }

// Tombstone entries (memEntry.state != 0) hold a tombstone block (see
// internal/memblock): the end time and, for an expiry, the timestamps and
// limits that classify it. Their expires is when the tombstone itself goes.
const (
	stateLive uint8 = iota
	stateExpired
	stateRotated
	stateDestroyed
	stateRevoked
)

var stateReason = [...]string{stateExpired: storekit.EndExpired, stateRotated: storekit.EndRotated, stateDestroyed: storekit.EndDestroyed, stateRevoked: storekit.EndRevoked}

// encodeTomb packs a tombstone for key, ending at at and kept until until.
// meta is used for an expiry (see tombstoneMeta) and, for a renewal, for
// its family.
func encodeTomb(key string, state uint8, at, until time.Time, meta *storekit.Meta, next string) memEntry {
	var m storekit.Meta
	switch state {
	case stateExpired:
		m = storekit.TombstoneMeta(meta)
	case stateRotated:
		m.Family = meta.Family
	}
	return memEntry{expires: unixNano(until), state: state, blob: memblock.EncodeTomb(key, at, (*memblock.Meta)(&m), next)}
}

// decodeTomb reads a tombstone entry stored under a key of length klen.
func decodeTomb(e *memEntry, klen int) *storekit.Tombstone {
	t := &storekit.Tombstone{Reason: stateReason[e.state]}
	t.At, t.Next = memblock.DecodeTomb(e.blob, klen, (*memblock.Meta)(&t.Meta))
	t.Family, t.Meta.Family = t.Meta.Family, ""
	return t
}

// expiredTomb turns the live entry e (key length klen), past its expiry,
// into its expiry tombstone, or reports false when its Linger has passed
// too by now.
func expiredTomb(key string, e *memEntry, now int64) (memEntry, bool) {
	var meta storekit.Meta
	decodeMeta(e, len(key), &meta)
	until := meta.Expires.Add(meta.Linger)
	if now >= unixNano(until) {
		return memEntry{}, false
	}
	return encodeTomb(key, stateExpired, meta.Expires, until, &meta, ""), true
}
