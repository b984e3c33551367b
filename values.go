package session

import (
	"fmt"
	"slices"

	"github.com/sessionkit/session/internal/jsonfast"
)

// lookup returns the encoded value of key as this request sees it.
func (s *Session) lookup(key string) ([]byte, bool) {
	s.load()
	if d := s.pend; d != nil {
		if v, ok := d.Set[key]; ok {
			return v, true
		}
		if d.Clear || slices.Contains(d.Delete, key) {
			return nil, false
		}
	}
	if s.rec == nil {
		return nil, false
	}
	v, ok := s.rec.Values[key]
	return v, ok
}

// decode reads key into dst, reporting whether it was present and decodable.
func (s *Session) decode(key string, dst any) bool {
	s.mu.Lock()
	b, ok := s.lookup(key)
	s.unlock()
	if !ok {
		return false
	}
	return s.m.cfg.Codec.Unmarshal(b, dst) == nil
}

// Get returns the value under key decoded as T, and whether it was present
// and of a compatible type.
func Get[T any](s *Session, key string) (T, bool) {
	var v T
	ok := s.decode(key, &v)
	return v, ok
}

// GetString returns the string under key, or "" when absent.
func (s *Session) GetString(key string) string {
	if b, ok := s.jsonRaw(key); ok {
		if v, ok := jsonfast.PlainString(b); ok {
			return v
		}
	}
	v, _ := Get[string](s, key)
	return v
}

// GetInt returns the int under key, or 0 when absent.
func (s *Session) GetInt(key string) int {
	if b, ok := s.jsonRaw(key); ok {
		if v, ok := jsonfast.PlainInt(b); ok {
			return v
		}
	}
	v, _ := Get[int](s, key)
	return v
}

// jsonRaw returns the encoded value under key when the codec is the default
// JSON codec, so the typed getters can decode the common shapes without
// encoding/json (which allocates its decoder state and the destination).
func (s *Session) jsonRaw(key string) ([]byte, bool) {
	if s.detached() {
		return nil, false
	}
	if _, ok := s.m.cfg.Codec.(jsonCodec); !ok {
		return nil, false
	}
	s.mu.Lock()
	b, ok := s.lookup(key)
	s.unlock()
	return b, ok
}

// Has reports whether key holds a value.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.unlock()
	_, ok := s.lookup(key)
	return ok
}

// Keys returns the keys holding values, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	var keys []string
	d := s.pend
	if d == nil {
		d = &Delta{}
	}
	if s.rec != nil && !d.Clear {
		for k := range s.rec.Values {
			if !slices.Contains(d.Delete, k) {
				keys = append(keys, k)
			}
		}
	}
	for k := range d.Set {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Set stores v under key. It returns an error wrapping ErrEncode when the
// codec cannot encode v (nothing is stored), the load error when the store
// failed, ErrHeadersSent when the session is new and the response headers
// are gone (its cookie could not reach the browser) or when the handler has
// returned (a goroutine that outlived it: nothing would save the value), and
// ErrRotated on a request whose ID another request just renewed.
func (s *Session) Set(key string, v any) error {
	if s.detached() {
		return s.err
	}
	b, err := encode(s.m.cfg.Codec, key, v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.unlock()
	return s.setLocked(key, b)
}

// setLocked records an encoded value as a pending change. The caller holds
// s.mu.
func (s *Session) setLocked(key string, b []byte) error {
	s.load()
	if s.err != nil {
		return s.err
	}
	if s.headersSent && s.rec == nil {
		return ErrHeadersSent
	}
	if s.finished {
		return fmt.Errorf("session: set after the handler returned (nothing can save it): %w", ErrHeadersSent)
	}
	if s.renewedElsewhere() {
		return ErrRotated
	}
	if err := s.m.carrier.setFits(s, key, b); err != nil {
		return err // a sealed cookie over the size limit (cookiemode.go)
	}
	d := s.changes()
	if d.Set == nil {
		d.Set = make(map[string][]byte, 4)
	}
	d.Set[key] = b
	d.Delete = slices.DeleteFunc(d.Delete, func(k string) bool { return k == key })
	return nil
}

// Delete removes key. Deleting an absent key is not an error.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	d := s.changes()
	delete(d.Set, key)
	if !slices.Contains(d.Delete, key) {
		d.Delete = append(d.Delete, key)
	}
}

// Pop returns the string under key and deletes it: the flash-message idiom.
func (s *Session) Pop(key string) string {
	v := s.GetString(key)
	if v != "" {
		s.Delete(key)
	}
	return v
}

// PopAs returns the value under key decoded as T and deletes it: a typed
// flash message, read once.
//
//	session.FromContext(ctx).Set("flash", Flash{Kind: "ok", Text: "Saved"})
//	// on the next page:
//	if f, ok := session.PopAs[Flash](s, "flash"); ok { ... }
//
// It reports false, and deletes nothing, when the key is absent or does
// not decode as T.
func PopAs[T any](s *Session, key string) (T, bool) {
	v, ok := Get[T](s, key)
	if ok {
		s.Delete(key)
	}
	return v, ok
}

// Clear removes every value but keeps the session, its ID and its user.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	d := s.changes()
	d.Clear = true
	clear(d.Set)
	d.Delete = d.Delete[:0]
}
