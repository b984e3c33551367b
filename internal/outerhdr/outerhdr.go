// Package outerhdr remembers the response headers that outer middleware
// (CSP, frame and referrer policies...) set before the session middleware
// ran, so that an error response replacing the handler's keeps them, with
// the values they had, and drops what the handler added. It allocates
// nothing for up to six outer headers.
package outerhdr

import (
	"net/http"
	"slices"
)

// Set is the record of one response's outer headers. The zero value is
// empty and ready to use.
type Set struct {
	// The keys, as FNV-1a hashes: the first n in buf and any more in
	// extra.more, to keep the per-request allocation small.
	n        uint8
	buf      [6]uint32
	captured bool // values captured (see Capture)
	extra    *extra
}

// extra is what a Set allocates only when it needs it: the hashes of keys
// beyond buf, and the outer headers with their values as they were when
// the handler first asked for the header map.
type extra struct {
	more []uint32
	vals []header
}

type header struct {
	key    string
	values []string
}

func (s *Set) more() *extra {
	if s.extra == nil {
		s.extra = &extra{}
	}
	return s.extra
}

// Record records the keys of h, the response header as outer middleware
// left it. It allocates only for more than six keys.
func (s *Set) Record(h http.Header) {
	for k := range h {
		if int(s.n) < len(s.buf) {
			s.buf[s.n] = hash(k)
			s.n++
			continue
		}
		e := s.more()
		e.more = append(e.more, hash(k))
	}
}

// Capture keeps, the first time it is called, a reference to the values
// of the outer headers in h (no copy: Set and Del replace a key's slice
// rather than change it), so Reset can serve them as they were even if
// the handler changed them for its own page. Call it when the handler
// first asks for the header map, before the headers go out.
func (s *Set) Capture(h http.Header) {
	if s.n == 0 || s.captured {
		return
	}
	s.captured = true
	for k, v := range h {
		if s.Has(k) {
			e := s.more()
			e.vals = append(e.vals, header{k, v})
		}
	}
}

// Has reports whether the header key k was set before the handler ran.
func (s *Set) Has(k string) bool {
	h := hash(k)
	return slices.Contains(s.buf[:s.n], h) || (s.extra != nil && slices.Contains(s.extra.more, h))
}

// Reset prepares h for an error response: it keeps what outer middleware
// set, with the values it set, and drops what the handler (or the
// session commit) added, plus any cookie and a length that described
// another body. The response is marked no-store.
func (s *Set) Reset(h http.Header) {
	for k := range h {
		if k == "Connection" && h.Get(k) == "close" {
			continue // the handler asked to stop reading the request (a refused body)
		}
		if k == "Set-Cookie" || k == "Content-Length" || !s.Has(k) {
			delete(h, k)
		}
	}
	if s.extra != nil {
		for _, o := range s.extra.vals {
			if o.key != "Set-Cookie" && o.key != "Content-Length" {
				h[o.key] = o.values
			}
		}
	}
	h.Set("Cache-Control", "no-store")
}

// hash is FNV-1a: a fast, allocation-free spread of header keys.
func hash(k string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return h
}
