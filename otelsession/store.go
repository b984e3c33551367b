package otelsession

import (
	"context"
	"errors"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/storewrap"
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
	opRefresh
	opCreateEnding
	numOps
)

var opNames = [numOps]string{"load", "create", "update", "delete", "rotate", "revoke_user", "user_sessions", "revoke_all", "count", "family", "end_family", "refresh", "create_ending"}

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
// returned store implements exactly the optional interfaces st does
// ([session.UserIndex], [session.Fleet], [session.Rotator],
// [session.Refresher], and the durable path of the Redis store): one helper
// builds it and forwards each, so the Manager keeps devices,
// log-out-everywhere, atomic renewal, the per-user cap and one-round-trip
// header renewal. A nil in returns st itself. Its Unwrap method returns st,
// so a [session.MemoryStore] behind it still runs on the Manager's
// Config.Clock; it stays the caller's to Close.
func WrapStore(st session.Store, in *Instruments) session.Store {
	if in == nil || st == nil {
		return st
	}
	p := storewrap.Parts[session.Store]{Inner: st, Store: &store{st: st, in: in}}
	if ix, ok := st.(session.UserIndex); ok {
		p.UserIndex = &userIndex{ix, in}
	}
	if f, ok := st.(session.Fleet); ok {
		p.Fleet = &fleet{f, in}
	}
	if rot, ok := st.(session.Rotator); ok {
		p.Rotator = &rotator{rot, in}
	}
	if rf, ok := st.(session.Refresher); ok {
		p.Refresher = &refresher{rf, in}
	}
	if ec, ok := st.(storewrap.EndingCreator); ok {
		p.EndingCreator = &endingCreator{ec, in}
	}
	return storewrap.Wrap(p)
}

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

// fleet times the methods of session.Fleet.
type fleet struct {
	f  session.Fleet
	in *Instruments
}

func (f *fleet) RevokeAll(ctx context.Context, cutoff time.Time) error {
	start := time.Now()
	err := f.f.RevokeAll(ctx, cutoff)
	f.in.record(ctx, opRevokeAll, start, err)
	return err
}

func (f *fleet) Count(ctx context.Context) (int, error) {
	start := time.Now()
	n, err := f.f.Count(ctx)
	f.in.record(ctx, opCount, start, err)
	return n, err
}

// refresher times session.Refresher.
type refresher struct {
	rf session.Refresher
	in *Instruments
}

func (r *refresher) Refresh(ctx context.Context, oldKey, newKey string, at time.Time) (*session.Meta, error) {
	start := time.Now()
	meta, err := r.rf.Refresh(ctx, oldKey, newKey, at)
	r.in.record(ctx, opRefresh, start, err)
	return meta, err
}

// endingCreator times the durable Create of the Redis store (the Manager
// reaches it to write a revocation that a failover must not undo).
type endingCreator struct {
	ec storewrap.EndingCreator
	in *Instruments
}

func (e *endingCreator) CreateEnding(ctx context.Context, key string, r *session.Record) error {
	start := time.Now()
	err := e.ec.CreateEnding(ctx, key, r)
	e.in.record(ctx, opCreateEnding, start, err)
	return err
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
