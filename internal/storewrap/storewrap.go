// Package storewrap builds the store wrappers of package session
// (SealValues) and package otelsession (WrapStore): a wrapper that exposes
// exactly the optional store interfaces its inner store has, so a type
// assertion on the wrapper finds one exactly when it would on the inner
// store, and none is dropped or invented. The combinations are generated
// (gen.go), not written by hand.
//
// The interfaces here have the method sets of those declared in package
// session's store.go (a test there checks that every one it declares is
// listed in [Names] and forwarded); Go's interfaces are structural, so a
// session store implements both.
package storewrap

//go:generate go run gen.go

import (
	"context"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// Store is session.Store.
type Store interface {
	Load(ctx context.Context, key string) (*storekit.Record, error)
	Create(ctx context.Context, key string, r *storekit.Record) error
	Update(ctx context.Context, key string, d *storekit.Delta) error
	Delete(ctx context.Context, key string) error
}

// UserIndex is session.UserIndex.
type UserIndex interface {
	UserSessions(ctx context.Context, userID string) ([]storekit.IndexedRecord, error)
	RevokeUser(ctx context.Context, userID string) error
}

// Fleet is session.Fleet.
type Fleet interface {
	RevokeAll(ctx context.Context, cutoff time.Time) error
	Count(ctx context.Context) (int, error)
}

// Rotator is session.Rotator.
type Rotator interface {
	Rotate(ctx context.Context, rot *storekit.Rotation) (evicted []storekit.IndexedRecord, err error)
	Family(ctx context.Context, family string) (key string, r *storekit.Record, err error)
	EndFamily(ctx context.Context, family string) (*storekit.IndexedRecord, error)
}

// Refresher is session.Refresher.
type Refresher interface {
	Refresh(ctx context.Context, oldKey, newKey string, at time.Time) (*storekit.Meta, error)
}

// EndingCreator is session's endingCreator (a durable Create for the
// writes that end sessions).
type EndingCreator interface {
	CreateEnding(ctx context.Context, key string, r *storekit.Record) error
}

// ExpiryNotifier is session.ExpiryNotifier.
type ExpiryNotifier interface {
	NotifyExpired(fn func(ctx context.Context, r storekit.IndexedRecord))
}

// Names are the optional interfaces a wrapper forwards, in the order of
// the fields of [Parts] and of the bits of the generated combinations.
var Names = []string{"UserIndex", "Fleet", "Rotator", "Refresher", "EndingCreator", "ExpiryNotifier"}

// Parts are a wrapper's implementations. Store is required; each optional
// part is exposed when it is set and Inner implements its interface.
type Parts[S any] struct {
	// Inner is the wrapped store, which Unwrap returns.
	Inner S
	// Store implements the four methods of Store for the wrapper.
	Store         Store
	UserIndex     UserIndex
	Fleet         Fleet
	Rotator       Rotator
	Refresher     Refresher
	EndingCreator EndingCreator
	// ExpiryNotifier, when nil, is Inner's own if it has one: an expiry
	// notification carries metadata only, no values, so a wrapper passes
	// it through unchanged unless it sets its own.
	ExpiryNotifier ExpiryNotifier
}

// mask returns the bit of each optional part that is set and that Inner
// implements.
func (p *Parts[S]) mask() int {
	inner := any(p.Inner)
	m := 0
	if _, ok := inner.(UserIndex); ok && p.UserIndex != nil {
		m |= 1 << 0
	}
	if _, ok := inner.(Fleet); ok && p.Fleet != nil {
		m |= 1 << 1
	}
	if _, ok := inner.(Rotator); ok && p.Rotator != nil {
		m |= 1 << 2
	}
	if _, ok := inner.(Refresher); ok && p.Refresher != nil {
		m |= 1 << 3
	}
	if _, ok := inner.(EndingCreator); ok && p.EndingCreator != nil {
		m |= 1 << 4
	}
	if _, ok := inner.(ExpiryNotifier); ok && p.ExpiryNotifier != nil {
		m |= 1 << 5
	}
	return m
}

// Base carries the wrapper's Store methods and its Unwrap, whose result
// has the caller's store type S (session.Store), as session.New and
// session's createEnding look for.
type Base[S any] struct {
	Store
	inner S
}

// Unwrap returns the inner store.
func (b *Base[S]) Unwrap() S { return b.inner }

// Wrap returns the wrapper made of p, as an S (the caller's store type,
// which every combination implements).
func Wrap[S any](p Parts[S]) S {
	if p.ExpiryNotifier == nil {
		p.ExpiryNotifier, _ = any(p.Inner).(ExpiryNotifier)
	}
	return build(&Base[S]{Store: p.Store, inner: p.Inner}, &p).(S)
}
