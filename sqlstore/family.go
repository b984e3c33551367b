package sqlstore

import (
	"context"
	"errors"

	"github.com/sessionkit/session"
)

// Family implements [session.Rotator]. (Stub: not implemented yet.)
func (s *Store) Family(ctx context.Context, family string) (string, *session.Record, error) {
	return "", nil, errors.ErrUnsupported
}

// EndFamily implements [session.Rotator]. (Stub: not implemented yet.)
func (s *Store) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	return nil, errors.ErrUnsupported
}
