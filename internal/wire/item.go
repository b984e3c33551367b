package wire

import (
	"encoding/binary"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// AppendRecord appends the body of a stored record (package
// memcachedstore's record item, after its header): the whole record,
// Meta.Expires and Meta.Family included, times as [AppendTime].
//
//	family | user | generation | created | last seen | authenticated | expires |
//	user agent | IP | idle | absolute | linger | persist | n | (name, value) x n |
//	methods
func AppendRecord(b []byte, r *storekit.Record) []byte {
	return AppendString(AppendRecordV2(b, r), r.Methods)
}

// Forms of a record body, for [Decoder.Record]: RecordV1 was written before
// families, RecordV2 before Meta.Methods, RecordV3 by [AppendRecord].
const (
	RecordV1 = 1
	RecordV2 = 2
	RecordV3 = 3
)

// AppendRecordV2 appends the body of a record in its second form, written
// before Meta.Methods: AppendRecord without the methods.
func AppendRecordV2(b []byte, r *storekit.Record) []byte {
	b = AppendString(b, r.Family)
	return appendRecordTail(b, r)
}

// AppendRecordV1 appends the body of a record in its first form, written
// before families: AppendRecord without the family.
func AppendRecordV1(b []byte, r *storekit.Record) []byte { return appendRecordTail(b, r) }

func appendRecordTail(b []byte, r *storekit.Record) []byte {
	b = AppendString(b, r.UserID)
	b = binary.AppendUvarint(b, r.Generation)
	b = AppendTime(b, r.CreatedAt)
	b = AppendTime(b, r.LastSeen)
	b = AppendTime(b, r.AuthenticatedAt)
	b = AppendTime(b, r.Expires)
	b = AppendString(b, r.UserAgent)
	b = AppendString(b, r.IP)
	b = binary.AppendVarint(b, int64(r.IdleTimeout))
	b = binary.AppendVarint(b, int64(r.AbsoluteTimeout))
	b = binary.AppendVarint(b, int64(r.Linger))
	b = AppendBool(b, r.Persist)
	b = binary.AppendUvarint(b, uint64(len(r.Values)))
	for k, v := range r.Values {
		b = AppendString(b, k)
		b = AppendBytes(b, v)
	}
	return b
}

// Record reads a record body of the given form ([RecordV3] is what
// [AppendRecord] writes, [RecordV2] [AppendRecordV2], [RecordV1]
// [AppendRecordV1]). The record's values are copies: the caller owns them,
// not the input.
func (d *Decoder) Record(form int) *storekit.Record {
	r := &storekit.Record{}
	if form >= RecordV2 {
		r.Family = d.String()
	}
	r.UserID = d.String()
	r.Generation = d.Uvarint()
	r.CreatedAt = d.Time()
	r.LastSeen = d.Time()
	r.AuthenticatedAt = d.Time()
	r.Expires = d.Time()
	r.UserAgent = d.String()
	r.IP = d.String()
	r.IdleTimeout = time.Duration(d.Varint())
	r.AbsoluteTimeout = time.Duration(d.Varint())
	r.Linger = time.Duration(d.Varint())
	r.Persist = d.Bool()
	n := d.Uvarint()
	if n > uint64(len(d.b))/2 { // each value takes at least two length bytes
		d.Fail("value count")
		return r
	}
	r.Values = make(map[string][]byte, n)
	for range n {
		k := d.String()
		v := d.Bytes()
		if d.err != nil {
			return r
		}
		if _, dup := r.Values[k]; dup {
			d.Fail("duplicate value key")
			return r
		}
		r.Values[k] = append(make([]byte, 0, len(v)), v...)
	}
	if form >= RecordV3 {
		r.Methods = d.String()
	}
	return r
}
