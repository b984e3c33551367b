package wire

import (
	"encoding/binary"

	"github.com/sessionkit/session/internal/storekit"
)

// The plaintext of a sealed cookie: a compact binary record. It is only
// ever read after the AEAD authenticated it, but the decoder is strict all
// the same (bounded lengths, no trailing bytes, no repeated value name), so
// a bug or a leaked key cannot make it panic or allocate without bound.
//
//	version | token | user | generation | created | last seen | authenticated |
//	user agent | IP | idle | absolute | linger | persist | n | (name, value) x n |
//	methods
//
// Times are [AppendNanos]; durations are varints. Meta.Expires is not
// carried: the Manager derives it from the rest. Version 1, written before
// Meta.Methods, ends after the values; it still decodes (no methods).

// CookieVersion leads the plaintext, so its layout can change without a
// new envelope version.
const CookieVersion = 2

// cookieV1 is the version written before Meta.Methods.
const cookieV1 = 1

// AppendCookie appends the plaintext of (token, r) to dst.
func AppendCookie(dst []byte, token string, r *storekit.Record) []byte {
	dst = append(dst, CookieVersion)
	dst = AppendString(dst, token)
	dst = AppendString(dst, r.UserID)
	dst = binary.AppendUvarint(dst, r.Generation)
	dst = AppendNanos(dst, r.CreatedAt)
	dst = AppendNanos(dst, r.LastSeen)
	dst = AppendNanos(dst, r.AuthenticatedAt)
	dst = AppendString(dst, r.UserAgent)
	dst = AppendString(dst, r.IP)
	dst = binary.AppendVarint(dst, int64(r.IdleTimeout))
	dst = binary.AppendVarint(dst, int64(r.AbsoluteTimeout))
	dst = binary.AppendVarint(dst, int64(r.Linger))
	dst = AppendBool(dst, r.Persist)
	dst = binary.AppendUvarint(dst, uint64(len(r.Values)))
	for k, v := range r.Values {
		dst = AppendString(dst, k)
		dst = AppendBytes(dst, v)
	}
	return AppendString(dst, r.Methods)
}

// CookieLen is len(AppendCookie(nil, token, r)) computed without
// encoding, for the size check of every Set.
func CookieLen(tokenLen int, meta *storekit.Meta, values func(yield func(k string, v []byte) bool)) int {
	n := 1 + StrLen(tokenLen) + StrLen(len(meta.UserID)) + UvarintLen(meta.Generation) +
		NanosLen(meta.CreatedAt) + NanosLen(meta.LastSeen) + NanosLen(meta.AuthenticatedAt) +
		StrLen(len(meta.UserAgent)) + StrLen(len(meta.IP)) +
		VarintLen(int64(meta.IdleTimeout)) + VarintLen(int64(meta.AbsoluteTimeout)) + VarintLen(int64(meta.Linger)) + 1
	count := 0
	values(func(k string, v []byte) bool {
		count++
		n += StrLen(len(k)) + StrLen(len(v))
		return true
	})
	return n + UvarintLen(uint64(count)) + StrLen(len(meta.Methods))
}

// DecodeCookie parses a plaintext. ok is false for anything AppendCookie
// did not produce; the caller checks the token's own form. Strings are cut
// from one copy of b; values share b.
func DecodeCookie(b []byte) (token string, r *storekit.Record, ok bool) {
	d := NewSharedDecoder(b)
	version := d.Byte()
	if version != CookieVersion && version != cookieV1 {
		return "", nil, false
	}
	token = d.String()
	r = &storekit.Record{}
	r.UserID = d.String()
	r.Generation = d.Uvarint()
	r.CreatedAt = d.Nanos()
	r.LastSeen = d.Nanos()
	r.AuthenticatedAt = d.Nanos()
	r.UserAgent = d.String()
	r.IP = d.String()
	r.IdleTimeout = d.Duration()
	r.AbsoluteTimeout = d.Duration()
	r.Linger = d.Duration()
	r.Persist = d.Bool()
	n := d.Uvarint()
	if n > uint64(d.Len()) { // every value takes at least 2 bytes
		return "", nil, false
	}
	if n > 0 {
		r.Values = make(map[string][]byte, n)
	}
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		k := d.String()
		v := d.Bytes()
		if _, dup := r.Values[k]; dup {
			d.Fail("duplicate value name")
		}
		r.Values[k] = v
	}
	if version >= CookieVersion {
		r.Methods = d.String()
	}
	if d.End() != nil {
		return "", nil, false
	}
	return token, r, true
}
