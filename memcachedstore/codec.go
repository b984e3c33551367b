package memcachedstore

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/wire"
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
//
// Version 3 adds the authentication methods (Meta.Methods) as the last
// field of a record; records are written as version 3, the other kinds
// as before. Version 2 and 1 records still decode, with no methods.
const (
	magic    = 'S'
	version1 = 1
	version2 = 2
	version3 = 3

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

// errCorrupt is the cause of every decoding failure (shared with the
// record codec of package wire); the store wraps it in session.ErrStore.
var errCorrupt = wire.ErrCorrupt

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
	b = wire.AppendString(b, a.Live)
	b = wire.AppendBool(b, a.Ended)
	return wire.AppendTime(b, a.Until)
}

// encodeUser appends the encoding of u to b.
func encodeUser(b []byte, u *userItem) []byte {
	b = append(b, magic, version1, kindUser)
	b = binary.AppendUvarint(b, u.Gen)
	b = wire.AppendTime(b, u.RevokedAt)
	b = binary.AppendUvarint(b, uint64(len(u.Keys)))
	for _, k := range u.Keys {
		b = wire.AppendString(b, k)
	}
	return b
}

// encodeRecord appends the encoding of r to b.
func encodeRecord(b []byte, r *session.Record) []byte {
	b = append(b, magic, version3, kindRecord)
	return wire.AppendRecord(b, r)
}

// encodeTomb appends the encoding of t to b. Only the fields a
// session.Tombstone may hold are kept (Meta.Family is not one: the
// tombstone's family is Tombstone.Family).
func encodeTomb(b []byte, t *tomb) []byte {
	b = append(b, magic, version2, kindTomb)
	b = wire.AppendString(b, t.Family)
	b = append(b, reasonCodes[t.Reason])
	b = wire.AppendTime(b, t.At)
	b = wire.AppendTime(b, t.Until)
	b = wire.AppendTime(b, t.Meta.CreatedAt)
	b = wire.AppendTime(b, t.Meta.LastSeen)
	b = binary.AppendVarint(b, int64(t.Meta.IdleTimeout))
	b = binary.AppendVarint(b, int64(t.Meta.AbsoluteTimeout))
	b = wire.AppendString(b, t.Next)
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
	if v != version1 && v != version2 && !(v == version3 && b[2] == kindRecord) {
		return item{}, fmt.Errorf("%w: unknown version %d", errCorrupt, v)
	}
	d := decoder{wire.NewDecoder(b[3:])}
	var it item
	switch b[2] {
	case kindRecord:
		it.rec = d.Record(int(v)) // the item version is the record form
	case kindTomb:
		it.tomb = d.tomb(v)
	case kindUser:
		it.user = d.user()
	case kindAnchor:
		if v < version2 {
			return item{}, fmt.Errorf("%w: anchor of version %d", errCorrupt, v)
		}
		it.anchor = &anchor{Live: d.String(), Ended: d.Bool(), Until: d.Time()}
	default:
		return item{}, fmt.Errorf("%w: unknown kind %d", errCorrupt, b[2])
	}
	if err := d.End(); err != nil {
		return item{}, err
	}
	return it, nil
}

// decoder reads the kinds of item that are memcachedstore's own.
type decoder struct{ *wire.Decoder }

func (d *decoder) tomb(v byte) *tomb {
	t := &tomb{}
	if v >= version2 {
		t.Family = d.String()
	}
	code := d.Byte()
	if int(code) >= len(reasonNames) || reasonNames[code] == "" {
		d.Fail("tombstone reason")
		return t
	}
	t.Reason = reasonNames[code]
	t.At = d.Time()
	t.Until = d.Time()
	t.Meta.CreatedAt = d.Time()
	t.Meta.LastSeen = d.Time()
	t.Meta.IdleTimeout = time.Duration(d.Varint())
	t.Meta.AbsoluteTimeout = time.Duration(d.Varint())
	t.Next = d.String()
	return t
}

func (d *decoder) user() *userItem {
	u := &userItem{Gen: d.Uvarint(), RevokedAt: d.Time()}
	n := d.Uvarint()
	if n > uint64(d.Len()) { // each key takes at least its length byte
		d.Fail("key count")
		return u
	}
	u.Keys = make([]string, 0, n)
	for range n {
		u.Keys = append(u.Keys, d.String())
	}
	return u
}
