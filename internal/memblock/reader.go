package memblock

// Reader walks the values of a block (see DecodeMeta).
type Reader struct {
	b string
	p int
}

// Next returns the next value's key and encoded value, both substrings of
// the block. The caller calls it at most the number of times DecodeMeta
// returned.
func (r *Reader) Next() (key, val string) {
	k := r.str(int(r.uvarint()))
	return k, r.str(int(r.uvarint()))
}

// Rest returns the number of bytes left in the block: an upper bound on the
// total length of the values still to read.
func (r *Reader) Rest() int { return len(r.b) - r.p }

func (r *Reader) uvarint() uint64 {
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

func (r *Reader) u64() uint64 {
	v := uint64(r.b[r.p]) | uint64(r.b[r.p+1])<<8 | uint64(r.b[r.p+2])<<16 | uint64(r.b[r.p+3])<<24 |
		uint64(r.b[r.p+4])<<32 | uint64(r.b[r.p+5])<<40 | uint64(r.b[r.p+6])<<48 | uint64(r.b[r.p+7])<<56
	r.p += 8
	return v
}

func (r *Reader) str(n int) string {
	v := r.b[r.p : r.p+n]
	r.p += n
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
