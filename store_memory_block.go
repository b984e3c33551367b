package session

import (
	"encoding/binary"
	"math"
	"strings"
	"time"
)

// zeroTime encodes the zero time.Time, which has no unix-nanosecond form.
const zeroTime = math.MinInt64

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

const flagPersist = 1

// encodeEntry packs key, meta and values into an entry. keys and vals are
// parallel.
func encodeEntry(key string, meta *Meta, keys []string, vals []memVal) memEntry {
	e := memEntry{expires: unixNano(meta.Expires), hasUser: meta.UserID != ""}
	if e.hasUser {
		e.bucket = epochBucket(meta.UserID)
	}
	var flags byte
	if meta.Persist {
		flags |= flagPersist
	}
	n := len(key) + 24 + uvarintLen(uint64(meta.IdleTimeout)) + uvarintLen(uint64(meta.AbsoluteTimeout)) +
		uvarintLen(uint64(meta.Linger)) + uvarintLen(meta.Generation) + 1 +
		uvarintLen(uint64(len(meta.UserID))) + len(meta.UserID) +
		uvarintLen(uint64(len(meta.UserAgent))) + len(meta.UserAgent) +
		uvarintLen(uint64(len(meta.IP))) + len(meta.IP) + uvarintLen(uint64(len(vals)))
	for i := range vals {
		n += uvarintLen(uint64(len(keys[i]))) + len(keys[i]) + uvarintLen(uint64(vals[i].len())) + vals[i].len()
	}
	var b strings.Builder
	b.Grow(n)
	var tmp [binary.MaxVarintLen64]byte
	uv := func(v uint64) { b.Write(binary.AppendUvarint(tmp[:0], v)) }
	b.WriteString(key)
	for _, t := range [3]time.Time{meta.CreatedAt, meta.LastSeen, meta.AuthenticatedAt} {
		b.Write(binary.LittleEndian.AppendUint64(tmp[:0], uint64(unixNano(t))))
	}
	uv(uint64(meta.IdleTimeout))
	uv(uint64(meta.AbsoluteTimeout))
	uv(uint64(meta.Linger))
	uv(meta.Generation)
	b.WriteByte(flags)
	uv(uint64(len(meta.UserID)))
	uv(uint64(len(meta.UserAgent)))
	uv(uint64(len(meta.IP)))
	b.WriteString(meta.UserID)
	b.WriteString(meta.UserAgent)
	b.WriteString(meta.IP)
	uv(uint64(len(vals)))
	for i := range vals {
		uv(uint64(len(keys[i])))
		b.WriteString(keys[i])
		uv(uint64(vals[i].len()))
		b.WriteString(vals[i].s)
		b.Write(vals[i].b)
	}
	e.blob = b.String()
	return e
}

// memVal is an encoded value: a substring of a stored block, or bytes from a
// caller (copied into the new block).
type memVal struct {
	s string
	b []byte
}

func (v memVal) len() int { return len(v.s) + len(v.b) }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// memReader walks an entry's block.
type memReader struct {
	b string
	p int
}

