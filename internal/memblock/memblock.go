// Package memblock is the compact form in which the memory store keeps a
// record: one immutable string, the block, that starts with the record's
// key (so a map keyed by a substring of it finds the record in the same
// cache lines), then its metadata and its values:
//
//	key | CreatedAt LastSeen AuthenticatedAt (8 bytes each, unix ns) |
//	uvarints IdleTimeout AbsoluteTimeout Linger Generation | flags byte |
//	uvarints len(UserID) len(UserAgent) len(IP) len(Family) |
//	UserID UserAgent IP Family | uvarint len(Methods), Methods |
//	uvarint nvalues | per value: uvarint len(k), k, uvarint len(v), v
//
// The expiry is not in the block: the store keeps it beside the block, where
// its sweeper reads it without decoding anything. A tombstone block holds,
// after the key, the end time and the fields that classify an expiry:
//
//	key | At CreatedAt LastSeen (8 bytes each, unix ns) |
//	uvarints IdleTimeout AbsoluteTimeout | uvarint len(next), next |
//	uvarint len(family), family
//
// Decoding trusts the block: it was made by this package and never changes.
package memblock

import (
	"encoding/binary"
	"math"
	"strings"
	"time"
)

// Meta is the metadata a block holds. Its fields are those of session.Meta,
// with the same names, types and order, so the store converts a
// *session.Meta to a *Meta for free; a field added to one and not the other
// fails to compile there, and must be added to the block too.
type Meta struct {
	UserID          string
	Generation      uint64
	CreatedAt       time.Time
	LastSeen        time.Time
	AuthenticatedAt time.Time
	UserAgent       string
	IP              string
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	Persist         bool
	Linger          time.Duration
	Expires         time.Time // not encoded: see DecodeMeta
	Family          string
	Methods         string
}

// zeroTime encodes the zero time.Time, which has no unix-nanosecond form.
const zeroTime = math.MinInt64

