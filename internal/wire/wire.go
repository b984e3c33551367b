// Package wire is the binary record codec of the session stores that
// serialise records themselves: the plaintext of a sealed cookie (package
// session's cookie mode) and the items of package memcachedstore. Both are
// read from untrusted or possibly corrupt bytes, so the [Decoder] is strict
// (bounded lengths, sticky errors, never a panic, never an allocation
// larger than its input).
//
// Strings and byte slices are a uvarint length and the bytes; integers
// varints. Times come in two forms, which are distinct on the wire and
// pinned by golden tests: [AppendNanos] (the varint of Unix nanoseconds, 0
// for the zero time: cookies) and [AppendTime] (a presence byte, then the
// nanoseconds: memcached items).
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrCorrupt is the cause of every decoding failure.
var ErrCorrupt = errors.New("corrupt item")

// AppendString appends s as a uvarint length and its bytes.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBytes appends v as a uvarint length and its bytes.
func AppendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendBool appends v as one byte, 0 or 1.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendTime appends a presence byte, then (for a non-zero time) the varint
// of its Unix nanoseconds (times outside 1678..2262 are clamped by
// UnixNano). [Decoder.Time] reads it.
func AppendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), t.UnixNano())
}

// AppendNanos appends the varint of t's Unix nanoseconds, 0 for the zero
// time. [Decoder.Nanos] reads it.
func AppendNanos(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// Decoder reads fields from its input; the first failure sticks (Err) and
// every later read returns zero values.
type Decoder struct {
	b   []byte // what is left to read
	all string // the whole input when strings are cut from one copy
	err error
}

// NewDecoder reads b; each string it returns is its own copy.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// NewSharedDecoder reads b; the strings it returns are cut from one copy of
// b (one allocation for all of them).
func NewSharedDecoder(b []byte) *Decoder { return &Decoder{b: b, all: string(b)} }

// Err is the first failure, wrapping [ErrCorrupt], or nil.
func (d *Decoder) Err() error { return d.err }

// Len is the number of bytes left to read.
func (d *Decoder) Len() int { return len(d.b) }

// Fail records a failure (the first one sticks) and stops reading.
func (d *Decoder) Fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	d.b = nil
}

// End fails unless every byte was read, and returns Err.
func (d *Decoder) End() error {
	if d.err == nil && len(d.b) != 0 {
		d.Fail("trailing bytes")
	}
	return d.err
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if len(d.b) < 1 {
		d.Fail("short")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// Bool reads a byte that must be 0 or 1.
func (d *Decoder) Bool() bool {
	switch d.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.Fail("bool")
	return false
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Duration reads a varint that must not be negative.
func (d *Decoder) Duration() time.Duration {
	v := d.Varint()
	if v < 0 {
		d.Fail("negative duration")
		return 0
	}
	return time.Duration(v)
}

// Bytes reads a length and that many bytes, which share the input (capped,
// so an append copies).
func (d *Decoder) Bytes() []byte {
	n := d.Uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.Fail("length")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// String reads a length and that many bytes as a string.
func (d *Decoder) String() string {
	v := d.Bytes()
	if d.err != nil {
		return ""
	}
	if d.all == "" {
		return string(v)
	}
	end := len(d.all) - len(d.b)
	return d.all[end-len(v) : end]
}

// Time reads what [AppendTime] wrote.
func (d *Decoder) Time() time.Time {
	if !d.Bool() {
		return time.Time{}
	}
	return time.Unix(0, d.Varint())
}

// Nanos reads what [AppendNanos] wrote.
func (d *Decoder) Nanos() time.Time {
	v := d.Varint()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

// StrLen is the encoded length of an n-byte string.
func StrLen(n int) int { return UvarintLen(uint64(n)) + n }

// UvarintLen is the encoded length of v.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// VarintLen is the encoded length of v.
func VarintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return UvarintLen(u)
}

// NanosLen is the encoded length of [AppendNanos] of t.
func NanosLen(t time.Time) int {
	if t.IsZero() {
		return 1
	}
	return VarintLen(t.UnixNano())
}
