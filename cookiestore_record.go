package session

import (
	"encoding/binary"
	"time"
)

// The plaintext of a sealed cookie: a compact binary record. It is only
// ever read after the AEAD authenticated it, but the decoder is strict all
// the same (bounded lengths, no trailing bytes, no repeated value name), so
// a bug or a leaked key cannot make it panic or allocate without bound.
//
//	token | user | generation | created | last seen | authenticated |
//	user agent | IP | idle | absolute | linger | persist | n | (name, value) x n
//
// Strings and byte slices are a uvarint length and the bytes; times are the
// varint of Unix nanoseconds (0 for the zero time); durations are varints.
// Meta.Expires is not carried: the Manager derives it from the rest.

// cookieRecordVersion leads the plaintext, so its layout can change
// without a new envelope version.
const cookieRecordVersion = 1

// encodeCookieRecord appends the plaintext of (token, r) to dst.
func encodeCookieRecord(dst []byte, token string, r *Record) []byte {
	dst = append(dst, cookieRecordVersion)
	dst = appendString(dst, token)
	dst = appendString(dst, r.UserID)
	dst = binary.AppendUvarint(dst, r.Generation)
	dst = appendTime(dst, r.CreatedAt)
	dst = appendTime(dst, r.LastSeen)
	dst = appendTime(dst, r.AuthenticatedAt)
	dst = appendString(dst, r.UserAgent)
	dst = appendString(dst, r.IP)
	dst = binary.AppendVarint(dst, int64(r.IdleTimeout))
	dst = binary.AppendVarint(dst, int64(r.AbsoluteTimeout))
	dst = binary.AppendVarint(dst, int64(r.Linger))
	if r.Persist {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Values)))
	for k, v := range r.Values {
		dst = appendString(dst, k)
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// cookieRecordLen is len(encodeCookieRecord(nil, token, r)) computed
// without encoding, for the size check of every Set.
func cookieRecordLen(tokenLen int, meta *Meta, values func(yield func(k string, v []byte) bool)) int {
	n := 1 + strLen(tokenLen) + strLen(len(meta.UserID)) + uvarintLen(meta.Generation) +
		timeLen(meta.CreatedAt) + timeLen(meta.LastSeen) + timeLen(meta.AuthenticatedAt) +
		strLen(len(meta.UserAgent)) + strLen(len(meta.IP)) +
		varintLen(int64(meta.IdleTimeout)) + varintLen(int64(meta.AbsoluteTimeout)) + varintLen(int64(meta.Linger)) + 1
	count := 0
	values(func(k string, v []byte) bool {
		count++
		n += strLen(len(k)) + strLen(len(v))
		return true
	})
	return n + uvarintLen(uint64(count))
}

// decodeCookieRecord parses a plaintext. ok is false for anything
// encodeCookieRecord did not produce.
func decodeCookieRecord(b []byte) (token string, r *Record, ok bool) {
	// Strings are cut from one copy of the plaintext (one allocation for
	// all of them); values share b.
	d := recordDecoder{b: b, all: string(b)}
	if d.byte() != cookieRecordVersion {
		return "", nil, false
	}
	token = d.string()
	r = &Record{}
	r.UserID = d.string()
	r.Generation = d.uvarint()
	r.CreatedAt = d.time()
	r.LastSeen = d.time()
	r.AuthenticatedAt = d.time()
	r.UserAgent = d.string()
	r.IP = d.string()
	r.IdleTimeout = d.duration()
	r.AbsoluteTimeout = d.duration()
	r.Linger = d.duration()
	switch d.byte() {
	case 0:
	case 1:
		r.Persist = true
	default:
		d.bad = true
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every value takes at least 2 bytes
		return "", nil, false
	}
	if n > 0 {
		r.Values = make(map[string][]byte, n)
	}
	for i := uint64(0); i < n && !d.bad; i++ {
		k := d.string()
		v := d.bytes()
		if _, dup := r.Values[k]; dup {
			d.bad = true
		}
		r.Values[k] = v
	}
	if d.bad || len(d.b) != 0 || !validToken(token) {
		return "", nil, false
	}
	return token, r, true
}

// recordDecoder reads the encoding; any error sets bad and reads zeros.
type recordDecoder struct {
	b   []byte // what is left to read
	all string // the whole input, for strings
	bad bool
}

func (d *recordDecoder) byte() byte {
	if d.bad || len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *recordDecoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) duration() time.Duration {
	v := d.varint()
	if v < 0 {
		d.bad = true
	}
	return time.Duration(v)
}

func (d *recordDecoder) time() time.Time {
	v := d.varint()
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

func (d *recordDecoder) bytes() []byte {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	start := len(d.all) - len(d.b)
	d.b = d.b[n:]
	return d.all[start : start+int(n)]
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(dst, 0)
	}
	return binary.AppendVarint(dst, t.UnixNano())
}

func strLen(n int) int { return uvarintLen(uint64(n)) + n }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

func timeLen(t time.Time) int {
	if t.IsZero() {
		return 1
	}
	return varintLen(t.UnixNano())
}
