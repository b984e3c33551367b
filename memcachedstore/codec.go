package memcachedstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session"
)

// The value of an item is one of four kinds, in a compact versioned binary
// form:
//
//	magic 'S', version, kind (kindRecord, kindTomb, kindUser, kindAnchor), then the fields
//
// Integers are varints, strings and byte strings a uvarint length then the
// bytes, times a presence byte then the Unix nanoseconds (full precision).
// A record is the whole session: metadata and every value, so an eviction
// takes the session whole or not at all.
//
// Version 2 adds the family (Meta.Family, Tombstone.Family) as the first
// field of a record and of a tombstone, and the anchor kind. Records and
// tombstones are written as version 2; version 1 ones (written before
// families) still decode, with no family, which means "the key itself":
// exactly what they were. The family is a field that version 2 always
// carries, never an optional tail, so a truncated item cannot decode as a
// record that lost its family (and with it the anchor check).
const (
	magic    = 'S'
	version1 = 1
	version2 = 2

	kindRecord = 1
	kindTomb   = 2
	kindUser   = 3
	kindAnchor = 4
)

// Tombstone reasons are stored as one byte.
var (
	reasonCodes = map[string]byte{session.EndExpired: 1, session.EndRotated: 2, session.EndDestroyed: 3, session.EndRevoked: 4}
	reasonNames = [...]string{1: session.EndExpired, 2: session.EndRotated, 3: session.EndDestroyed, 4: session.EndRevoked}
)

// errCorrupt is the cause of every decoding failure; the store wraps it in
// session.ErrStore.
var errCorrupt = errors.New("corrupt item")

// tomb is a stored tombstone: the session.Tombstone and when it is
// forgotten.
type tomb struct {
	session.Tombstone
	// Until is when the tombstone is forgotten (At plus the Linger).
	Until time.Time
}

// userItem is a user's item (Store): the revocation generation and
// the keys of the user's sessions.
type userItem struct {
	// Gen is the user's revocation generation: random, never reused, so an
	// item recreated after an eviction matches no earlier session.
	Gen uint64
	// RevokedAt is when Gen last changed by a revocation (zero if never).
	RevokedAt time.Time
	// Keys are the session keys indexed under the user.
	Keys []string
}

// anchor is a family's item (see family.go): the key of the family's live
// record, and whether the family was ended.
type anchor struct {
	// Live is the key of the family's live record (for an ended family,
	// the one it named when it was ended; "" when it named none).
	Live string
	// Ended is set by EndFamily: no record of the family is live again.
	Ended bool
	// Until is when the item expires, so that a write that makes its
	// record live longer can tell whether the anchor must live longer too.
	Until time.Time
}

// item is a decoded item: exactly one of rec, tomb, user and anchor is set.
type item struct {
	rec    *session.Record
	tomb   *tomb
	user   *userItem
	anchor *anchor
}

// encodeAnchor appends the encoding of a to b.
func encodeAnchor(b []byte, a *anchor) []byte {
	b = append(b, magic, version2, kindAnchor)
	b = appendString(b, a.Live)
	b = appendBool(b, a.Ended)
	return appendTime(b, a.Until)
}

// encodeUser appends the encoding of u to b.
func encodeUser(b []byte, u *userItem) []byte {
	b = append(b, magic, version1, kindUser)
	b = binary.AppendUvarint(b, u.Gen)
	b = appendTime(b, u.RevokedAt)
	b = binary.AppendUvarint(b, uint64(len(u.Keys)))
	for _, k := range u.Keys {
		b = appendString(b, k)
	}
	return b
}

// encodeRecord appends the encoding of r to b.
func encodeRecord(b []byte, r *session.Record) []byte {
	b = append(b, magic, version2, kindRecord)
	b = appendString(b, r.Family)
	b = appendString(b, r.UserID)
	b = binary.AppendUvarint(b, r.Generation)
	b = appendTime(b, r.CreatedAt)
	b = appendTime(b, r.LastSeen)
	b = appendTime(b, r.AuthenticatedAt)
	b = appendTime(b, r.Expires)
	b = appendString(b, r.UserAgent)
	b = appendString(b, r.IP)
	b = binary.AppendVarint(b, int64(r.IdleTimeout))
	b = binary.AppendVarint(b, int64(r.AbsoluteTimeout))
	b = binary.AppendVarint(b, int64(r.Linger))
	b = appendBool(b, r.Persist)
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	for k, v := range r.Values {
		b = appendString(b, k)
		b = appendBytes(b, v)
	}
	return b
}

