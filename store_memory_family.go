package session

import (
	"context"
	"errors"
)

// Family implements Rotator. (Stub: not implemented yet.)
func (s *MemoryStore) Family(ctx context.Context, family string) (string, *Record, error) {
	return "", nil, errors.ErrUnsupported
}

// EndFamily implements Rotator. (Stub: not implemented yet.)
func (s *MemoryStore) EndFamily(ctx context.Context, family string) (*IndexedRecord, error) {
	return nil, errors.ErrUnsupported
}
