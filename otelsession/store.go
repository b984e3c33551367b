package otelsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session"
)

// Store operations (session.store.operation).
const (
	opLoad = iota
	opCreate
	opUpdate
	opDelete
	opRotate
	opRevokeUser
	opUserSessions
	opRevokeAll
	opCount
	opFamily
	opEndFamily
	numOps
)

var opNames = [numOps]string{"load", "create", "update", "delete", "rotate", "revoke_user", "user_sessions", "revoke_all", "count", "family", "end_family"}

// Outcomes of a store call (session.store.outcome).
const (
	outcomeOK       = iota // success
	outcomeNotFound        // an error wrapping session.ErrNotFound (a Tombstone included)
	outcomeRefused         // session.ErrTooManySessions: the per-user cap said no
	outcomeCanceled        // the caller's context was cancelled
	outcomeError           // any other error: a store failure
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "not_found", "refused", "canceled", "error"}

// outcome classifies a store call's error.
func outcome(err error) int {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, session.ErrNotFound):
		return outcomeNotFound
	case errors.Is(err, session.ErrTooManySessions):
		return outcomeRefused
	case errors.Is(err, context.Canceled):
		return outcomeCanceled
	}
	return outcomeError
}

// WrapStore returns st with every call timed into the session.store.duration
// histogram of in. Errors and results pass through unchanged (a
// [session.Tombstone] from Load still matches with errors.As), and the
// returned store implements [session.UserIndex] and [session.Rotator]
// exactly when st does, so the Manager keeps devices, log-out-everywhere,
// atomic renewal and the per-user cap; it implements [session.Fleet]
// always, answering errors.ErrUnsupported when st lacks it (as the Manager
// does). A nil in returns st itself. Its Unwrap method returns st, so a
// [session.MemoryStore] behind it still runs on the Manager's Config.Clock;
// it stays the caller's to Close.
func WrapStore(st session.Store, in *Instruments) session.Store {
	if in == nil || st == nil {
		return st
	}
	base := &store{st: st, in: in}
	ix, isIndex := st.(session.UserIndex)
	rot, isRotator := st.(session.Rotator)
	switch {
	case isIndex && isRotator:
		return &indexRotatorStore{base, &userIndex{ix, in}, &rotator{rot, in}}
	case isIndex:
		return &indexStore{base, &userIndex{ix, in}}
	case isRotator:
		return &rotatorStore{base, &rotator{rot, in}}
	}
	return base
}

// The four shapes of a wrapped store: a type assertion on the result of
// WrapStore finds an optional interface exactly when the inner store has it.
type (
	indexRotatorStore struct {
		*store
		*userIndex
		*rotator
	}
	indexStore struct {
		*store
		*userIndex
	}
	rotatorStore struct {
		*store
		*rotator
	}
)

// record adds one duration measurement.
func (in *Instruments) record(ctx context.Context, op int, start time.Time, err error) {
	in.duration.Record(ctx, time.Since(start).Seconds(), in.storeOpts[op][outcome(err)]...)
}

// store times the four methods of session.Store.
type store struct {
	st session.Store
	in *Instruments
}

func (s *store) Load(ctx context.Context, key string) (*session.Record, error) {
	start := time.Now()
	r, err := s.st.Load(ctx, key)
	s.in.record(ctx, opLoad, start, err)
	return r, err
}

func (s *store) Create(ctx context.Context, key string, r *session.Record) error {
	start := time.Now()
	err := s.st.Create(ctx, key, r)
	s.in.record(ctx, opCreate, start, err)
	return err
}

func (s *store) Update(ctx context.Context, key string, d *session.Delta) error {
	start := time.Now()
	err := s.st.Update(ctx, key, d)
	s.in.record(ctx, opUpdate, start, err)
	return err
}

func (s *store) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.st.Delete(ctx, key)
	s.in.record(ctx, opDelete, start, err)
	return err
}

// Unwrap returns the wrapped store: session.New looks through it for a
// MemoryStore to give the Manager's clock.
func (s *store) Unwrap() session.Store { return s.st }

// RevokeAll times session.Fleet's RevokeAll when the wrapped store has it
// (session.Manager.RevokeAll); otherwise it returns an error wrapping
// errors.ErrUnsupported, as the Manager does for a store without Fleet.
func (s *store) RevokeAll(ctx context.Context, cutoff time.Time) error {
	f, ok := s.st.(session.Fleet)
	if !ok {
		return fmt.Errorf("otelsession: RevokeAll: %w", errors.ErrUnsupported)
	}
	start := time.Now()
	err := f.RevokeAll(ctx, cutoff)
	s.in.record(ctx, opRevokeAll, start, err)
	return err
}

// Count times session.Fleet's Count when the wrapped store has it (see
// RevokeAll).
func (s *store) Count(ctx context.Context) (int, error) {
	f, ok := s.st.(session.Fleet)
	if !ok {
		return 0, fmt.Errorf("otelsession: Count: %w", errors.ErrUnsupported)
	}
	start := time.Now()
	n, err := f.Count(ctx)
	s.in.record(ctx, opCount, start, err)
	return n, err
}

// userIndex times the methods of session.UserIndex.
type userIndex struct {
	ix session.UserIndex
	in *Instruments
}

func (u *userIndex) UserSessions(ctx context.Context, userID string) ([]session.IndexedRecord, error) {
	start := time.Now()
	recs, err := u.ix.UserSessions(ctx, userID)
	u.in.record(ctx, opUserSessions, start, err)
	return recs, err
}

func (u *userIndex) RevokeUser(ctx context.Context, userID string) error {
	start := time.Now()
	err := u.ix.RevokeUser(ctx, userID)
	u.in.record(ctx, opRevokeUser, start, err)
	return err
}

// rotator times session.Rotator.
type rotator struct {
	r  session.Rotator
	in *Instruments
}

func (r *rotator) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	start := time.Now()
	evicted, err := r.r.Rotate(ctx, rot)
	r.in.record(ctx, opRotate, start, err)
	return evicted, err
}

func (r *rotator) Family(ctx context.Context, family string) (string, *session.Record, error) {
	start := time.Now()
	key, rec, err := r.r.Family(ctx, family)
	r.in.record(ctx, opFamily, start, err)
	return key, rec, err
}

func (r *rotator) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	start := time.Now()
	ended, err := r.r.EndFamily(ctx, family)
	r.in.record(ctx, opEndFamily, start, err)
	return ended, err
}