func (r *memReader) uvarint() uint64 {
	var v uint64
	for shift := 0; ; shift += 7 {
		c := r.b[r.p]
		r.p++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
}

func (r *memReader) u64() uint64 {
	v := uint64(r.b[r.p]) | uint64(r.b[r.p+1])<<8 | uint64(r.b[r.p+2])<<16 | uint64(r.b[r.p+3])<<24 |
		uint64(r.b[r.p+4])<<32 | uint64(r.b[r.p+5])<<40 | uint64(r.b[r.p+6])<<48 | uint64(r.b[r.p+7])<<56
	r.p += 8
	return v
}

func (r *memReader) str(n int) string {
	v := r.b[r.p : r.p+n]
	r.p += n
	return v
}

// decodeMeta reads the metadata of e, stored under a key of length klen,
// and returns a reader positioned at the values and their count. The
// strings it sets share the entry's block.
func decodeMeta(e *memEntry, klen int, meta *Meta) (memReader, int) {
	r := memReader{b: e.blob, p: klen}
	meta.CreatedAt = fromUnixNano(int64(r.u64()))
	meta.LastSeen = fromUnixNano(int64(r.u64()))
	meta.AuthenticatedAt = fromUnixNano(int64(r.u64()))
	meta.Expires = fromUnixNano(e.expires)
	meta.IdleTimeout = time.Duration(r.uvarint())
	meta.AbsoluteTimeout = time.Duration(r.uvarint())
	meta.Linger = time.Duration(r.uvarint())
	meta.Generation = r.uvarint()
	meta.Persist = r.b[r.p]&flagPersist != 0
	r.p++
	nu, na, ni := int(r.uvarint()), int(r.uvarint()), int(r.uvarint())
	meta.UserID, meta.UserAgent, meta.IP = r.str(nu), r.str(na), r.str(ni)
	return r, int(r.uvarint())
}

// next returns the next value's key and encoded value, both substrings of
// the block.
func (r *memReader) next() (string, string) {
	k := r.str(int(r.uvarint()))
	return k, r.str(int(r.uvarint()))
}

// entryUser returns the user ID and generation stored in e (key length
// klen).
func entryUser(e *memEntry, klen int) (string, uint64) {
	r := memReader{b: e.blob, p: klen + 24}
	r.uvarint()
	r.uvarint()
	r.uvarint()
	gen := r.uvarint()
	r.p++
	nu := int(r.uvarint())
	r.uvarint()
	r.uvarint()
	return r.str(nu), gen
}

// Tombstone entries (memEntry.state != 0) hold, after the key, the end time
// and, for an expiry, the timestamps and limits that classify it:
//
//	blob: key | At CreatedAt LastSeen (8 bytes each, unix ns) |
//	      uvarints IdleTimeout AbsoluteTimeout
//
// Their expires is when the tombstone itself goes.
const (
	stateLive uint8 = iota
	stateExpired
	stateRotated
	stateDestroyed
	stateRevoked
)

var stateReason = [...]string{stateExpired: EndExpired, stateRotated: EndRotated, stateDestroyed: EndDestroyed, stateRevoked: EndRevoked}

// encodeTomb packs a tombstone for key, ending at at and kept until until.
// meta is used for an expiry only (see tombstoneMeta).
func encodeTomb(key string, state uint8, at, until time.Time, meta *Meta) memEntry {
	var b strings.Builder
	var tmp [binary.MaxVarintLen64]byte
	b.Grow(len(key) + 24 + 2*binary.MaxVarintLen64)
	b.WriteString(key)
	var m Meta
	if state == stateExpired {
		m = tombstoneMeta(meta)
	}
	for _, t := range [3]time.Time{at, m.CreatedAt, m.LastSeen} {
		b.Write(binary.LittleEndian.AppendUint64(tmp[:0], uint64(unixNano(t))))
	}
	b.Write(binary.AppendUvarint(tmp[:0], uint64(m.IdleTimeout)))
	b.Write(binary.AppendUvarint(tmp[:0], uint64(m.AbsoluteTimeout)))
	return memEntry{expires: unixNano(until), state: state, blob: b.String()}
}

// decodeTomb reads a tombstone entry stored under a key of length klen.
func decodeTomb(e *memEntry, klen int) *Tombstone {
	r := memReader{b: e.blob, p: klen}
	t := &Tombstone{Reason: stateReason[e.state]}
	t.At = fromUnixNano(int64(r.u64()))
	t.Meta.CreatedAt = fromUnixNano(int64(r.u64()))
	t.Meta.LastSeen = fromUnixNano(int64(r.u64()))
	t.Meta.IdleTimeout = time.Duration(r.uvarint())
	t.Meta.AbsoluteTimeout = time.Duration(r.uvarint())
	return t
}

// expiredTomb turns the live entry e (key length klen), past its expiry,
// into its expiry tombstone, or reports false when its Linger has passed
// too by now.
func expiredTomb(key string, e *memEntry, now int64) (memEntry, bool) {
	var meta Meta
	decodeMeta(e, len(key), &meta)
	until := meta.Expires.Add(meta.Linger)
	if now >= unixNano(until) {
		return memEntry{}, false
	}
	return encodeTomb(key, stateExpired, meta.Expires, until, &meta), true
}