// encodeTomb appends the encoding of t to b. Only the fields a
// session.Tombstone may hold are kept (Meta.Family is not one: the
// tombstone's family is Tombstone.Family).
func encodeTomb(b []byte, t *tomb) []byte {
	b = append(b, magic, version2, kindTomb)
	b = appendString(b, t.Family)
	b = append(b, reasonCodes[t.Reason])
	b = appendTime(b, t.At)
	b = appendTime(b, t.Until)
	b = appendTime(b, t.Meta.CreatedAt)
	b = appendTime(b, t.Meta.LastSeen)
	b = binary.AppendVarint(b, int64(t.Meta.IdleTimeout))
	b = binary.AppendVarint(b, int64(t.Meta.AbsoluteTimeout))
	b = appendString(b, t.Next)
	return b
}

// decode parses an item's value. Any malformed input is an error wrapping
// errCorrupt, never a panic. The record's values are copies: the caller owns
// them, not b.
func decode(b []byte) (item, error) {
	if len(b) < 3 || b[0] != magic {
		return item{}, fmt.Errorf("%w: bad header", errCorrupt)
	}
	v := b[1]
	if v != version1 && v != version2 {
		return item{}, fmt.Errorf("%w: unknown version %d", errCorrupt, v)
	}
	d := decoder{b: b[3:]}
	var it item
	switch b[2] {
	case kindRecord:
		it.rec = d.record(v)
	case kindTomb:
		it.tomb = d.tomb(v)
	case kindUser:
		it.user = d.user()
	case kindAnchor:
		if v < version2 {
			return item{}, fmt.Errorf("%w: anchor of version %d", errCorrupt, v)
		}
		it.anchor = &anchor{Live: d.string(), Ended: d.bool(), Until: d.time()}
	default:
		return item{}, fmt.Errorf("%w: unknown kind %d", errCorrupt, b[2])
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return item{}, d.err
	}
	return it, nil
}

// decoder reads fields from b; the first failure sticks in err and every
// later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) record(v byte) *session.Record {
	r := &session.Record{}
	if v >= version2 {
		r.Family = d.string()
	}
	r.UserID = d.string()
	r.Generation = d.uvarint()
	r.CreatedAt = d.time()
	r.LastSeen = d.time()
	r.AuthenticatedAt = d.time()
	r.Expires = d.time()
	r.UserAgent = d.string()
	r.IP = d.string()
	r.IdleTimeout = time.Duration(d.varint())
	r.AbsoluteTimeout = time.Duration(d.varint())
	r.Linger = time.Duration(d.varint())
	r.Persist = d.bool()
	n := d.uvarint()
	if n > uint64(len(d.b))/2 { // each value takes at least two length bytes
		d.fail("value count")
		return r
	}
	r.Values = make(map[string][]byte, n)
	for range n {
		k := d.string()
		v := d.bytes()
		if d.err != nil {
			return r
		}
		if _, dup := r.Values[k]; dup {
			d.fail("duplicate value key")
			return r
		}
		r.Values[k] = append(make([]byte, 0, len(v)), v...)
	}
	return r
}

func (d *decoder) tomb(v byte) *tomb {
	t := &tomb{}
	if v >= version2 {
		t.Family = d.string()
	}
	code := d.byte()
	if int(code) >= len(reasonNames) || reasonNames[code] == "" {
		d.fail("tombstone reason")
		return t
	}
	t.Reason = reasonNames[code]
	t.At = d.time()
	t.Until = d.time()
	t.Meta.CreatedAt = d.time()
	t.Meta.LastSeen = d.time()
	t.Meta.IdleTimeout = time.Duration(d.varint())
	t.Meta.AbsoluteTimeout = time.Duration(d.varint())
	t.Next = d.string()
	return t
}

func (d *decoder) user() *userItem {
	u := &userItem{Gen: d.uvarint(), RevokedAt: d.time()}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // each key takes at least its length byte
		d.fail("key count")
		return u
	}
	u.Keys = make([]string, 0, n)
	for range n {
		u.Keys = append(u.Keys, d.string())
	}
	return u
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("short")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bool")
	return false
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) time() time.Time {
	if !d.bool() {
		return time.Time{}
	}
	return time.Unix(0, d.varint())
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendTime keeps a zero time as zero; any other time as its Unix
// nanoseconds (times outside 1678..2262 are clamped by UnixNano).
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}
