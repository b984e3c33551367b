package memcachedstore

import (
	"context"
	"errors"

	"github.com/sessionkit/session"
)

// Family implements [session.Rotator]. (Stub: not implemented yet.)
func (x *Store) Family(ctx context.Context, family string) (string, *session.Record, error) {
	return "", nil, errors.ErrUnsupported
}

// EndFamily implements [session.Rotator]. (Stub: not implemented yet.)
func (x *Store) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	return nil, errors.ErrUnsupported
}

// Family implements [session.Rotator]. (Stub: not implemented yet.)
func (u *UnindexedStore) Family(ctx context.Context, family string) (string, *session.Record, error) {
	return "", nil, errors.ErrUnsupported
}

// EndFamily implements [session.Rotator]. (Stub: not implemented yet.)
func (u *UnindexedStore) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	return nil, errors.ErrUnsupported
}
