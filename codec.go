package session

import (
	"encoding/json"
	"fmt"
)

// Codec encodes one session value for the store and decodes it back into a
// typed destination. Each value is encoded on its own, so a request sends only
// the keys it changed.
//
// The default codec is JSON: values stay readable with redis-cli, need no type
// registration, and decode into the type the reader asks for (session.Get[T],
// GetInt ...), so an int stays an int, a struct a struct and a time.Time keeps
// its instant. Only exported struct fields are kept, as with encoding/json.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, dst any) error
}

// jsonCodec is the default Codec, based on encoding/json.
type jsonCodec struct{}

// Marshal encodes v as JSON.
func (jsonCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into dst.
func (jsonCodec) Unmarshal(data []byte, dst any) error { return json.Unmarshal(data, dst) }

// encode wraps codec failures so callers can tell them apart.
func encode(c Codec, key string, v any) ([]byte, error) {
	b, err := c.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: %w", ErrEncode, key, err)
	}
	return b, nil
}