// UnixNano returns t in unix nanoseconds, the zero time as math.MinInt64.
func UnixNano(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

// FromUnixNano is the inverse of UnixNano.
func FromUnixNano(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

const flagPersist = 1

// Val is an encoded value: S, a substring of a block, or B, bytes from a
// caller, copied into the new block. One of them is empty.
type Val struct {
	S string
	B []byte
}

func (v Val) len() int { return len(v.S) + len(v.B) }

// Encode packs key, meta (but its Expires) and values into a block. keys and
// vals are parallel.
func Encode(key string, meta *Meta, keys []string, vals []Val) string {
	var flags byte
	if meta.Persist {
		flags |= flagPersist
	}
	n := len(key) + 24 + uvarintLen(uint64(meta.IdleTimeout)) + uvarintLen(uint64(meta.AbsoluteTimeout)) +
		uvarintLen(uint64(meta.Linger)) + uvarintLen(meta.Generation) + 1 +
		uvarintLen(uint64(len(meta.UserID))) + len(meta.UserID) +
		uvarintLen(uint64(len(meta.UserAgent))) + len(meta.UserAgent) +
		uvarintLen(uint64(len(meta.IP))) + len(meta.IP) +
		uvarintLen(uint64(len(meta.Family))) + len(meta.Family) +
		uvarintLen(uint64(len(meta.Methods))) + len(meta.Methods) + uvarintLen(uint64(len(vals)))
	for i := range vals {
		n += uvarintLen(uint64(len(keys[i]))) + len(keys[i]) + uvarintLen(uint64(vals[i].len())) + vals[i].len()
	}
	var b strings.Builder
	b.Grow(n)
	var tmp [binary.MaxVarintLen64]byte
	uv := func(v uint64) { b.Write(binary.AppendUvarint(tmp[:0], v)) }
	b.WriteString(key)
	for _, t := range [3]time.Time{meta.CreatedAt, meta.LastSeen, meta.AuthenticatedAt} {
		b.Write(binary.LittleEndian.AppendUint64(tmp[:0], uint64(UnixNano(t))))
	}
	uv(uint64(meta.IdleTimeout))
	uv(uint64(meta.AbsoluteTimeout))
	uv(uint64(meta.Linger))
	uv(meta.Generation)
	b.WriteByte(flags)
	uv(uint64(len(meta.UserID)))
	uv(uint64(len(meta.UserAgent)))
	uv(uint64(len(meta.IP)))
	uv(uint64(len(meta.Family)))
	b.WriteString(meta.UserID)
	b.WriteString(meta.UserAgent)
	b.WriteString(meta.IP)
	b.WriteString(meta.Family)
	uv(uint64(len(meta.Methods)))
	b.WriteString(meta.Methods)
	uv(uint64(len(vals)))
	for i := range vals {
		uv(uint64(len(keys[i])))
		b.WriteString(keys[i])
		uv(uint64(vals[i].len()))
		b.WriteString(vals[i].S)
		b.Write(vals[i].B)
	}
	return b.String()
}

// DecodeMeta reads the metadata of block, whose key is klen bytes long, into
// meta, with expires (unix ns, see UnixNano) as its Expires. It returns a
// Reader positioned at the values and their count. The strings it sets
// share the block.
func DecodeMeta(block string, klen int, expires int64, meta *Meta) (Reader, int) {
	r := Reader{b: block, p: klen}
	meta.CreatedAt = FromUnixNano(int64(r.u64()))
	meta.LastSeen = FromUnixNano(int64(r.u64()))
	meta.AuthenticatedAt = FromUnixNano(int64(r.u64()))
	meta.Expires = FromUnixNano(expires)
	meta.IdleTimeout = time.Duration(r.uvarint())
	meta.AbsoluteTimeout = time.Duration(r.uvarint())
	meta.Linger = time.Duration(r.uvarint())
	meta.Generation = r.uvarint()
	meta.Persist = r.b[r.p]&flagPersist != 0
	r.p++
	nu, na, ni, nf := int(r.uvarint()), int(r.uvarint()), int(r.uvarint()), int(r.uvarint())
	meta.UserID, meta.UserAgent, meta.IP, meta.Family = r.str(nu), r.str(na), r.str(ni), r.str(nf)
	meta.Methods = r.str(int(r.uvarint()))
	return r, int(r.uvarint())
}

// User returns the user ID and generation stored in block (key length
// klen), decoding nothing else.
func User(block string, klen int) (string, uint64) {
	r := Reader{b: block, p: klen + 24}
	r.uvarint()
	r.uvarint()
	r.uvarint()
	gen := r.uvarint()
	r.p++
	nu := int(r.uvarint())
	r.uvarint()
	r.uvarint()
	r.uvarint()
	return r.str(nu), gen
}

// EncodeTomb packs a tombstone block for key, ended at at. Of meta it keeps
// CreatedAt, LastSeen, IdleTimeout and AbsoluteTimeout (zero but for an
// expiry) and Family.
func EncodeTomb(key string, at time.Time, meta *Meta, next string) string {
	var b strings.Builder
	var tmp [binary.MaxVarintLen64]byte
	b.Grow(len(key) + 24 + 4*binary.MaxVarintLen64 + len(next) + len(meta.Family))
	b.WriteString(key)
	for _, t := range [3]time.Time{at, meta.CreatedAt, meta.LastSeen} {
		b.Write(binary.LittleEndian.AppendUint64(tmp[:0], uint64(UnixNano(t))))
	}
	b.Write(binary.AppendUvarint(tmp[:0], uint64(meta.IdleTimeout)))
	b.Write(binary.AppendUvarint(tmp[:0], uint64(meta.AbsoluteTimeout)))
	b.Write(binary.AppendUvarint(tmp[:0], uint64(len(next))))
	b.WriteString(next)
	b.Write(binary.AppendUvarint(tmp[:0], uint64(len(meta.Family))))
	b.WriteString(meta.Family)
	return b.String()
}

// DecodeTomb reads a tombstone block (key length klen): it returns the end
// time and the key the record was renewed to ("" if none), and sets the
// fields of meta EncodeTomb keeps (Family included).
func DecodeTomb(block string, klen int, meta *Meta) (at time.Time, next string) {
	r := Reader{b: block, p: klen}
	at = FromUnixNano(int64(r.u64()))
	meta.CreatedAt = FromUnixNano(int64(r.u64()))
	meta.LastSeen = FromUnixNano(int64(r.u64()))
	meta.IdleTimeout = time.Duration(r.uvarint())
	meta.AbsoluteTimeout = time.Duration(r.uvarint())
	next = r.str(int(r.uvarint()))
	meta.Family = r.str(int(r.uvarint()))
	return at, next
}
